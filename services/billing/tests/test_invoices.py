"""Invoices against the real RabbitMQ and PostgreSQL: draft, edit, issue (gapless numbers, entries
locked), pay, void (entries released), credit notes, overdue, budgets, the PDF and the exports.

The billing service runs in-process with the real customers service beside it (billing asks it
about customers and members). Approved time entries are
written straight into billing's own table: approving weeks is the timesheets' concern, tested there.
"""
import base64
import csv
import io
import threading
import uuid
from datetime import date, datetime, timedelta, timezone

import pypdf
import pypdfium2
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from billing.directory import copy_tenant
from billing.invoices import tenant_today
from billing.models import time_entries
from billing.service import BillingService
from custops import db, outbox
from custops.contracts.billing import TimeLogged
from custops.contracts.customers import MemberCreated, MemberUpdated, ProjectCreated, ProjectUpdated, TaskCreated
from custops.errors import Conflict, InvalidInput
from custops.events import envelope_for
from custops.rpc import RpcClient
from custops.testing import publish_and_wait

MONDAY = date(2026, 3, 2)


@pytest.fixture
def billing(container_factory, nameko_config):
    container = container_factory(BillingService, nameko_config)
    container.start()
    return container


@pytest.fixture
def tenant(new_tenant, billing):
    return new_tenant()["tenant_id"]


def _customer(rpc, tenant, name="Acme Corp") -> str:
    return rpc.call("customers", "create_customer", tenant, {"name": name, "tier": "smb"})["id"]


def _entries(tenant, customer, project, member, minutes: list[int], approved=True, billable=True, start=MONDAY,
             task=None):
    now = datetime.now(timezone.utc)
    rows = [{"id": uuid.uuid4(), "tenant_id": uuid.UUID(tenant), "member_id": uuid.UUID(member),
             "customer_id": uuid.UUID(customer), "project_id": uuid.UUID(project),
             "task_id": uuid.UUID(task) if task else None,
             "work_date": start + timedelta(days=i % 5),
             "minutes": m, "billable": billable, "note": "", "entered_by_member_id": uuid.UUID(member),
             "approved_at": now if approved else None, "created_at": now} for i, m in enumerate(minutes)]
    with db.engine_for("billing").begin() as conn:
        conn.execute(insert(time_entries), rows)
    return [r["id"] for r in rows]


def _entry_rows(ids):
    with db.engine_for("billing").connect() as conn:
        return conn.execute(select(time_entries).where(time_entries.c.id.in_(ids))).mappings().all()


def _events(tenant, type_):
    table = outbox._TABLE
    with db.engine_for("billing").connect() as conn:
        rows = conn.execute(select(table.c.envelope).where(table.c.tenant_id == uuid.UUID(tenant),
                                                           table.c.type == type_).order_by(table.c.seq)).all()
    return [r[0]["data"] for r in rows]


@pytest.fixture
def setup(rpc, tenant):
    """A customer billed in EUR with 20 % VAT, a 15-minute rounding, a 100 EUR/h default rate."""
    customer, project, member = _customer(rpc, tenant), str(uuid.uuid4()), str(uuid.uuid4())
    rpc.call("billing", "set_billing_profile", tenant, {
        "company_name": "Tenant Consulting Ltd", "payment_details": "IBAN DE00 1234 5678", "rounding_increment": 15,
        "payment_terms_days": 14})
    rpc.call("billing", "set_customer_billing", tenant, customer, {"currency": "EUR", "tax_name": "VAT",
                                                                  "tax_rate_ppm": 200_000})
    rpc.call("billing", "create_rate", tenant, {"hourly_amount": 100_00, "currency": "EUR",
                                                "effective_from": "2026-01-01"})
    return {"customer": customer, "project": project, "member": member}


def _draft(rpc, tenant, customer, start=MONDAY, days=6):
    return rpc.call("billing", "draft_invoice", tenant, {"customer_id": customer, "from": start.isoformat(),
                                                         "to": (start + timedelta(days=days)).isoformat()})


