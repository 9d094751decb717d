"""The SQL of money: profiles and customer settings, rates, agreements, budgets, invoices, their
lines, entries, payments and credit notes, and the shapes RPC answers take. The rules are
`billing.invoices` and `billing.invoice_maths`; this module reads and writes rows for them and adds
each change's event to the outbox in the caller's transaction."""
from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Text, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from billing import draft_store
from billing import invoice_maths as im
from billing import invoices as rules
from billing.invoice_models import (billing_profiles, blobs, budgets, credit_notes, customer_billing, fixed_fees,
                                    invoice_counters, invoice_entries, invoice_lines, invoices, payments, rates,
                                    retainer_usage, retainers)
from billing.models import directory_names, directory_tenants, time_entries
from billing.rates import Rate, RateBook
from billing.rounding import RoundingRule
from custops import outbox, pagination
from custops.contracts import billing as contracts
from custops.errors import Conflict, NotFound

PROFILE_DEFAULTS = {"company_name": "", "address": "", "payment_details": "", "logo_sha256": None,
                    "number_prefix": "INV-", "credit_note_prefix": "CN-", "rounding_increment": 1,
                    "rounding_scope": "entry", "line_grouping": "project", "default_currency": "EUR",
                    "payment_terms_days": 30, "revision": 0}
_LINE_COLUMNS = [c.name for c in invoice_lines.columns]


def _text(v):
    return str(v) if v is not None else None


def _iso(v):
    return v.isoformat() if v is not None else None


# --- blobs ---

def put_blob(session: Session, content: bytes, media_type: str) -> str:
    sha = hashlib.sha256(content).hexdigest()
    session.execute(pg_insert(blobs).values(sha256=sha, media_type=media_type, size=len(content), content=content)
                    .on_conflict_do_nothing(index_elements=[blobs.c.sha256]))
    return sha


def get_blob(session: Session, sha: str) -> dict:
    row = session.execute(select(blobs).where(blobs.c.sha256 == sha)).mappings().first()
    if row is None:
        raise NotFound(f"blob {sha} not found")
    return dict(row)


# --- profile and customer settings ---

def profile(session: Session, tenant_id) -> dict:
    row = session.execute(select(billing_profiles).where(billing_profiles.c.tenant_id == tenant_id)).mappings().first()
    return dict(row) if row else {"tenant_id": tenant_id, **PROFILE_DEFAULTS}


def shape_profile(p: dict) -> dict:
    return {k: p[k] for k in PROFILE_DEFAULTS if k != "revision"} | {"revision": p["revision"]}


def set_profile(session: Session, tenant_id, given: dict, now: datetime) -> dict:
    before = profile(session, tenant_id)
    diff = {k: (before[k], v) for k, v in given.items() if before[k] != v}
    if not diff:
        return before
    after = {**before, **given, "revision": before["revision"] + 1, "updated_at": now}
    values = {k: after[k] for k in PROFILE_DEFAULTS} | {"updated_at": now}
    session.execute(pg_insert(billing_profiles).values(tenant_id=tenant_id, **values)
                    .on_conflict_do_update(index_elements=[billing_profiles.c.tenant_id], set_=values))
    outbox.add(session, tenant_id, contracts.BillingProfileUpdated(
        changes={k: contracts.FieldChange(old=o, new=n) for k, (o, n) in diff.items()}))
    return after


def customer_settings(session: Session, tenant_id, customer_id, prof: dict | None = None) -> dict:
    row = session.execute(select(customer_billing).where(
        customer_billing.c.tenant_id == tenant_id, customer_billing.c.customer_id == customer_id)).mappings().first()
    if row:
        return dict(row)
    prof = prof or profile(session, tenant_id)
    return {"tenant_id": tenant_id, "customer_id": customer_id, "currency": prof["default_currency"], "tax_name": "",
            "tax_rate_ppm": 0, "reverse_charge": False, "payment_terms_days": None, "billing_address": "",
            "tax_id": "", "revision": 0}


_CUSTOMER_FIELDS = ("currency", "tax_name", "tax_rate_ppm", "reverse_charge", "payment_terms_days",
                    "billing_address", "tax_id")


def shape_customer_settings(s: dict) -> dict:
    return {"customer_id": str(s["customer_id"]), **{k: s[k] for k in _CUSTOMER_FIELDS}, "revision": s["revision"]}


def set_customer_settings(session: Session, tenant_id, customer_id, given: dict, now: datetime) -> dict:
    before = customer_settings(session, tenant_id, customer_id)
    diff = {k: (before[k], v) for k, v in given.items() if before[k] != v}
    if not diff:
        return before
    after = {**before, **given, "revision": before["revision"] + 1, "updated_at": now}
    values = {k: after[k] for k in _CUSTOMER_FIELDS} | {"revision": after["revision"], "updated_at": now}
    session.execute(pg_insert(customer_billing).values(tenant_id=tenant_id, customer_id=customer_id, **values)
                    .on_conflict_do_update(index_elements=[customer_billing.c.tenant_id,
                                                           customer_billing.c.customer_id], set_=values))
    outbox.add(session, tenant_id, contracts.CustomerBillingUpdated(
        customer_id=customer_id, currency=after["currency"], tax_name=after["tax_name"],
        tax_rate_ppm=after["tax_rate_ppm"], reverse_charge=after["reverse_charge"],
        changes={k: contracts.FieldChange(old=o, new=n) for k, (o, n) in diff.items()}))
    return after


