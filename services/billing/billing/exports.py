"""Exports: CSV of time entries and of invoices, the QuickBooks Online invoice import CSV and the
IIF file QuickBooks Desktop imports. Pure: rows in, text out.

Decisions:
- Amounts are written from minor units exactly (`money.format_amount`: "1481.40"; "1000" for JPY).
- Time quantities are decimal hours with 4 decimals ("1.5000"); the amount column is the line's
  exact amount, never quantity x rate recomputed (a 7-minute line is 0.1167 h, its amount what the
  invoice says). Importers take the amount as given.
- QuickBooks Online: one row per invoice line, the invoice's columns repeated on each row (how its
  importer groups lines into invoices by `InvoiceNo`), dates MM/DD/YYYY (its default format),
  tax per line in `ItemTaxAmount` (`ItemTaxCode` the tax name, or "Reverse charge"/"Exempt"). The
  columns are `QBO_COLUMNS`, in that order.
- IIF: a TRNS row per invoice (debit to Accounts Receivable, the total) and an SPL row per line
  (credit to the income account, negative amount and quantity, as QuickBooks Desktop writes them)
  plus one SPL for the tax (credit to the tax payable account), then ENDTRNS: every transaction
  sums to zero. Tab-separated, tabs and newlines in text replaced by spaces.
- Only issued, paid and void invoices are exported (drafts are not accounting documents); a void
  invoice goes to IIF and QBO flagged in its memo with zero amounts, so the number series has no
  hole in the books.
- Names: invoice lines carry the project's (task's, member's) name as it was at the draft
  (`description`, and `project_name`/`task_name`/`member_name`); the entries CSV adds the
  project's and task's names from billing's copy (`billing.directory`), current ones.
- Spreadsheet formula injection: a text cell that begins with = + - @ gets a leading apostrophe
  (numbers are written by us and never start with those, except a minus sign on amounts).
"""
from __future__ import annotations

import csv
import io
from datetime import date

from billing.money import format_amount

QBO_COLUMNS = ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo",
               "Item(Product/Service)", "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount",
               "ItemTaxCode", "ItemTaxAmount", "Currency", "Service Date"]
INVOICE_COLUMNS = ["number", "status", "customer_id", "customer", "issue_date", "due_date", "period_from", "period_to",
                   "currency", "subtotal", "tax", "total", "paid", "credited", "balance_due", "invoice_id"]
ENTRY_COLUMNS = ["entry_id", "work_date", "member_id", "customer_id", "project_id", "task_id", "category",
                 "minutes", "billable", "approved", "invoice_id", "invoice_number", "raw_minutes", "rounded_minutes",
                 "project_name", "task_name"]
IIF_AR_ACCOUNT = "Accounts Receivable"
IIF_INCOME_ACCOUNT = "Services"
IIF_TAX_ACCOUNT = "Sales Tax Payable"
_ITEM_BY_KIND = {"time": "Services", "fixed_fee": "Fixed fee", "retainer": "Retainer", "expense": "Expenses",
                 "discount": "Discount", "item": "Services"}


def _safe(cell) -> str:
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _csv(header: list[str], rows: list[list], safe_columns: set[int]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(c) if i in safe_columns else ("" if c is None else c) for i, c in enumerate(row)])
    return out.getvalue()


def _us(d: date | None) -> str:
    return d.strftime("%m/%d/%Y") if d else ""


def _qty(line: dict) -> str:
    if line["kind"] == "time":
        minutes = line["quantity_minutes"]
        whole, rest = divmod(minutes * 10_000, 60)
        whole += 1 if rest * 2 >= 60 else 0  # half up at 4 decimals
        return f"{whole // 10_000}.{whole % 10_000:04d}"
    return str(line["quantity"] if line["quantity"] is not None else 1)


def _tax_code(invoice: dict) -> str:
    if invoice["reverse_charge"]:
        return "Reverse charge"
    return invoice["tax_name"] or ("Tax" if invoice["tax_rate_ppm"] else "Exempt")