def test_draft_issue_pay_locks_entries_and_numbers_without_gaps(rpc, tenant, setup):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    ids = _entries(tenant, c, p, m, [50, 50, 20])  # rounds to 60 + 60 + 30 = 150 min
    _entries(tenant, c, p, m, [40], approved=False)  # not approved: not invoiced
    _entries(tenant, c, p, m, [40], billable=False)  # internal: not invoiced

    draft = _draft(rpc, tenant, c)
    assert (draft["status"], draft["number"], draft["customer_name"]) == ("draft", None, "Acme Corp")
    [line] = draft["lines"]
    assert (line["raw_minutes"], line["quantity_minutes"], line["amount"], line["tax"]) == (120, 150, 250_00, 50_00)
    with pytest.raises(Conflict):  # one draft per customer at a time
        _draft(rpc, tenant, c)

    rpc.call("billing", "add_invoice_line", tenant, draft["id"], {"kind": "expense", "description": "Train",
                                                                  "quantity": 2, "unit_price": 45_50})
    edited = rpc.call("billing", "add_invoice_line", tenant, draft["id"], {
        "kind": "discount", "description": "Loyalty 10 %", "discount_bp": 1000})
    # 250 + 91 = 341; -10 % = -34.10; net 306.90; VAT per line 50 + 18.20 - 6.82 = 61.38
    assert (edited["subtotal"], edited["tax_total"], edited["total"]) == (306_90, 61_38, 368_28)
    assert edited["total"] == sum(ln["amount"] + ln["tax"] for ln in edited["lines"])

    issued = rpc.call("billing", "issue_invoice", tenant, draft["id"], {"issue_date": "2026-03-09"})
    assert (issued["status"], issued["number"], issued["number_text"]) == ("issued", 1, "INV-0001")
    assert (issued["issue_date"], issued["due_date"]) == ("2026-03-09", "2026-03-23")
    assert all(r["invoice_id"] == uuid.UUID(issued["id"]) and r["invoiced_at"] for r in _entry_rows(ids))
    with pytest.raises(Conflict):
        rpc.call("billing", "add_invoice_line", tenant, issued["id"], {"kind": "item", "description": "x"})

    with pytest.raises(InvalidInput) as too_much:
        rpc.call("billing", "record_payment", tenant, issued["id"], {"amount": 368_29, "paid_on": "2026-03-20"})
    assert too_much.value.errors[0]["field"] == "amount"
    part = rpc.call("billing", "record_payment", tenant, issued["id"], {"amount": 100_00, "paid_on": "2026-03-20"})
    assert (part["status"], part["amount_paid"], part["balance_due"]) == ("issued", 100_00, 268_28)
    paid = rpc.call("billing", "record_payment", tenant, issued["id"], {"amount": 268_28, "paid_on": "2026-03-21"})
    assert (paid["status"], paid["balance_due"], len(paid["payments"])) == ("paid", 0, 2)

    [created] = _events(tenant, "invoice.created")
    assert (created["entry_count"], created["tracked_minutes"], created["billed_minutes"]) == (3, 120, 150)
    [told] = _events(tenant, "invoice.issued")
    assert (told["number_text"], told["due_date"], told["total"], told["balance_due"]) == (
        "INV-0001", "2026-03-23", 368_28, 368_28)
    assert [e["balance_due"] for e in _events(tenant, "invoice.payment_recorded")] == [268_28, 0]
    assert len(_events(tenant, "invoice.paid")) == 1

    # nothing left to bill: an empty draft cannot be issued, and discarding it leaves no number used
    empty = _draft(rpc, tenant, c)
    assert empty["lines"] == []
    with pytest.raises(Conflict):
        rpc.call("billing", "issue_invoice", tenant, empty["id"])
    rpc.call("billing", "discard_invoice", tenant, empty["id"])
    _entries(tenant, c, p, m, [60])
    second = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"])
    assert second["number_text"] == "INV-0002"


