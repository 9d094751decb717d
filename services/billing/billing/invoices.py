"""Invoice rules: statuses, what may change when, numbering, payments, credit notes. Pure.

Decisions:
- **Statuses**: `draft -> issued -> paid`, and `issued -> void`. A draft is edited freely (lines,
  expenses, discounts, notes) and may be discarded (its entries go back). Issuing assigns the
  tenant's next number (`number_text`: prefix + the number, zero-padded to 4), the issue date and
  the due date (issue date + payment terms), and locks the entries for good (their `invoice_id`
  and `invoiced_at`). An issued invoice never changes its lines: a correction is a credit note.
- **Numbers** come from a per-tenant counter row incremented in the issuing transaction: no gaps
  (a rolled-back issue gives the number back), no duplicates (the row lock serialises issues), and
  drafts have none. A void invoice keeps its number (the series shows it void, not missing).
  Credit notes have a series of their own.
- **Payments**: any positive amount up to the balance due (total - paid - credited); more is
  refused (422) rather than stored as an overpayment. When the balance reaches 0 the invoice is
  `paid`. A payment on a draft or a void invoice is refused (409).
- **Void**: only an issued invoice with no payments and no credit notes (one with money against it
  is corrected by a credit note). Voiding releases its entries, fixed fees and retainer usage so a
  new draft may bill them again.
- **Credit notes**: against an issued or paid invoice, a positive gross amount up to its total less
  what is already credited (a refund of a paid invoice is a credit note too); it lowers the balance
  due, and a balance of 0 or less makes an issued invoice `paid` (settled).
- **Overdue**: an issued invoice whose due date is before today (the tenant's) and whose balance is
  above 0; told once (`invoice.overdue`). "Today" is the calendar day in the tenant's timezone
  (billing's copy from `tenant.*`; a tenant not copied yet counts in UTC): a due date is a day on
  the tenant's calendar, so near midnight UTC's day would call an Auckland invoice overdue hours
  late, or a Los Angeles one hours early. `days_overdue` counts from that same local day.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from billing import weeks

from custops.errors import Conflict, InvalidInput

NUMBER_WIDTH = 4
EDITABLE_LINE_KINDS = ("expense", "discount", "item")


def number_text(prefix: str, number: int) -> str:
    return f"{prefix}{number:0{NUMBER_WIDTH}d}"


def due_date(issue_date: date, terms_days: int) -> date:
    return issue_date + timedelta(days=terms_days)


def check_draft(invoice: dict, action: str) -> None:
    if invoice["status"] != "draft":
        raise Conflict(f"invoice {invoice['id']} is {invoice['status']}: only a draft may {action}"
                       + ("; correct an issued invoice with a credit note" if invoice["status"] != "void" else ""))


def check_issuable(invoice: dict, lines: list[dict]) -> None:
    check_draft(invoice, "be issued")
    if not lines:
        raise Conflict(f"invoice {invoice['id']} has no lines")


def balance_due(invoice: dict) -> int:
    return invoice["total"] - invoice["amount_paid"] - invoice["amount_credited"]


def check_payment(invoice: dict, amount: int) -> str:
    """The status after a payment of `amount` (refusing what may not be paid)."""
    if invoice["status"] not in ("issued",):
        raise Conflict(f"invoice {invoice['id']} is {invoice['status']}: payments go on an issued invoice")
    if amount > balance_due(invoice):
        raise InvalidInput("the payment is more than the balance due", [
            {"field": "amount", "message": f"must be at most {balance_due(invoice)} (the balance due)"}])
    return "paid" if amount == balance_due(invoice) else "issued"


def check_void(invoice: dict) -> None:
    if invoice["status"] != "issued":
        raise Conflict(f"invoice {invoice['id']} is {invoice['status']}: only an issued invoice may be voided"
                       + (" (discard a draft instead)" if invoice["status"] == "draft" else ""))
    if invoice["amount_paid"] or invoice["amount_credited"]:
        raise Conflict(f"invoice {invoice['id']} has payments or credit notes: correct it with a credit note")


def check_credit(invoice: dict, amount: int) -> str:
    """The status after a credit note of `amount`."""
    if invoice["status"] not in ("issued", "paid"):
        raise Conflict(f"invoice {invoice['id']} is {invoice['status']}: credit notes go on an issued invoice")
    room = invoice["total"] - invoice["amount_credited"]
    if amount > room:
        raise InvalidInput("the credit note is more than the invoice's uncredited total", [
            {"field": "amount", "message": f"must be at most {room}"}])
    after = {**invoice, "amount_credited": invoice["amount_credited"] + amount}
    return "paid" if balance_due(after) <= 0 else invoice["status"]


def tenant_today(now: datetime, tenant_timezone: str | None) -> date:
    """The calendar day at `now` in the tenant's timezone (UTC if unknown or not a zone)."""
    return weeks.local_day(now, tenant_timezone or "UTC")


def is_overdue(invoice: dict, today: date) -> bool:
    """Issued, due before `today` (the tenant's day, see `tenant_today`) and with a balance."""
    return (invoice["status"] == "issued" and invoice["due_date"] is not None and invoice["due_date"] < today
            and balance_due(invoice) > 0)


def check_line_edit(line: dict, given: dict) -> None:
    """Time, fee and retainer lines keep their quantities and amounts (they come from the entries
    and the agreements): only their description and a time line's unit price may change. Expense,
    discount and item lines change freely."""
    if line["kind"] in EDITABLE_LINE_KINDS:
        return
    allowed = {"description", "taxable"} | ({"unit_price"} if line["kind"] == "time" else set())
    refused = sorted(set(given) - allowed)
    if refused:
        raise InvalidInput(f"a {line['kind']} line's {', '.join(refused)} come from its entries or agreement", [
            {"field": f, "message": f"not editable on a {line['kind']} line"} for f in refused])
