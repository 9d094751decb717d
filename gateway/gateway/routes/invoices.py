"""`/invoices` (billing service): drafts from approved, uninvoiced billable time, their lines,
issuing (a gapless number per tenant), payments, voids, credit notes, the PDF; `/exports/...`: the
CSV of entries and invoices, the QuickBooks Online import CSV and the QuickBooks Desktop IIF.
Owners only (`billing:*`, DESIGN §4).

Statuses: `draft` → `issued` → `paid` (partial payments keep it `issued` with a balance), and
`issued` → `void` (its entries go back to be invoiced again). An issued invoice never changes: it is
corrected with a credit note. Amounts are integers of the currency's minor unit.
"""
from __future__ import annotations

import base64
import uuid
from datetime import date, datetime
from typing import Literal

from flask import Response
from pydantic import Field

from custops.validation import Date
from gateway.api import API, Body, Paged, Query, Resource, filters, page_of, payload
from gateway.rpc import tenant_call

InvoiceStatus = Literal["draft", "issued", "paid", "void"]


class DraftInvoice(Body):
    customer_id: uuid.UUID
    date_from: Date = Field(alias="from", description="first work date (inclusive)")
    date_to: Date = Field(alias="to", description="last work date (inclusive); at most a year after 'from'")


class ChangeInvoice(Body):
    notes: str = Field(max_length=5_000, description="printed on the invoice")


class AddLine(Body):
    """An expense or item (quantity x unit price), or a discount (`discount_amount`, or
    `discount_bp` basis points of the other lines: 1000 = 10 %)."""

    kind: Literal["expense", "item", "discount"]
    description: str = Field(min_length=1, max_length=500)
    quantity: int = Field(default=None, ge=1, le=1_000_000)
    unit_price: int = Field(default=None, ge=0, le=10**15)
    discount_amount: int | None = Field(default=None, ge=1, le=10**15)
    discount_bp: int | None = Field(default=None, ge=1, le=10_000)
    taxable: bool = None


class ChangeLine(Body):
    """A time line's description and unit price; an expense's, item's or discount's anything."""

    description: str = Field(default=None, min_length=1, max_length=500)
    quantity: int = Field(default=None, ge=1, le=1_000_000)
    unit_price: int = Field(default=None, ge=0, le=10**15)
    taxable: bool = None


class IssueInvoice(Body):
    issue_date: Date | None = Field(default=None, description="default: today (UTC)")


class RecordPayment(Body):
    amount: int = Field(ge=1, le=10**15, description="at most the balance due")
    paid_on: Date
    method: str = Field(default=None, max_length=100)
    reference: str = Field(default=None, max_length=200)


class VoidInvoice(Body):
    reason: str = Field(min_length=1, max_length=1_000)


class IssueCreditNote(Body):
    amount: int = Field(ge=1, le=10**15, description="gross; at most the invoice's total less earlier credits")
    reason: str = Field(min_length=1, max_length=1_000)
    issue_date: Date | None = None


class InvoiceQuery(Paged):
    customer_id: uuid.UUID | None = None
    status: InvoiceStatus | None = None


class ExportQuery(Query):
    customer_id: uuid.UUID | None = None
    status: InvoiceStatus | None = None
    date_from: Date | None = Field(default=None, alias="from", description="first issue date (inclusive)")
    date_to: Date | None = Field(default=None, alias="to", description="last issue date (inclusive)")


class EntryExportQuery(Query):
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    date_from: Date | None = Field(default=None, alias="from", description="first work date (inclusive)")
    date_to: Date | None = Field(default=None, alias="to", description="last work date (inclusive)")


class InvoiceLine(Resource):
    id: uuid.UUID
    position: int
    kind: str = Field(description="time | fixed_fee | retainer | expense | item | discount")
    description: str
    quantity: int | None
    quantity_minutes: int | None = Field(description="billed (rounded) minutes of a time line")
    raw_minutes: int | None = Field(description="tracked minutes of a time line, before rounding")
    unit_price: int = Field(description="per unit; per hour for time")
    amount: int
    tax: int
    project_name: str | None = Field(default=None, description="the line's project's name as it was at the draft "
                                     "(a rename afterwards changes no invoice)")
    task_name: str | None = Field(default=None, description="the task's, when lines are per task")
    member_name: str | None = Field(default=None, description="the member's, when lines are per member")