def test_lines_carry_the_project_and_task_names_of_the_draft_a_rename_changes_no_invoice(rpc, tenant, setup,
                                                                                        billing):
    """Billing copies the work plan's names from its events (an idempotent consumer: a redelivery
    changes nothing) and freezes them on the lines at the draft; the PDF and the QuickBooks file
    print them; a rename afterwards changes neither the draft nor the issued invoice."""
    c, p, m = setup["customer"], setup["project"], setup["member"]
    task = str(uuid.uuid4())
    rpc.call("billing", "set_billing_profile", tenant, {"line_grouping": "project_task"})
    created = envelope_for(ProjectCreated(project_id=p, customer_id=c, name="Website relaunch", status="active"),
                           uuid.UUID(tenant))
    publish_and_wait(billing, "on_project_created", created)
    publish_and_wait(billing, "on_project_created", created)  # a redelivery: a duplicate, ignored
    publish_and_wait(billing, "on_task_created", envelope_for(TaskCreated(
        task_id=task, project_id=p, customer_id=c, title="Design review", status="todo", category="todo"),
        uuid.UUID(tenant)))
    _entries(tenant, c, p, m, [60], task=task)
    _entries(tenant, c, p, m, [30])

    draft = _draft(rpc, tenant, c)
    assert sorted((ln["description"], ln["project_name"], ln["task_name"]) for ln in draft["lines"]) == [
        ("Website relaunch", "Website relaunch", None),
        ("Website relaunch / Design review", "Website relaunch", "Design review")]
    publish_and_wait(billing, "on_project_updated", envelope_for(ProjectUpdated(
        project_id=p, customer_id=c, changes={"name": "Renamed"}, previous={"name": "Website relaunch"}),
        uuid.UUID(tenant)))
    issued = rpc.call("billing", "issue_invoice", tenant, draft["id"], {"issue_date": "2026-03-09"})
    assert {ln["project_name"] for ln in issued["lines"]} == {"Website relaunch"}
    pdf = base64.b64decode(rpc.call("billing", "invoice_pdf", tenant, issued["id"])["content_b64"])
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Website relaunch / Design review" in text and "Renamed" not in text
    qbo = rpc.call("billing", "export_invoices", tenant, "quickbooks_online", {})["text"]
    assert {r["ItemDescription"] for r in csv.DictReader(io.StringIO(qbo))} == {
        "Website relaunch", "Website relaunch / Design review"}
    entries = rpc.call("billing", "export_time_entries", tenant, {"customer_id": c})["text"]
    assert {(r["project_name"], r["task_name"]) for r in csv.DictReader(io.StringIO(entries))} == {
        ("Renamed", "Design review"), ("Renamed", "")}  # the entries CSV: the names as they are now


def test_lines_per_member_carry_the_members_name_from_the_copy(rpc, tenant, setup, billing):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    rpc.call("billing", "set_billing_profile", tenant, {"line_grouping": "project_member"})
    publish_and_wait(billing, "on_member_created", envelope_for(MemberCreated(
        member_id=m, email="ada@staff.example", name="Ada", role="member"), uuid.UUID(tenant)))
    publish_and_wait(billing, "on_member_updated", envelope_for(MemberUpdated(
        member_id=m, email="ada@staff.example", changes={"name": "Ada Lovelace"}, previous={"name": "Ada"}),
        uuid.UUID(tenant)))
    _entries(tenant, c, p, m, [60])
    [line] = _draft(rpc, tenant, c)["lines"]
    assert (line["member_id"], line["member_name"], line["task_name"]) == (m, "Ada Lovelace", None)
    assert line["description"] == f"Project {p[:8]} / Ada Lovelace"  # a project billing was never told of


def test_an_entry_changed_since_the_draft_refuses_the_issue_and_stamps_nothing(rpc, tenant, setup):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    ids = _entries(tenant, c, p, m, [50, 40, 30])
    draft = _draft(rpc, tenant, c)
    with db.engine_for("billing").begin() as conn:  # its week reopened, corrected and approved again
        conn.execute(update(time_entries).where(time_entries.c.id == ids[1]).values(minutes=45))
    with pytest.raises(Conflict) as refused:
        rpc.call("billing", "issue_invoice", tenant, draft["id"], {"issue_date": "2026-03-09"})
    assert "1 entries" in str(refused.value)
    assert [r["invoice_id"] for r in _entry_rows(ids)] == [None, None, None]  # the stamps rolled back
    assert rpc.call("billing", "get_invoice", tenant, draft["id"])["status"] == "draft"
    rpc.call("billing", "discard_invoice", tenant, draft["id"])
    issued = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"])
    assert issued["number_text"] == "INV-0001"  # the refusal used no number