def entries_csv(entries: list[dict]) -> str:
    rows = [[e["id"], e["work_date"], e["member_id"], e["customer_id"], e.get("project_id"), e.get("task_id"),
             e.get("category"), e["minutes"], e["billable"], e.get("approved_at") is not None, e.get("invoice_id"),
             e.get("invoice_number"), e.get("raw_minutes"), e.get("rounded_minutes"), e.get("project_name"),
             e.get("task_name")] for e in entries]
    return _csv(ENTRY_COLUMNS, rows, {6, 11, 14, 15})


def invoices_csv(invoices: list[dict]) -> str:
    rows = []
    for inv in invoices:
        c = inv["currency"]
        balance = inv["total"] - inv["amount_paid"] - inv["amount_credited"]
        rows.append([inv["number_text"] or "", inv["status"], inv["customer_id"], inv["customer_name"],
                     inv["issue_date"] or "", inv["due_date"] or "", inv["period_from"], inv["period_to"], c,
                     format_amount(inv["subtotal"], c), format_amount(inv["tax_total"], c),
                     format_amount(inv["total"], c), format_amount(inv["amount_paid"], c),
                     format_amount(inv["amount_credited"], c), format_amount(balance, c), inv["id"]])
    return _csv(INVOICE_COLUMNS, rows, {3})


def _exportable(invoices: list[tuple[dict, list[dict]]]):
    return [(inv, lines) for inv, lines in invoices if inv["status"] in ("issued", "paid", "void")]


def quickbooks_online_csv(invoices: list[tuple[dict, list[dict]]]) -> str:
    """`invoices`: (invoice row, its lines) pairs."""
    rows = []
    for inv, lines in _exportable(invoices):
        c, void = inv["currency"], inv["status"] == "void"
        memo = f"VOID: {inv['void_reason']}" if void else (inv["notes"] or "")
        for line in lines:
            rows.append([inv["number_text"], inv["customer_name"], _us(inv["issue_date"]), _us(inv["due_date"]),
                         f"Net {inv['payment_terms_days']}", "", memo, _ITEM_BY_KIND.get(line["kind"], "Services"),
                         line["description"], _qty(line),
                         format_amount(line["unit_price"] if line["kind"] != "discount" else line["amount"], c),
                         format_amount(0 if void else line["amount"], c), _tax_code(inv),
                         format_amount(0 if void else line["tax"], c), c, _us(inv["period_to"])])
    return _csv(QBO_COLUMNS, rows, {1, 6, 8, 12})


def _iif_text(value) -> str:
    return " ".join(str(value or "").replace("\t", " ").splitlines()).replace('"', "'")


def quickbooks_iif(invoices: list[tuple[dict, list[dict]]]) -> str:
    header = ["!TRNS\tTRNSID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\tDUEDATE\tTERMS",
              "!SPL\tSPLID\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\tPRICE\tQNTY\tINVITEM\tTAXABLE",
              "!ENDTRNS"]
    out = list(header)
    for inv, lines in _exportable(invoices):
        c, void = inv["currency"], inv["status"] == "void"
        name, doc, day = _iif_text(inv["customer_name"]), _iif_text(inv["number_text"]), _us(inv["issue_date"])
        total = 0 if void else inv["total"]
        memo = _iif_text(f"VOID: {inv['void_reason']}" if void else inv["notes"])
        out.append("\t".join(["TRNS", "", "INVOICE", day, IIF_AR_ACCOUNT, name, format_amount(total, c), doc, memo,
                              _us(inv["due_date"]), f"Net {inv['payment_terms_days']}"]))
        for line in lines:
            amount = 0 if void else line["amount"]
            out.append("\t".join(["SPL", "", "INVOICE", day, IIF_INCOME_ACCOUNT, name, format_amount(-amount, c), doc,
                                  _iif_text(line["description"]), format_amount(line["unit_price"], c),
                                  "-" + _qty(line), _ITEM_BY_KIND.get(line["kind"], "Services"),
                                  "Y" if line["taxable"] else "N"]))
        tax = 0 if void else inv["tax_total"]
        out.append("\t".join(["SPL", "", "INVOICE", day, IIF_TAX_ACCOUNT, _iif_text(_tax_code(inv)),
                              format_amount(-tax, c), doc, "Tax", "", "", "", "N"]))
        out.append("ENDTRNS")
    return "\r\n".join(out) + "\r\n"