# --- rates, agreements, budgets ---

_RATE_DIMS = ("category", "project_id", "customer_id", "member_id")


def shape_rate(r: dict) -> dict:
    return {"id": str(r["id"]), "hourly_amount": r["hourly_amount"], "currency": r["currency"],
            "effective_from": r["effective_from"].isoformat(), "category": r["category"],
            **{d: _text(r[d]) for d in _RATE_DIMS[1:]}, "created_at": _iso(r["created_at"])}


def add_rate(session: Session, tenant_id, fields: dict, now: datetime) -> dict:
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "created_at": now, **fields}
    session.execute(insert(rates).values(**row))
    outbox.add(session, tenant_id, contracts.RateCreated(rate_id=row["id"], **fields))
    return row


def list_rates(session: Session, tenant_id, currency: str | None = None) -> list[dict]:
    stmt = select(rates).where(rates.c.tenant_id == tenant_id)
    if currency:
        stmt = stmt.where(rates.c.currency == currency)
    return [dict(r) for r in session.execute(stmt.order_by(rates.c.effective_from, rates.c.created_at)).mappings()]


def rate_book(session: Session, tenant_id, currency: str) -> RateBook:
    return RateBook([Rate(id=r["id"], hourly_amount=r["hourly_amount"], currency=r["currency"],
                          effective_from=r["effective_from"], **{d: r[d] for d in _RATE_DIMS})
                     for r in list_rates(session, tenant_id, currency)], currency)


def add_fixed_fee(session: Session, tenant_id, fields: dict, now: datetime) -> dict:
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "created_at": now, "invoice_id": None, **fields}
    session.execute(insert(fixed_fees).values(**row))
    outbox.add(session, tenant_id, contracts.FixedFeeCreated(fixed_fee_id=row["id"], **fields))
    return row


def shape_fixed_fee(r: dict) -> dict:
    return {"id": str(r["id"]), "customer_id": str(r["customer_id"]), "project_id": str(r["project_id"]),
            "amount": r["amount"], "currency": r["currency"], "bill_on": r["bill_on"].isoformat(),
            "description": r["description"], "invoice_id": _text(r["invoice_id"])}


def add_retainer(session: Session, tenant_id, fields: dict, now: datetime) -> dict:
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "created_at": now, **fields}
    session.execute(insert(retainers).values(**row))
    outbox.add(session, tenant_id, contracts.RetainerCreated(
        retainer_id=row["id"], **{k: v for k, v in fields.items() if k != "description"}))
    return row


def shape_retainer(r: dict) -> dict:
    return {"id": str(r["id"]), "customer_id": str(r["customer_id"]), "project_id": _text(r["project_id"]),
            "currency": r["currency"], "monthly_fee": r["monthly_fee"], "included_minutes": r["included_minutes"],
            "overage_hourly": r["overage_hourly"], "starts_on": r["starts_on"].isoformat(),
            "ends_on": _iso(r["ends_on"]), "description": r["description"]}


def agreements(session: Session, tenant_id, customer_id) -> dict:
    fees = [dict(r) for r in session.execute(select(fixed_fees).where(
        fixed_fees.c.tenant_id == tenant_id, fixed_fees.c.customer_id == customer_id)).mappings()]
    rets = [dict(r) for r in session.execute(select(retainers).where(
        retainers.c.tenant_id == tenant_id, retainers.c.customer_id == customer_id)).mappings()]
    return {"fixed_fees": fees, "retainers": rets}


def set_budget(session: Session, tenant_id, project_id, fields: dict, now: datetime) -> dict:
    values = {**fields, "updated_at": now}
    # a new amount restarts the thresholds: each is told once per budget, not once per project
    session.execute(pg_insert(budgets).values(tenant_id=tenant_id, project_id=project_id, thresholds_raised=[],
                                              **values)
                    .on_conflict_do_update(index_elements=[budgets.c.tenant_id, budgets.c.project_id],
                                           set_={**values, "thresholds_raised": []}))
    outbox.add(session, tenant_id, contracts.ProjectBudgetSet(project_id=project_id, **fields))
    return budget_status(session, tenant_id, project_id)