def test_invoices_issued_at_once_get_consecutive_numbers_without_gap_or_duplicate(rpc, tenant, setup):
    """Six drafts (one per customer) issued by six concurrent calls, each on its own connection:
    the tenant's counter hands out 1..6, each once, and the `invoice.issued` events say the same."""
    p, m = setup["project"], setup["member"]
    drafts = []
    for i in range(6):
        c = _customer(rpc, tenant, f"Customer {i}")
        rpc.call("billing", "set_customer_billing", tenant, c, {"currency": "EUR"})
        _entries(tenant, c, p, m, [60])
        drafts.append(_draft(rpc, tenant, c)["id"])
    results, errors, gate = [], [], threading.Barrier(len(drafts))

    def issue(draft_id):
        client = RpcClient(timeout=20)
        try:
            gate.wait()
            results.append(client.call("billing", "issue_invoice", tenant, draft_id, {"issue_date": "2026-03-09"}))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=issue, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == len(drafts)
    assert sorted(r["number"] for r in results) == [1, 2, 3, 4, 5, 6]
    assert {r["id"] for r in results} == set(drafts)
    assert sorted(e["number_text"] for e in _events(tenant, "invoice.issued")) == [
        f"INV-000{n}" for n in range(1, 7)]


def test_void_releases_entries_and_keeps_its_number(rpc, tenant, setup):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    ids = _entries(tenant, c, p, m, [60, 30])
    first = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"])
    with pytest.raises(InvalidInput):
        rpc.call("billing", "void_invoice", tenant, first["id"], {"reason": ""})
    voided = rpc.call("billing", "void_invoice", tenant, first["id"], {"reason": "wrong customer"})
    assert (voided["status"], voided["number_text"]) == ("void", "INV-0001")
    assert all(r["invoice_id"] is None and r["invoiced_at"] is None for r in _entry_rows(ids))
    assert _events(tenant, "invoice.voided")[0]["released_entry_count"] == 2

    again = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"])
    assert (again["number_text"], again["total"]) == ("INV-0002", first["total"])
    rpc.call("billing", "record_payment", tenant, again["id"], {"amount": 10_00, "paid_on": "2026-03-20"})
    with pytest.raises(Conflict):  # money against it: a credit note, not a void
        rpc.call("billing", "void_invoice", tenant, again["id"], {"reason": "no"})
    credited = rpc.call("billing", "issue_credit_note", tenant, again["id"], {
        "amount": again["total"] - 10_00, "reason": "goodwill"})
    assert (credited["status"], credited["balance_due"]) == ("paid", 0)
    assert credited["credit_notes"][0]["number_text"] == "CN-0001"
    assert _events(tenant, "invoice.credit_note_issued")[0]["credit_note_number"] == "CN-0001"


def _a_rate_change_never_alters_an_issued_invoice(rpc, tenant, setup, issued):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    rpc.call("billing", "create_rate", tenant, {"hourly_amount": 500_00, "currency": "EUR",
                                                "effective_from": "2026-02-01", "customer_id": c})
    later = rpc.call("billing", "get_invoice", tenant, issued["id"])
    assert (later["total"], later["lines"], later["pdf_sha256"]) == (issued["total"], issued["lines"],
                                                                     issued["pdf_sha256"])
    _entries(tenant, c, p, m, [60])  # new time is billed at the new rate
    assert _draft(rpc, tenant, c)["lines"][0]["unit_price"] == 500_00


def test_pdf_is_a_page_with_the_numbers_on_it_and_a_rate_change_alters_neither(rpc, tenant, setup):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    _entries(tenant, c, p, m, [90, 45])
    issued = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"], {"issue_date": "2026-03-09"})
    doc = rpc.call("billing", "invoice_pdf", tenant, issued["id"])
    assert (doc["filename"], doc["media_type"]) == ("INV-0001.pdf", "application/pdf")
    content = base64.b64decode(doc["content_b64"])

    page = pypdfium2.PdfDocument(content)[0]
    assert [round(v) for v in page.get_size()] == [595, 842]  # A4 in points
    image = page.render(scale=1).to_pil().convert("L")
    assert abs(image.size[0] - 595) <= 1 and abs(image.size[1] - 842) <= 1  # pdfium rounds 595.28 up
    dark = sum(1 for v in image.getdata() if v < 128)
    assert 0.005 < dark / (595 * 842) < 0.5  # ink on the page, not a blank or a black one

    text = pypdf.PdfReader(io.BytesIO(content)).pages[0].extract_text()
    for expected in ("INV-0001", "Issue date: 2026-03-09", "Due date: 2026-03-23", "Acme Corp",
                     "Tenant Consulting Ltd", "IBAN DE00 1234 5678", "Total", "225.00 EUR", "45.00 EUR",
                     "270.00 EUR", "VAT 20 %", "2.25 h"):
        assert expected in text, expected  # 2.25 h x 100 EUR = 225, VAT 45, total 270
    _a_rate_change_never_alters_an_issued_invoice(rpc, tenant, setup, issued)


