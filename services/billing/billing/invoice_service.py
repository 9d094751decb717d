"""Money entrypoints of the billing service (a mixin `BillingService` inherits): the billing
profile and customer settings, rates, fixed fees and retainers, budgets, invoices (draft, edit,
issue, pay, void, credit), their PDF and the exports. Thin wiring: rules in `billing.invoices` and
`billing.invoice_maths`, SQL in `billing.invoice_store`, layout in `billing.invoice_pdf` and
`billing.exports`. Every change adds its event to the outbox in its transaction (the audit log
records it from there).

Who may: the gateway lets owners only (`billing:*`, DESIGN §4); services trust their callers.
"""
from __future__ import annotations

import base64
from datetime import datetime, timezone

from nameko.timer import timer

from billing import directory, draft_store, exports, invoice_pdf, invoice_store, invoices
from billing.invoice_commands import (AddLine, BillingProfile, CreateFixedFee, CreateRate, CreateRetainer,
                                      CreditNote, CustomerBilling, DraftInvoice, InvoiceFilters, IssueInvoice,
                                      OverdueDay, RateFilters, RecordPayment, SetBudget, SetNotes, UpdateLine,
                                      VoidInvoice)
from billing.commands import TimeEntryFilters
from custops import pagination
from custops.entrypoints import consumes
from custops.errors import EXPECTED, InvalidInput, NotFound
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id

OVERDUE_SWEEP_SECONDS = 3600
EXPORT_MAX_INVOICES = 10_000


def _now() -> datetime:
    return datetime.now(timezone.utc)