def _budget_row(session: Session, tenant_id, project_id, for_update=False) -> dict:
    stmt = select(budgets).where(budgets.c.tenant_id == tenant_id, budgets.c.project_id == project_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise NotFound(f"project {project_id} has no budget")
    return dict(row)


def budget_used(session: Session, tenant_id, budget: dict) -> int:
    """Hours budgets count every tracked minute on the project (billable or not); money budgets the
    billable minutes valued at the rates in effect on their days (billing.rates)."""
    base = select(time_entries.c.id, time_entries.c.member_id, time_entries.c.customer_id, time_entries.c.project_id,
                  time_entries.c.category, time_entries.c.work_date, time_entries.c.minutes).where(
        time_entries.c.tenant_id == tenant_id, time_entries.c.project_id == budget["project_id"])
    if budget["kind"] == "hours":
        return int(session.execute(select(func.coalesce(func.sum(time_entries.c.minutes), 0)).where(
            time_entries.c.tenant_id == tenant_id, time_entries.c.project_id == budget["project_id"])).scalar_one())
    book = rate_book(session, tenant_id, budget["currency"])
    total = 0
    for e in session.execute(base.where(time_entries.c.billable)).mappings():
        rate = book.rate_for(e)
        total += im.time_amount(e["minutes"], rate.hourly_amount) if rate else 0
    return total


def budget_status(session: Session, tenant_id, project_id) -> dict:
    b = _budget_row(session, tenant_id, project_id)
    status = im.budget_status(im.Budget(b["kind"], b["amount"]), budget_used(session, tenant_id, b))
    return {"project_id": str(project_id), "customer_id": _text(b["customer_id"]), "currency": b["currency"],
            "thresholds_raised": list(b["thresholds_raised"]), **status}


def check_budget(session: Session, tenant_id, project_id) -> list[int]:
    """Tell each threshold the project's budget reached and never told (row-locked: told once)."""
    try:
        b = _budget_row(session, tenant_id, project_id, for_update=True)
    except NotFound:
        return []
    used = budget_used(session, tenant_id, b)
    budget = im.Budget(b["kind"], b["amount"])
    new = im.thresholds_to_raise(budget, used, list(b["thresholds_raised"]))
    for threshold in new:
        outbox.add(session, tenant_id, contracts.ProjectBudgetThreshold(
            project_id=project_id, customer_id=b["customer_id"], kind=b["kind"], amount=b["amount"], used=used,
            threshold=threshold, currency=b["currency"]))
    if new:
        session.execute(update(budgets).where(budgets.c.tenant_id == tenant_id, budgets.c.project_id == project_id)
                        .values(thresholds_raised=sorted(set(b["thresholds_raised"]) | set(new))))
    return new


# --- invoices: reading ---

def load_invoice(session: Session, tenant_id, invoice_id, for_update=False) -> dict:
    stmt = select(invoices).where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return dict(row)


def load_lines(session: Session, invoice_id) -> list[dict]:
    return [dict(r) for r in session.execute(select(invoice_lines).where(invoice_lines.c.invoice_id == invoice_id)
                                             .order_by(invoice_lines.c.position)).mappings()]


def load_payments(session: Session, invoice_id) -> list[dict]:
    return [dict(r) for r in session.execute(select(payments).where(payments.c.invoice_id == invoice_id)
                                             .order_by(payments.c.paid_on, payments.c.created_at)).mappings()]


def load_credit_notes(session: Session, invoice_id) -> list[dict]:
    return [dict(r) for r in session.execute(select(credit_notes).where(credit_notes.c.invoice_id == invoice_id)
                                             .order_by(credit_notes.c.number)).mappings()]


def shape_line(ln: dict) -> dict:
    return {"id": str(ln["id"]), "position": ln["position"], "kind": ln["kind"], "description": ln["description"],
            "quantity": ln["quantity"], "quantity_minutes": ln["quantity_minutes"], "raw_minutes": ln["raw_minutes"],
            "unit_price": ln["unit_price"], "amount": ln["amount"], "tax": ln["tax"], "taxable": ln["taxable"],
            "discount_bp": ln["discount_bp"], "time_kind": ln["time_kind"], "project_id": _text(ln["project_id"]),
            "category": ln["category"], "member_id": _text(ln["member_id"]), "task_id": _text(ln["task_id"]),
            "rate_id": _text(ln["rate_id"]), "project_name": ln["project_name"], "task_name": ln["task_name"],
            "member_name": ln["member_name"]}


def shape(inv: dict, lines: list[dict] | None = None, pays: list[dict] | None = None,
          credits: list[dict] | None = None) -> dict:
    out = {"id": str(inv["id"]), "customer_id": str(inv["customer_id"]), "customer_name": inv["customer_name"],
           "status": inv["status"], "number": inv["number"], "number_text": inv["number_text"],
           "currency": inv["currency"], "period_from": inv["period_from"].isoformat(),
           "period_to": inv["period_to"].isoformat(), "issue_date": _iso(inv["issue_date"]),
           "due_date": _iso(inv["due_date"]), "payment_terms_days": inv["payment_terms_days"],
           "tax_name": inv["tax_name"], "tax_rate_ppm": inv["tax_rate_ppm"], "reverse_charge": inv["reverse_charge"],
           "line_grouping": inv["line_grouping"], "rounding_increment": inv["rounding_increment"],
           "rounding_scope": inv["rounding_scope"], "subtotal": inv["subtotal"], "tax_total": inv["tax_total"],
           "total": inv["total"], "amount_paid": inv["amount_paid"], "amount_credited": inv["amount_credited"],
           "balance_due": rules.balance_due(inv), "notes": inv["notes"], "billing_address": inv["billing_address"],
           "pdf_sha256": inv["pdf_sha256"], "revision": inv["revision"], "created_at": _iso(inv["created_at"]),
           "issued_at": _iso(inv["issued_at"]), "paid_at": _iso(inv["paid_at"]), "voided_at": _iso(inv["voided_at"]),
           "void_reason": inv["void_reason"]}
    if lines is not None:
        out["lines"] = [shape_line(ln) for ln in lines]
    if pays is not None:
        out["payments"] = [{"id": str(p["id"]), "amount": p["amount"], "paid_on": p["paid_on"].isoformat(),
                            "method": p["method"], "reference": p["reference"]} for p in pays]
    if credits is not None:
        out["credit_notes"] = [{"id": str(c["id"]), "number_text": c["number_text"], "amount": c["amount"],
                                "reason": c["reason"], "issue_date": c["issue_date"].isoformat()} for c in credits]
    return out


def page(session: Session, tenant_id, f, limit: int, cursor: str | None) -> dict:
    stmt = _invoice_filter(select(invoices), tenant_id, f)
    stmt = pagination.page(stmt, invoices.c.created_at, invoices.c.id, cursor, limit)
    rows = session.execute(stmt).mappings().all()
    return pagination.result(rows, limit, "created_at", lambda r: shape(dict(r)))


def facts(inv: dict) -> dict:
    """The fields every invoice.* event carries (contracts.InvoiceFacts)."""
    return {"invoice_id": inv["id"], "customer_id": inv["customer_id"], "status": inv["status"],
            "currency": inv["currency"], "period_from": inv["period_from"], "period_to": inv["period_to"],
            "subtotal": inv["subtotal"], "tax_total": inv["tax_total"], "total": inv["total"],
            "amount_paid": inv["amount_paid"], "amount_credited": inv["amount_credited"],
            "balance_due": rules.balance_due(inv), "number": inv["number"], "number_text": inv["number_text"],
            "issue_date": inv["issue_date"], "due_date": inv["due_date"]}


# --- drafting ---

_ENTRY_COLUMNS = (time_entries.c.id, time_entries.c.member_id, time_entries.c.customer_id, time_entries.c.project_id,
                  time_entries.c.task_id, time_entries.c.category, time_entries.c.work_date, time_entries.c.minutes)


def _retainer_state(session: Session, retainer_ids) -> tuple[dict, set]:
    if not retainer_ids:
        return {}, set()
    live = select(retainer_usage).join(invoices, invoices.c.id == retainer_usage.c.invoice_id).where(
        retainer_usage.c.retainer_id.in_(retainer_ids), invoices.c.status != "void")
    used, billed = {}, set()
    for r in session.execute(live).mappings():
        key = (r["retainer_id"], r["month"])
        used[key] = used.get(key, 0) + r["minutes"]
        if r["fee_billed"]:
            billed.add(key)
    return used, billed


def draft_input(session: Session, tenant_id, customer_id, period_from, period_to, prof, settings,
                names: dict, entries: list[dict] | None = None) -> im.DraftInput:
    """What a draft is made of but the entries themselves (`entries`: for the entry-by-entry
    reference, `invoice_maths.draft_lines`; a real draft stages them in SQL)."""
    agreed = agreements(session, tenant_id, customer_id)
    currency = settings["currency"]
    rets = [im.Retainer(r["id"], r["monthly_fee"], r["included_minutes"], r["starts_on"], r["ends_on"],
                        r["project_id"], r["overage_hourly"], r["description"])
            for r in sorted(agreed["retainers"], key=lambda r: (r["starts_on"], str(r["id"])))
            if r["currency"] == currency]
    used, billed = _retainer_state(session, [r.id for r in rets])
    fees = [f for f in agreed["fixed_fees"] if f["currency"] == currency]
    return im.DraftInput(
        currency=currency, period_from=period_from, period_to=period_to, entries=entries or [],
        rates=rate_book(session, tenant_id, currency),
        rounding=RoundingRule(prof["rounding_increment"], prof["rounding_scope"]),
        grouping=prof["line_grouping"], retainers=rets, retainer_used=used, retainer_billed=billed,
        fixed_fees=[im.FixedFee(f["id"], f["project_id"], f["amount"], f["bill_on"], f["description"])
                    for f in fees if f["invoice_id"] is None],
        fixed_fee_projects=frozenset(f["project_id"] for f in fees), names=names)


def create_draft(session: Session, tenant_id, customer_id, customer_name: str, period_from, period_to,
                 names: dict, now: datetime) -> dict:
    """The customer's draft for the period: its fees, then its time (`billing.draft_store`:
    rounded, summed and linked in SQL), priced and taxed per line, in one transaction. `names`:
    id -> the project's, task's or member's name, frozen on the lines."""
    prof = profile(session, tenant_id)
    settings = customer_settings(session, tenant_id, customer_id, prof)
    existing = session.execute(select(invoices.c.id).where(
        invoices.c.tenant_id == tenant_id, invoices.c.customer_id == customer_id, invoices.c.status == "draft")
    ).scalar()
    if existing is not None:
        raise Conflict(f"customer {customer_id} already has a draft invoice ({existing}): issue or discard it first")
    d = draft_input(session, tenant_id, customer_id, period_from, period_to, prof, settings, names)
    fee_lines = im.agreement_lines(d)
    timed, priced_cells, counted = draft_store.draft_time(session, d, tenant_id, customer_id)
    lines = fee_lines + [line for _gk, line in timed]
    tax = im.Tax(settings["tax_name"], settings["tax_rate_ppm"], settings["reverse_charge"])
    priced = im.price_lines(lines, tax)
    t = im.totals(priced)
    inv = {"id": uuid.uuid4(), "tenant_id": tenant_id, "customer_id": customer_id, "customer_name": customer_name,
           "status": "draft", "number": None, "number_text": None, "currency": settings["currency"],
           "period_from": period_from, "period_to": period_to, "issue_date": None, "due_date": None,
           "payment_terms_days": settings["payment_terms_days"] or prof["payment_terms_days"],
           "tax_name": tax.name, "tax_rate_ppm": tax.rate_ppm, "reverse_charge": tax.reverse_charge,
           "line_grouping": prof["line_grouping"], "rounding_increment": prof["rounding_increment"],
           "rounding_scope": prof["rounding_scope"], "subtotal": t["subtotal"], "tax_total": t["tax_total"],
           "total": t["total"], "amount_paid": 0, "amount_credited": 0, "notes": "",
           "billing_address": settings["billing_address"], "pdf_sha256": None, "revision": 1, "created_at": now,
           "updated_at": None, "issued_at": None, "paid_at": None, "voided_at": None, "void_reason": None,
           "overdue_told_at": None}
    session.execute(insert(invoices).values(**inv))
    line_rows = []
    for position, p in enumerate(priced):
        line_rows.append({c: p.get(c) for c in _LINE_COLUMNS} | {
            "id": uuid.uuid4(), "tenant_id": tenant_id, "invoice_id": inv["id"], "position": position})
    if line_rows:
        session.execute(insert(invoice_lines), line_rows)
    line_ids = {gk: line_rows[len(fee_lines) + i]["id"] for i, (gk, _line) in enumerate(timed)}
    draft_store.link(session, tenant_id, inv["id"], priced_cells, line_ids)
    billed_months = {(ln["retainer_id"], ln["retainer_month"]) for ln in lines if ln["kind"] == "retainer"}
    usage_rows = priced_cells.usage
    for key in billed_months | set(usage_rows):
        session.execute(insert(retainer_usage).values(tenant_id=tenant_id, invoice_id=inv["id"], retainer_id=key[0],
                                                      month=key[1], minutes=usage_rows.get(key, 0),
                                                      fee_billed=key in billed_months))
    fee_ids = [ln["fixed_fee_id"] for ln in lines if ln["kind"] == "fixed_fee"]
    if fee_ids:
        session.execute(update(fixed_fees).where(fixed_fees.c.id.in_(fee_ids)).values(invoice_id=inv["id"]))
    outbox.add(session, tenant_id, contracts.InvoiceCreated(
        **facts(inv), line_count=len(line_rows), entry_count=counted["entries"], tracked_minutes=counted["raw"],
        billed_minutes=counted["rounded"]))
    return {**inv, "_lines": [dict(r) for r in line_rows], "_entry_count": counted["entries"]}


def _tax_of(inv: dict) -> im.Tax:
    return im.Tax(inv["tax_name"], inv["tax_rate_ppm"], inv["reverse_charge"])


def reprice(session: Session, inv: dict, now: datetime) -> tuple[dict, list[dict]]:
    """Recompute every line's amount and tax and the invoice's totals after an edit of a draft."""
    lines = load_lines(session, inv["id"])
    priced = im.price_lines(lines, _tax_of(inv))
    for before, after in zip(lines, priced):
        if (before["amount"], before["tax"]) != (after["amount"], after["tax"]):
            session.execute(update(invoice_lines).where(invoice_lines.c.id == after["id"])
                            .values(amount=after["amount"], tax=after["tax"]))
    t = im.totals(priced)
    values = {"subtotal": t["subtotal"], "tax_total": t["tax_total"], "total": t["total"],
              "revision": inv["revision"] + 1, "updated_at": now}
    session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(**values))
    return {**inv, **values}, priced