def test_exports_parse_back_to_the_invoice_totals(rpc, tenant, setup):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    _entries(tenant, c, p, m, [7, 50, 125])
    first = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"])
    _entries(tenant, c, p, m, [33], start=MONDAY + timedelta(days=7))
    draft = _draft(rpc, tenant, c, start=MONDAY + timedelta(days=7))
    rpc.call("billing", "add_invoice_line", tenant, draft["id"], {"kind": "discount", "description": "Deal",
                                                                  "discount_amount": 3_33})
    second = rpc.call("billing", "issue_invoice", tenant, draft["id"])
    totals = {first["number_text"]: first["total"], second["number_text"]: second["total"]}

    qbo = rpc.call("billing", "export_invoices", tenant, "quickbooks_online")["text"]
    rows = list(csv.DictReader(io.StringIO(qbo)))
    assert list(rows[0])[:12] == ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo",
                                  "Item(Product/Service)", "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount"]
    parsed = {}
    for r in rows:
        cents = round(float(r["ItemAmount"]) * 100) + round(float(r["ItemTaxAmount"]) * 100)
        parsed[r["InvoiceNo"]] = parsed.get(r["InvoiceNo"], 0) + cents
    assert parsed == totals

    iif = rpc.call("billing", "export_invoices", tenant, "quickbooks_iif")["text"]
    lines = [ln.split("\t") for ln in iif.strip().split("\r\n")]
    assert [ln[0] for ln in lines[:3]] == ["!TRNS", "!SPL", "!ENDTRNS"]
    trns, balance, seen = None, 0, {}
    for ln in lines[3:]:
        if ln[0] == "TRNS":
            trns, balance = ln[7], round(float(ln[6]) * 100)
            seen[trns] = balance
        elif ln[0] == "SPL":
            balance += round(float(ln[6]) * 100)
        else:
            assert ln == ["ENDTRNS"] and balance == 0  # every transaction balances
    assert seen == totals

    summary = list(csv.DictReader(io.StringIO(rpc.call("billing", "export_invoices", tenant, "invoices_csv")["text"])))
    assert {r["number"]: round(float(r["total"]) * 100) for r in summary} == totals

    entries = list(csv.DictReader(io.StringIO(rpc.call("billing", "export_time_entries", tenant,
                                                       {"customer_id": c})["text"])))
    assert sorted(int(r["minutes"]) for r in entries) == [7, 33, 50, 125]
    assert {r["invoice_number"] for r in entries} == set(totals)
    assert sum(int(r["rounded_minutes"]) for r in entries) == 15 + 60 + 135 + 45


def test_overdue_is_told_once_and_bad_input_is_refused_naming_the_field(rpc, tenant, setup):
    c, p, m = setup["customer"], setup["project"], setup["member"]
    _entries(tenant, c, p, m, [60])
    issued = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"], {"issue_date": "2026-03-09"})
    assert rpc.call("billing", "tell_overdue_invoices", "2026-03-23")["told"] == 0  # due that day: not yet
    rpc.call("billing", "tell_overdue_invoices", "2026-04-01")
    rpc.call("billing", "tell_overdue_invoices", "2026-04-02")
    [overdue] = _events(tenant, "invoice.overdue")
    assert (overdue["invoice_id"], overdue["due_date"], overdue["balance_due"], overdue["days_overdue"]) == (
        issued["id"], "2026-03-23", 120_00, 9)
    # the clock's sweep (no day given) counts from the tenant's own day, in its copied timezone
    with db.engine_for("billing").begin() as conn:
        copy_tenant(Session(conn), uuid.UUID(tenant), "Pacific/Kiritimati", "monday", datetime.now(timezone.utc))
    _entries(tenant, c, p, m, [60])
    late = rpc.call("billing", "issue_invoice", tenant, _draft(rpc, tenant, c)["id"], {"issue_date": "2026-03-10"})
    rpc.call("billing", "tell_overdue_invoices")
    [swept] = [e for e in _events(tenant, "invoice.overdue") if e["invoice_id"] == late["id"]]
    assert swept["days_overdue"] == (tenant_today(datetime.now(timezone.utc), "Pacific/Kiritimati")
                                     - date(2026, 3, 24)).days
    _bad_input_is_refused_naming_the_field(rpc, tenant, setup)