class InvoiceEntrypoints:
    # --- settings ---

    @rpc(expected_exceptions=EXPECTED)
    def get_billing_profile(self, tenant_id):
        with self.db.read() as session:
            return invoice_store.shape_profile(invoice_store.profile(session, parse_id(tenant_id, "tenant")))

    @rpc(expected_exceptions=EXPECTED)
    def set_billing_profile(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        given = parse(BillingProfile, payload).given()
        with self.db.transaction() as session:
            return invoice_store.shape_profile(invoice_store.set_profile(session, tenant_id, given, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def set_billing_logo(self, tenant_id, content_b64, media_type):
        tenant_id = parse_id(tenant_id, "tenant")
        if media_type not in ("image/png", "image/jpeg"):
            raise InvalidInput("the logo is not an image", [{"field": "media_type", "message": "PNG or JPEG"}])
        content = base64.b64decode(content_b64)
        if not 0 < len(content) <= 1_000_000:
            raise InvalidInput("the logo is too large", [{"field": "logo", "message": "at most 1 MB"}])
        with self.db.transaction() as session:
            sha = invoice_store.put_blob(session, content, media_type)
            return invoice_store.shape_profile(invoice_store.set_profile(session, tenant_id, {"logo_sha256": sha},
                                                                         _now()))

    @rpc(expected_exceptions=EXPECTED)
    def get_customer_billing(self, tenant_id, customer_id):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        with self.db.read() as session:
            return invoice_store.shape_customer_settings(invoice_store.customer_settings(session, tenant_id,
                                                                                         customer_id))

    @rpc(expected_exceptions=EXPECTED)
    def set_customer_billing(self, tenant_id, customer_id, payload):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        given = parse(CustomerBilling, payload).given()
        self._customer(tenant_id, customer_id)
        with self.db.transaction() as session:
            return invoice_store.shape_customer_settings(
                invoice_store.set_customer_settings(session, tenant_id, customer_id, given, _now()))

    # --- rates and agreements ---

    @rpc(expected_exceptions=EXPECTED)
    def create_rate(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateRate, payload)
        with self.db.transaction() as session:
            return invoice_store.shape_rate(invoice_store.add_rate(session, tenant_id, cmd.model_dump(), _now()))

    @rpc(expected_exceptions=EXPECTED)
    def list_rates(self, tenant_id, filters=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(RateFilters, filters or {})
        with self.db.read() as session:
            return {"items": [invoice_store.shape_rate(r) for r in invoice_store.list_rates(session, tenant_id,
                                                                                               f.currency)]}

    @rpc(expected_exceptions=EXPECTED)
    def create_fixed_fee(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateFixedFee, payload)
        self._customer(tenant_id, cmd.customer_id)
        with self.db.transaction() as session:
            return invoice_store.shape_fixed_fee(invoice_store.add_fixed_fee(session, tenant_id, cmd.model_dump(),
                                                                             _now()))

    @rpc(expected_exceptions=EXPECTED)
    def create_retainer(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateRetainer, payload)
        self._customer(tenant_id, cmd.customer_id)
        with self.db.transaction() as session:
            return invoice_store.shape_retainer(invoice_store.add_retainer(session, tenant_id, cmd.model_dump(),
                                                                           _now()))

    @rpc(expected_exceptions=EXPECTED)
    def list_agreements(self, tenant_id, customer_id):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        with self.db.read() as session:
            found = invoice_store.agreements(session, tenant_id, customer_id)
        return {"fixed_fees": [invoice_store.shape_fixed_fee(f) for f in found["fixed_fees"]],
                "retainers": [invoice_store.shape_retainer(r) for r in found["retainers"]]}

    @rpc(expected_exceptions=EXPECTED)
    def set_budget(self, tenant_id, project_id, payload):
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        cmd = parse(SetBudget, payload)
        with self.db.transaction() as session:
            invoice_store.set_budget(session, tenant_id, project_id, cmd.model_dump(), _now())
            invoice_store.check_budget(session, tenant_id, project_id)
            return invoice_store.budget_status(session, tenant_id, project_id)

    @rpc(expected_exceptions=EXPECTED)
    def get_budget(self, tenant_id, project_id):
        """Used and remaining; tells any threshold newly reached (80/100 %, once each)."""
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        with self.db.transaction() as session:
            invoice_store.check_budget(session, tenant_id, project_id)
            return invoice_store.budget_status(session, tenant_id, project_id)

    # --- invoices ---

    def _customer(self, tenant_id, customer_id) -> dict:
        try:
            return self.rpc_client.call("customers", "get_customer", str(tenant_id), str(customer_id))
        except NotFound:
            raise InvalidInput("unknown customer", [{"field": "customer_id",
                                                     "message": "no such customer in this tenant"}]) from None

    def _names(self, tenant_id, customer_id, period_from, period_to, grouping: str) -> dict:
        """id -> name of the projects on the draft, and its tasks or members when the lines are per
        task or member: billing's copies (`billing.directory.names_of`), frozen on the lines."""
        with self.db.read() as session:
            ids = draft_store.distinct_ids(session, tenant_id, customer_id, period_from, period_to)
            agreed = invoice_store.agreements(session, tenant_id, customer_id)
        ids["project"] |= {f["project_id"] for f in agreed["fixed_fees"]}
        ids["project"] |= {r["project_id"] for r in agreed["retainers"] if r["project_id"]}
        wanted = {"project": ids["project"]}
        if grouping == "project_task":
            wanted["task"] = ids["task"]
        if grouping == "project_member":
            wanted["member"] = ids["member"]
        found = directory.names_of(self.db, self.rpc_client, tenant_id, wanted)
        return {object_id: name for names in found.values() for object_id, name in names.items()}

    def _full(self, session, inv: dict) -> dict:
        return invoice_store.shape(inv, invoice_store.load_lines(session, inv["id"]),
                                   invoice_store.load_payments(session, inv["id"]),
                                   invoice_store.load_credit_notes(session, inv["id"]))

    @rpc(expected_exceptions=EXPECTED)
    def draft_invoice(self, tenant_id, payload):
        """A draft from the customer's approved, uninvoiced billable entries of the period (and its
        fixed fees and retainers); 409 while the customer has another draft."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(DraftInvoice, payload)
        customer = self._customer(tenant_id, cmd.customer_id)
        with self.db.read() as session:
            grouping = invoice_store.profile(session, tenant_id)["line_grouping"]
        names = self._names(tenant_id, cmd.customer_id, cmd.date_from, cmd.date_to, grouping)
        with self.db.transaction() as session:
            inv = invoice_store.create_draft(session, tenant_id, cmd.customer_id, customer["name"], cmd.date_from,
                                             cmd.date_to, names, _now())
            return self._full(session, inv)

    @rpc(expected_exceptions=EXPECTED)
    def get_invoice(self, tenant_id, invoice_id):
        tenant_id, invoice_id = parse_id(tenant_id, "tenant"), parse_id(invoice_id, "invoice")
        with self.db.read() as session:
            return self._full(session, invoice_store.load_invoice(session, tenant_id, invoice_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_invoices(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(InvoiceFilters, filters or {})
        with self.db.read() as session:
            return invoice_store.page(session, tenant_id, f, pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def invoice_entries(self, tenant_id, invoice_id):
        """The entries on an invoice, raw minutes beside rounded."""
        tenant_id, invoice_id = parse_id(tenant_id, "tenant"), parse_id(invoice_id, "invoice")
        with self.db.read() as session:
            invoice_store.load_invoice(session, tenant_id, invoice_id)
            rows = invoice_store.entries_of(session, tenant_id, invoice_id)
        return {"items": [{"entry_id": str(r["entry_id"]), "line_id": str(r["line_id"]),
                           "work_date": r["work_date"].isoformat(), "member_id": str(r["member_id"]),
                           "raw_minutes": r["raw_minutes"], "rounded_minutes": r["rounded_minutes"]} for r in rows]}

    def _edit(self, tenant_id, invoice_id, action: str, change):
        tenant_id, invoice_id = parse_id(tenant_id, "tenant"), parse_id(invoice_id, "invoice")
        with self.db.transaction() as session:
            inv = invoice_store.load_invoice(session, tenant_id, invoice_id, for_update=True)
            invoices.check_draft(inv, action)
            inv = change(session, inv)
            return self._full(session, inv)

    @rpc(expected_exceptions=EXPECTED)
    def add_invoice_line(self, tenant_id, invoice_id, payload):
        row = parse(AddLine, payload).row()
        return self._edit(tenant_id, invoice_id, "change its lines",
                          lambda s, inv: invoice_store.add_line(s, inv, row, _now())[0])

    @rpc(expected_exceptions=EXPECTED)
    def update_invoice_line(self, tenant_id, invoice_id, line_id, payload):
        given = parse(UpdateLine, payload).given()
        line_id = parse_id(line_id, "invoice line")

        def change(session, inv):
            line = invoice_store.load_line(session, inv, line_id)
            invoices.check_line_edit(line, given)
            return invoice_store.update_line(session, inv, line, given, _now())[0]
        return self._edit(tenant_id, invoice_id, "change its lines", change)

    @rpc(expected_exceptions=EXPECTED)
    def remove_invoice_line(self, tenant_id, invoice_id, line_id):
        line_id = parse_id(line_id, "invoice line")
        return self._edit(tenant_id, invoice_id, "change its lines", lambda s, inv: invoice_store.remove_line(
            s, inv, invoice_store.load_line(s, inv, line_id), _now())[0])

    @rpc(expected_exceptions=EXPECTED)
    def set_invoice_notes(self, tenant_id, invoice_id, payload):
        notes = parse(SetNotes, payload).notes
        return self._edit(tenant_id, invoice_id, "change its notes",
                          lambda s, inv: invoice_store.set_notes(s, inv, notes, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def discard_invoice(self, tenant_id, invoice_id):
        tenant_id, invoice_id = parse_id(tenant_id, "tenant"), parse_id(invoice_id, "invoice")
        with self.db.transaction() as session:
            inv = invoice_store.load_invoice(session, tenant_id, invoice_id, for_update=True)
            invoices.check_draft(inv, "be discarded")
            invoice_store.discard(session, inv, _now())
        return {"id": str(invoice_id), "discarded": True}

    @rpc(expected_exceptions=EXPECTED)
    def issue_invoice(self, tenant_id, invoice_id, payload=None):
        tenant_id, invoice_id = parse_id(tenant_id, "tenant"), parse_id(invoice_id, "invoice")
        cmd = parse(IssueInvoice, payload or {})
        now = _now()
        with self.db.transaction() as session:
            inv = invoice_store.load_invoice(session, tenant_id, invoice_id, for_update=True)
            inv = invoice_store.issue(session, inv, cmd.issue_date or now.date(), now, invoice_pdf.render)
            return self._full(session, inv)

    def _money(self, tenant_id, invoice_id, change):
        tenant_id, invoice_id = parse_id(tenant_id, "tenant"), parse_id(invoice_id, "invoice")
        with self.db.transaction() as session:
            inv = invoice_store.load_invoice(session, tenant_id, invoice_id, for_update=True)
            return self._full(session, change(session, inv))

    @rpc(expected_exceptions=EXPECTED)
    def record_payment(self, tenant_id, invoice_id, payload):
        fields = parse(RecordPayment, payload).model_dump()
        return self._money(tenant_id, invoice_id, lambda s, inv: invoice_store.record_payment(s, inv, fields, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def void_invoice(self, tenant_id, invoice_id, payload):
        reason = parse(VoidInvoice, payload).reason
        return self._money(tenant_id, invoice_id, lambda s, inv: invoice_store.void(s, inv, reason, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def issue_credit_note(self, tenant_id, invoice_id, payload):
        cmd = parse(CreditNote, payload)
        now = _now()
        return self._money(tenant_id, invoice_id, lambda s, inv: invoice_store.credit(
            s, inv, cmd.amount, cmd.reason, cmd.issue_date or now.date(), now))

    @rpc(expected_exceptions=EXPECTED)
    def invoice_pdf(self, tenant_id, invoice_id):
        """The PDF: an issued invoice's as stored at issue; a draft's rendered now (marked DRAFT)."""
        tenant_id, invoice_id = parse_id(tenant_id, "tenant"), parse_id(invoice_id, "invoice")
        with self.db.read() as session:
            inv = invoice_store.load_invoice(session, tenant_id, invoice_id)
            if inv["pdf_sha256"]:
                content = invoice_store.get_blob(session, inv["pdf_sha256"])["content"]
            else:
                prof = invoice_store.profile(session, tenant_id)
                logo = invoice_store.get_blob(session, prof["logo_sha256"])["content"] if prof["logo_sha256"] else None
                content = invoice_pdf.render(inv, invoice_store.load_lines(session, invoice_id), prof, logo)
        name = inv["number_text"] or f"draft-{invoice_id}"
        return {"filename": f"{name}.pdf", "media_type": "application/pdf",
                "content_b64": base64.b64encode(content).decode()}

    @rpc(expected_exceptions=EXPECTED)
    def export_invoices(self, tenant_id, export_format, filters=None):
        """`invoices_csv`, `quickbooks_online` (CSV) or `quickbooks_iif` of the tenant's invoices."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(InvoiceFilters, filters or {})
        writers = {"invoices_csv": ("invoices.csv", "text/csv"), "quickbooks_online": ("quickbooks-invoices.csv",
                                                                                      "text/csv"),
                   "quickbooks_iif": ("quickbooks-invoices.iif", "application/octet-stream")}
        if export_format not in writers:
            raise InvalidInput("unknown export format", [{"field": "format", "message": f"one of {sorted(writers)}"}])
        with self.db.read() as session:
            found = invoice_store.for_export(session, tenant_id, f, EXPORT_MAX_INVOICES)
            if export_format == "invoices_csv":
                text = exports.invoices_csv(found)
            else:
                pairs = [(inv, invoice_store.load_lines(session, inv["id"])) for inv in found]
                text = (exports.quickbooks_online_csv if export_format == "quickbooks_online"
                        else exports.quickbooks_iif)(pairs)
        filename, media_type = writers[export_format]
        return {"filename": filename, "media_type": media_type, "text": text}

    @rpc(expected_exceptions=EXPECTED)
    def export_time_entries(self, tenant_id, filters=None):
        """CSV of time entries (the customer and dates filters of `list_time_entries`), each with
        the invoice it is on and its raw and rounded minutes there."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TimeEntryFilters, filters or {})
        with self.db.read() as session:
            rows = invoice_store.entries_for_export(session, tenant_id, f)
        return {"filename": "time-entries.csv", "media_type": "text/csv", "text": exports.entries_csv(rows)}

    # --- budgets follow the time: a logged or corrected entry on a project with a budget tells
    # each threshold it makes the project reach (once each: billing.invoice_store.check_budget) ---

    @consumes("billing", "time.logged")
    def budget_after_time_logged(self, session, envelope, data):
        if data.project_id is not None:
            invoice_store.check_budget(session, envelope.tenant_id, data.project_id)

    @consumes("billing", "time.updated")
    def budget_after_time_updated(self, session, envelope, data):
        if data.project_id is not None:
            invoice_store.check_budget(session, envelope.tenant_id, data.project_id)

    # --- the overdue sweep ---

    @timer(interval=OVERDUE_SWEEP_SECONDS)
    def sweep_overdue_invoices(self):
        self.tell_overdue_invoices()

    @rpc(expected_exceptions=EXPECTED)
    def tell_overdue_invoices(self, today=None):
        """Tell `invoice.overdue` for every invoice past due with a balance (once each); `today`
        (ISO date) for tests and backfills, else each tenant's today in its timezone."""
        day = parse(OverdueDay, {"today": today}).today
        with self.db.transaction() as session:
            return {"told": invoice_store.tell_overdue(session, _now(), day)}