def tell_updated(session: Session, inv: dict, change: str, line_id=None, line_count: int = 0) -> None:
    outbox.add(session, inv["tenant_id"], contracts.InvoiceUpdated(
        **facts(inv), change=change, line_id=line_id, line_count=line_count))


def add_line(session: Session, inv: dict, fields: dict, now: datetime) -> tuple[dict, list[dict]]:
    position = session.execute(select(func.coalesce(func.max(invoice_lines.c.position), -1) + 1)
                               .where(invoice_lines.c.invoice_id == inv["id"])).scalar_one()
    row = {c: None for c in _LINE_COLUMNS} | {"amount": 0, "tax": 0, "taxable": True, "unit_price": 0,
                                              **fields, "id": uuid.uuid4(), "tenant_id": inv["tenant_id"],
                                              "invoice_id": inv["id"], "position": position}
    session.execute(insert(invoice_lines).values(**row))
    inv, priced = reprice(session, inv, now)
    tell_updated(session, inv, "line_added", row["id"], len(priced))
    return inv, priced


def load_line(session: Session, inv: dict, line_id) -> dict:
    row = session.execute(select(invoice_lines).where(invoice_lines.c.invoice_id == inv["id"],
                                                      invoice_lines.c.id == line_id)).mappings().first()
    if row is None:
        raise NotFound(f"line {line_id} not found on invoice {inv['id']}")
    return dict(row)