def test_retainer_and_fixed_fee_and_budget_threshold(rpc, tenant, setup, billing):
    c, m = setup["customer"], setup["member"]
    retained, fixed = str(uuid.uuid4()), str(uuid.uuid4())
    rpc.call("billing", "create_retainer", tenant, {
        "customer_id": c, "project_id": retained, "currency": "EUR", "monthly_fee": 1000_00,
        "included_minutes": 120, "overage_hourly": 150_00, "starts_on": "2026-03-01"})
    rpc.call("billing", "create_fixed_fee", tenant, {"customer_id": c, "project_id": fixed, "amount": 5000_00,
                                                     "currency": "EUR", "bill_on": "2026-03-02"})
    rpc.call("billing", "set_budget", tenant, fixed, {"kind": "hours", "amount": 600})
    _entries(tenant, c, retained, m, [90, 60])
    [entry_id] = _entries(tenant, c, fixed, m, [480])
    assert [t["threshold"] for t in _events(tenant, "project.budget_threshold")] == []
    logged = envelope_for(TimeLogged(entry_id=entry_id, member_id=m, customer_id=c, project_id=fixed, minutes=480,
                                     billable=True, work_date=MONDAY), uuid.UUID(tenant))
    publish_and_wait(billing, "budget_after_time_logged", logged)  # the time's own event tells it
    publish_and_wait(billing, "budget_after_time_logged", logged)  # a redelivery tells nothing more
    status = rpc.call("billing", "get_budget", tenant, fixed)
    assert (status["used"], status["remaining"], status["percent_used"]) == (480, 120, 80)
    [told] = _events(tenant, "project.budget_threshold")  # once
    assert (told["threshold"], told["used"], told["amount"]) == (80, 480, 600)
    [more] = _entries(tenant, c, fixed, m, [150])  # 630 of 600 minutes: past 100 %
    publish_and_wait(billing, "budget_after_time_logged", envelope_for(TimeLogged(
        entry_id=more, member_id=m, customer_id=c, project_id=fixed, minutes=150, billable=True, work_date=MONDAY),
        uuid.UUID(tenant)))
    assert [(t["threshold"], t["used"]) for t in _events(tenant, "project.budget_threshold")] == [(80, 480),
                                                                                                 (100, 630)]
    status = rpc.call("billing", "get_budget", tenant, fixed)
    assert (status["remaining"], status["thresholds_reached"]) == (-30, [80, 100])
    assert len(_events(tenant, "project.budget_threshold")) == 2  # reading it tells nothing again

    draft = _draft(rpc, tenant, c)
    kinds = sorted((ln["kind"], ln["time_kind"], ln["amount"]) for ln in draft["lines"])
    assert kinds == [("fixed_fee", None, 5000_00), ("retainer", None, 1000_00), ("time", "fixed_fee_time", 0),
                     ("time", "included", 0), ("time", "time", 75_00)]  # 30 min overage at 150/h


def _bad_input_is_refused_naming_the_field(rpc, tenant, setup):
    with pytest.raises(InvalidInput) as period:
        rpc.call("billing", "draft_invoice", tenant, {"customer_id": setup["customer"], "from": "2026-03-09",
                                                      "to": "2026-03-01"})
    assert period.value.errors
    with pytest.raises(InvalidInput) as unknown:
        _draft(rpc, tenant, str(uuid.uuid4()))
    assert unknown.value.errors[0]["field"] == "customer_id"
    with pytest.raises(InvalidInput) as currency:
        rpc.call("billing", "set_customer_billing", tenant, setup["customer"], {"currency": "EURO"})
    assert currency.value.errors[0]["field"] == "currency"
    with pytest.raises(InvalidInput) as floats:
        rpc.call("billing", "create_rate", tenant, {"hourly_amount": 99.5, "currency": "EUR",
                                                    "effective_from": "2026-01-01"})
    assert floats.value.errors[0]["field"] == "hourly_amount"