class Payment(Resource):
    id: uuid.UUID
    amount: int
    paid_on: date


class CreditNoteDoc(Resource):
    id: uuid.UUID
    number_text: str
    amount: int
    reason: str


class Invoice(Resource):
    id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str
    status: InvoiceStatus
    number: int | None = Field(description="null while a draft")
    number_text: str | None
    currency: str
    period_from: date
    period_to: date
    issue_date: date | None
    due_date: date | None
    subtotal: int
    tax_total: int
    total: int
    amount_paid: int
    amount_credited: int
    balance_due: int
    created_at: datetime


class InvoiceDetail(Invoice):
    lines: list[InvoiceLine]
    payments: list[Payment]
    credit_notes: list[CreditNoteDoc]


class InvoiceEntry(Resource):
    entry_id: uuid.UUID
    line_id: uuid.UUID
    work_date: date
    member_id: uuid.UUID
    raw_minutes: int
    rounded_minutes: int


class Discarded(Resource):
    id: uuid.UUID
    discarded: bool


def _download(doc: dict, default_name: str, media_type: str) -> Response:
    name = doc.get("filename") or default_name
    content = base64.b64decode(doc["content_b64"]) if doc.get("content_b64") else (doc.get("text") or "").encode()
    return Response(content, mimetype=doc.get("media_type") or media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@API.route("/invoices", "POST", permission="billing:write", tag="invoices", body=DraftInvoice, status=201,
           location="/invoices/{id}", response=InvoiceDetail, statuses=(409,),
           summary="Draft an invoice for a customer and period (409 while it has another draft)")
def draft_invoice(body: DraftInvoice):
    return tenant_call("billing", "draft_invoice", body.model_dump(mode="json", by_alias=True))


@API.route("/invoices", "GET", permission="billing:read", summary="Invoices, newest first", tag="invoices",
           query=InvoiceQuery, response=page_of(Invoice))
def list_invoices(query: InvoiceQuery):
    return tenant_call("billing", "list_invoices", filters(query), query.limit, query.cursor)


@API.route("/invoices/<uuid:invoice_id>", "GET", permission="billing:read", summary="An invoice with its lines",
           tag="invoices", response=InvoiceDetail)
def get_invoice(invoice_id: str):
    return tenant_call("billing", "get_invoice", invoice_id)


@API.route("/invoices/<uuid:invoice_id>", "PATCH", permission="billing:write", tag="invoices", body=ChangeInvoice,
           summary="Change a draft's notes", response=InvoiceDetail, statuses=(409,))
def change_invoice(invoice_id: str, body: ChangeInvoice):
    return tenant_call("billing", "set_invoice_notes", invoice_id, payload(body))


@API.route("/invoices/<uuid:invoice_id>", "DELETE", permission="billing:write", tag="invoices",
           summary="Discard a draft (its entries go back)", response=Discarded, statuses=(409,))
def discard_invoice(invoice_id: str):
    return tenant_call("billing", "discard_invoice", invoice_id)


@API.route("/invoices/<uuid:invoice_id>/lines", "POST", permission="billing:write", tag="invoices", body=AddLine,
           status=201, summary="Add an expense, item or discount to a draft", response=InvoiceDetail,
           statuses=(409,))
def add_line(invoice_id: str, body: AddLine):
    return tenant_call("billing", "add_invoice_line", invoice_id, payload(body))


@API.route("/invoices/<uuid:invoice_id>/lines/<uuid:line_id>", "PATCH", permission="billing:write",
           tag="invoices", body=ChangeLine, summary="Change a line of a draft", response=InvoiceDetail,
           statuses=(409,))
def change_line(invoice_id: str, line_id: str, body: ChangeLine):
    return tenant_call("billing", "update_invoice_line", invoice_id, line_id, payload(body))


@API.route("/invoices/<uuid:invoice_id>/lines/<uuid:line_id>", "DELETE", permission="billing:write",
           tag="invoices", summary="Remove a line of a draft (a time line's entries go back)",
           response=InvoiceDetail, statuses=(409,))
def remove_line(invoice_id: str, line_id: str):
    return tenant_call("billing", "remove_invoice_line", invoice_id, line_id)


@API.route("/invoices/<uuid:invoice_id>/issue", "POST", permission="billing:write", tag="invoices",
           body=IssueInvoice, summary="Issue a draft: its number, dates and PDF; its entries locked for good",
           response=InvoiceDetail, statuses=(409,))
def issue_invoice(invoice_id: str, body: IssueInvoice):
    return tenant_call("billing", "issue_invoice", invoice_id, payload(body))


@API.route("/invoices/<uuid:invoice_id>/payments", "POST", permission="billing:write", tag="invoices",
           body=RecordPayment, status=201, summary="Record a (partial) payment", response=InvoiceDetail,
           statuses=(409,))
def record_payment(invoice_id: str, body: RecordPayment):
    return tenant_call("billing", "record_payment", invoice_id, payload(body))


@API.route("/invoices/<uuid:invoice_id>/void", "POST", permission="billing:write", tag="invoices",
           body=VoidInvoice, summary="Void an issued invoice without payments (its entries go back)",
           response=InvoiceDetail, statuses=(409,))
def void_invoice(invoice_id: str, body: VoidInvoice):
    return tenant_call("billing", "void_invoice", invoice_id, payload(body))


@API.route("/invoices/<uuid:invoice_id>/credit-notes", "POST", permission="billing:write", tag="invoices",
           body=IssueCreditNote, status=201, summary="Issue a credit note against an issued invoice",
           response=InvoiceDetail, statuses=(409,))
def issue_credit_note(invoice_id: str, body: IssueCreditNote):
    return tenant_call("billing", "issue_credit_note", invoice_id, payload(body))


@API.route("/invoices/<uuid:invoice_id>/entries", "GET", permission="billing:read", tag="invoices",
           summary="The time entries on an invoice, raw minutes beside rounded", response=page_of(InvoiceEntry))
def invoice_entries(invoice_id: str):
    return tenant_call("billing", "invoice_entries", invoice_id)


@API.route("/invoices/<uuid:invoice_id>/pdf", "GET", permission="billing:read", tag="invoices",
           summary="The invoice as PDF (an issued one as it was issued)", produces="application/pdf")
def invoice_pdf(invoice_id: str):
    return _download(tenant_call("billing", "invoice_pdf", invoice_id), f"{invoice_id}.pdf", "application/pdf")


def _export(kind: str, query: ExportQuery, name: str, media_type: str) -> Response:
    return _download(tenant_call("billing", "export_invoices", kind, filters(query)), name, media_type)


@API.route("/exports/invoices.csv", "GET", permission="billing:read", tag="invoices", query=ExportQuery,
           summary="Invoices as CSV (one row each)", produces="text/csv")
def export_invoices_csv(query: ExportQuery):
    return _export("invoices_csv", query, "invoices.csv", "text/csv")


@API.route("/exports/quickbooks-online.csv", "GET", permission="billing:read", tag="invoices", query=ExportQuery,
           summary="Issued invoices as the QuickBooks Online invoice import CSV", produces="text/csv")
def export_quickbooks_online(query: ExportQuery):
    return _export("quickbooks_online", query, "quickbooks-invoices.csv", "text/csv")


@API.route("/exports/quickbooks.iif", "GET", permission="billing:read", tag="invoices", query=ExportQuery,
           summary="Issued invoices as an IIF file for QuickBooks Desktop", produces="application/octet-stream")
def export_quickbooks_iif(query: ExportQuery):
    return _export("quickbooks_iif", query, "quickbooks-invoices.iif", "application/octet-stream")


@API.route("/exports/time-entries.csv", "GET", permission="billing:read", tag="invoices", query=EntryExportQuery,
           summary="Time entries as CSV, with the invoice each is on", produces="text/csv")
def export_time_entries(query: EntryExportQuery):
    return _download(tenant_call("billing", "export_time_entries", filters(query)), "time-entries.csv", "text/csv")