def update_line(session: Session, inv: dict, line: dict, given: dict, now: datetime) -> tuple[dict, list[dict]]:
    session.execute(update(invoice_lines).where(invoice_lines.c.id == line["id"]).values(**given))
    inv, priced = reprice(session, inv, now)
    tell_updated(session, inv, "line_updated", line["id"], len(priced))
    return inv, priced


def remove_line(session: Session, inv: dict, line: dict, now: datetime) -> tuple[dict, list[dict]]:
    """A removed time line gives its entries back; a removed fee line its fee."""
    session.execute(update(invoice_entries).where(invoice_entries.c.line_id == line["id"],
                                                  invoice_entries.c.released_at.is_(None)).values(released_at=now))
    if line["fixed_fee_id"] is not None:
        session.execute(update(fixed_fees).where(fixed_fees.c.id == line["fixed_fee_id"]).values(invoice_id=None))
    if line["retainer_id"] is not None:
        session.execute(update(retainer_usage).where(
            retainer_usage.c.invoice_id == inv["id"], retainer_usage.c.retainer_id == line["retainer_id"],
            retainer_usage.c.month == line["retainer_month"]).values(fee_billed=False))
    session.execute(invoice_lines.delete().where(invoice_lines.c.id == line["id"]))
    inv, priced = reprice(session, inv, now)
    tell_updated(session, inv, "line_removed", line["id"], len(priced))
    return inv, priced


def set_notes(session: Session, inv: dict, notes: str, now: datetime) -> dict:
    values = {"notes": notes, "revision": inv["revision"] + 1, "updated_at": now}
    session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(**values))
    inv = {**inv, **values}
    tell_updated(session, inv, "notes_changed", None, len(load_lines(session, inv["id"])))
    return inv


def _release(session: Session, inv: dict, now: datetime) -> int:
    """Give back everything the invoice holds: entries (unlocked), fees, retainer usage."""
    released = session.execute(update(invoice_entries).where(
        invoice_entries.c.invoice_id == inv["id"], invoice_entries.c.released_at.is_(None))
        .values(released_at=now).returning(invoice_entries.c.entry_id)).scalars().all()
    session.execute(update(time_entries).where(time_entries.c.tenant_id == inv["tenant_id"],
                                               time_entries.c.invoice_id == inv["id"])
                    .values(invoice_id=None, invoiced_at=None))
    session.execute(update(fixed_fees).where(fixed_fees.c.invoice_id == inv["id"]).values(invoice_id=None))
    session.execute(retainer_usage.delete().where(retainer_usage.c.invoice_id == inv["id"]))
    return len(set(released))


def discard(session: Session, inv: dict, now: datetime) -> dict:
    _release(session, inv, now)
    session.execute(invoice_lines.delete().where(invoice_lines.c.invoice_id == inv["id"]))
    session.execute(invoice_entries.delete().where(invoice_entries.c.invoice_id == inv["id"]))
    session.execute(invoices.delete().where(invoices.c.id == inv["id"]))
    outbox.add(session, inv["tenant_id"], contracts.InvoiceDiscarded(**facts(inv)))
    return inv


# --- issuing and after ---

def next_number(session: Session, tenant_id, series: str) -> int:
    """The tenant's next number of `series`, in the caller's transaction (the counter row stays
    locked until it commits: no gaps, no duplicates)."""
    return session.execute(
        pg_insert(invoice_counters).values(tenant_id=tenant_id, series=series, last_number=1)
        .on_conflict_do_update(index_elements=[invoice_counters.c.tenant_id, invoice_counters.c.series],
                               set_={"last_number": invoice_counters.c.last_number + 1})
        .returning(invoice_counters.c.last_number)).scalar_one()


def lock_entries(session: Session, inv: dict, now: datetime) -> tuple[int, int]:
    """Stamp the invoice on its entries; refuse (409) when any is no longer invoiceable (its week
    was reopened, it was changed or made internal since the draft). One set-based UPDATE ... FROM
    that stamps only the entries still as drafted: fewer stamped than linked is the refusal (the
    caller's transaction rolls the stamps back). Its cost is the new row versions and their index
    entries (the bench prints it beside a bare UPDATE of the same rows)."""
    links = select(invoice_entries.c.entry_id, func.sum(invoice_entries.c.raw_minutes).label("raw"),
                   func.sum(invoice_entries.c.rounded_minutes).label("rounded")).where(
        invoice_entries.c.invoice_id == inv["id"], invoice_entries.c.released_at.is_(None)
    ).group_by(invoice_entries.c.entry_id).subquery()
    linked, minutes = session.execute(select(func.count(), func.coalesce(func.sum(links.c.rounded), 0))
                                      .select_from(links)).one()
    stamped = session.execute(update(time_entries).where(
        time_entries.c.tenant_id == inv["tenant_id"], time_entries.c.id == links.c.entry_id, time_entries.c.billable,
        time_entries.c.approved_at.is_not(None), time_entries.c.invoice_id.is_(None),
        time_entries.c.minutes == links.c.raw).values(invoice_id=inv["id"], invoiced_at=now)).rowcount
    if stamped != linked:
        raise Conflict(f"{linked - stamped} entries of invoice {inv['id']} changed since it was drafted (a week "
                       "reopened, an entry corrected or made internal): discard the draft and draft it again")
    return stamped, int(minutes)


def issue(session: Session, inv: dict, issue_date: date, now: datetime, render_pdf) -> dict:
    lines = load_lines(session, inv["id"])
    rules.check_issuable(inv, lines)
    prof = profile(session, inv["tenant_id"])
    entry_count, minutes = lock_entries(session, inv, now)
    number = next_number(session, inv["tenant_id"], "invoice")
    values = {"status": "issued", "number": number, "number_text": rules.number_text(prof["number_prefix"], number),
              "issue_date": issue_date, "due_date": rules.due_date(issue_date, inv["payment_terms_days"]),
              "issued_at": now, "updated_at": now, "revision": inv["revision"] + 1}
    inv = {**inv, **values}
    logo = get_blob(session, prof["logo_sha256"])["content"] if prof["logo_sha256"] else None
    inv["pdf_sha256"] = values["pdf_sha256"] = put_blob(session, render_pdf(inv, lines, prof, logo), "application/pdf")
    session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(**values))
    outbox.add(session, inv["tenant_id"], contracts.InvoiceIssued(
        **facts(inv), entry_count=entry_count, billed_minutes=minutes, pdf_sha256=inv["pdf_sha256"]))
    return inv


def _settle(session: Session, inv: dict, status: str, now: datetime) -> dict:
    if status == "paid" and inv["status"] != "paid":
        inv = {**inv, "status": "paid", "paid_at": now}
        session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(status="paid", paid_at=now))
        outbox.add(session, inv["tenant_id"], contracts.InvoicePaid(**facts(inv), paid_at=now))
    return inv


def record_payment(session: Session, inv: dict, fields: dict, now: datetime) -> dict:
    status = rules.check_payment(inv, fields["amount"])
    row = {"id": uuid.uuid4(), "tenant_id": inv["tenant_id"], "invoice_id": inv["id"], "created_at": now, **fields}
    session.execute(insert(payments).values(**row))
    values = {"amount_paid": inv["amount_paid"] + fields["amount"], "revision": inv["revision"] + 1, "updated_at": now}
    session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(**values))
    inv = {**inv, **values}
    outbox.add(session, inv["tenant_id"], contracts.InvoicePaymentRecorded(
        **facts(inv), payment_id=row["id"], **fields))
    return _settle(session, inv, status, now)


def void(session: Session, inv: dict, reason: str, now: datetime) -> dict:
    rules.check_void(inv)
    released = _release(session, inv, now)
    values = {"status": "void", "voided_at": now, "void_reason": reason, "revision": inv["revision"] + 1,
              "updated_at": now}
    session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(**values))
    inv = {**inv, **values}
    outbox.add(session, inv["tenant_id"], contracts.InvoiceVoided(**facts(inv), reason=reason,
                                                                  released_entry_count=released))
    return inv


def credit(session: Session, inv: dict, amount: int, reason: str, issue_date: date, now: datetime) -> dict:
    status = rules.check_credit(inv, amount)
    prof = profile(session, inv["tenant_id"])
    number = next_number(session, inv["tenant_id"], "credit_note")
    row = {"id": uuid.uuid4(), "tenant_id": inv["tenant_id"], "invoice_id": inv["id"], "number": number,
           "number_text": rules.number_text(prof["credit_note_prefix"], number), "amount": amount, "reason": reason,
           "issue_date": issue_date, "created_at": now}
    session.execute(insert(credit_notes).values(**row))
    values = {"amount_credited": inv["amount_credited"] + amount, "revision": inv["revision"] + 1, "updated_at": now}
    session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(**values))
    inv = {**inv, **values}
    outbox.add(session, inv["tenant_id"], contracts.InvoiceCreditNoteIssued(
        **facts(inv), credit_note_id=row["id"], credit_note_number=row["number_text"], amount=amount, reason=reason))
    return _settle(session, inv, status, now)


def tell_overdue(session: Session, now: datetime, today: date | None = None, limit: int = 500) -> int:
    """Tell `invoice.overdue` once for each issued invoice past its due date with a balance (any
    tenant: the clock's sweep), each tenant's day taken in its timezone (`rules.tenant_today`);
    `today` given (a backfill) is the day for every tenant. Rows locked SKIP LOCKED, so several
    instances share the sweep."""
    # no zone is more than a day ahead of UTC: invoices due before UTC's tomorrow are the candidates
    before = today if today is not None else now.astimezone(timezone.utc).date() + timedelta(days=1)
    rows = session.execute(select(invoices, directory_tenants.c.timezone.label("tenant_timezone")).outerjoin(
        directory_tenants, directory_tenants.c.tenant_id == invoices.c.tenant_id).where(
        invoices.c.status == "issued", invoices.c.due_date < before, invoices.c.overdue_told_at.is_(None))
        .order_by(invoices.c.due_date).limit(limit).with_for_update(of=invoices, skip_locked=True)).mappings().all()
    told = 0
    for row in rows:
        inv = dict(row)
        tenant_timezone = inv.pop("tenant_timezone")
        day = today if today is not None else rules.tenant_today(now, tenant_timezone)
        if not rules.is_overdue(inv, day):
            continue
        session.execute(update(invoices).where(invoices.c.id == inv["id"]).values(overdue_told_at=now))
        outbox.add(session, inv["tenant_id"], contracts.InvoiceOverdue(
            **facts(inv), days_overdue=(day - inv["due_date"]).days))
        told += 1
    return told


def entries_of(session: Session, tenant_id, invoice_id) -> list[dict]:
    """The entries on an invoice with raw and rounded minutes (one row per entry and line)."""
    stmt = select(invoice_entries.c.entry_id, invoice_entries.c.line_id, invoice_entries.c.raw_minutes,
                  invoice_entries.c.rounded_minutes, *[c for c in _ENTRY_COLUMNS if c.name != "id"]).join(
        time_entries, time_entries.c.id == invoice_entries.c.entry_id).where(
        invoice_entries.c.tenant_id == tenant_id, invoice_entries.c.invoice_id == invoice_id,
        invoice_entries.c.released_at.is_(None)).order_by(time_entries.c.work_date, invoice_entries.c.entry_id)
    return [dict(r) for r in session.execute(stmt).mappings()]


def _invoice_filter(stmt, tenant_id, f):
    stmt = stmt.where(invoices.c.tenant_id == tenant_id)
    if f.customer_id:
        stmt = stmt.where(invoices.c.customer_id == f.customer_id)
    if f.customer_ids is not None:
        stmt = stmt.where(invoices.c.customer_id.in_(f.customer_ids))
    if f.status:
        stmt = stmt.where(invoices.c.status == f.status)
    if f.date_from:
        stmt = stmt.where(invoices.c.issue_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(invoices.c.issue_date <= f.date_to)
    return stmt


def for_export(session: Session, tenant_id, f, limit: int) -> list[dict]:
    """Invoices of the filter, numbered ones in number order (drafts last), at most `limit`."""
    stmt = _invoice_filter(select(invoices), tenant_id, f).order_by(invoices.c.number.nulls_last(),
                                                                    invoices.c.created_at).limit(limit)
    return [dict(r) for r in session.execute(stmt).mappings()]


def entries_for_export(session: Session, tenant_id, f) -> list[dict]:
    live = select(invoice_entries.c.entry_id, func.sum(invoice_entries.c.raw_minutes).label("raw_minutes"),
                  func.sum(invoice_entries.c.rounded_minutes).label("rounded_minutes"),
                  func.min(invoice_entries.c.invoice_id.cast(Text)).label("on_invoice")).where(
        invoice_entries.c.tenant_id == tenant_id, invoice_entries.c.released_at.is_(None)
    ).group_by(invoice_entries.c.entry_id).subquery()
    project_names, task_names = directory_names.alias("project_names"), directory_names.alias("task_names")
    stmt = select(time_entries, live.c.raw_minutes, live.c.rounded_minutes, invoices.c.number_text.label(
        "invoice_number"), project_names.c.name.label("project_name"), task_names.c.name.label("task_name")).outerjoin(
        live, live.c.entry_id == time_entries.c.id).outerjoin(
        invoices, invoices.c.id == time_entries.c.invoice_id).outerjoin(project_names, and_(
            project_names.c.tenant_id == time_entries.c.tenant_id, project_names.c.kind == "project",
            project_names.c.object_id == time_entries.c.project_id)).outerjoin(task_names, and_(
                task_names.c.tenant_id == time_entries.c.tenant_id, task_names.c.kind == "task",
                task_names.c.object_id == time_entries.c.task_id)).where(time_entries.c.tenant_id == tenant_id)
    if f.customer_id:
        stmt = stmt.where(time_entries.c.customer_id == f.customer_id)
    if f.customer_ids is not None:
        stmt = stmt.where(time_entries.c.customer_id.in_(f.customer_ids))
    if f.member_id:
        stmt = stmt.where(time_entries.c.member_id == f.member_id)
    if f.date_from:
        stmt = stmt.where(time_entries.c.work_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(time_entries.c.work_date <= f.date_to)
    return [dict(r) for r in session.execute(stmt.order_by(time_entries.c.work_date, time_entries.c.id)
                                             .limit(100_000)).mappings()]
