"""An invoice as a PDF, rendered with fpdf2 from an HTML template (`TEMPLATE`). Pure: rows in, bytes out.

Decisions:
- One A4 page layout (more pages as lines need): the tenant's logo, name, address and payment
  details; the customer and billing address; number, issue and due dates (a draft says DRAFT and
  has no number); the lines with quantity (hours for time, raw hours beside when rounding changed
  them), unit price, amount and tax; subtotal, tax (named, or "reverse charge"), total, paid,
  balance due. Amounts are formatted from minor units exactly (`billing.money`).
- Text is HTML-escaped into the template; fpdf2's `write_html` lays it out. A Unicode TrueType font
  (DejaVu Sans) is used when installed, else the core Helvetica with characters outside Latin-1
  replaced, so an unusual name never fails a render.
- The PDF of an issued invoice is rendered once, at issue, and stored by its SHA-256
  (`invoice_store.issue`): reprinting never changes what the customer received. Its creation date
  is the issue time, so the same invoice renders to the same bytes.
"""
from __future__ import annotations

import html
import io
import os
from datetime import datetime, timezone

from fpdf import FPDF

from billing.money import format_money, hours_text

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
PAGE_FORMAT = "A4"  # 210 x 297 mm

TEMPLATE = """
<h1>{title}</h1>
<p><b>{company}</b><br>{company_address}</p>
<p><b>Invoice {number}</b><br>Issue date: {issue_date}<br>Due date: {due_date}<br>Period: {period}</p>
<p><b>Bill to:</b> {customer}<br>{billing_address}</p>
<table width="100%" border="1">
<thead><tr><th width="34%">Description</th><th width="10%">Tracked</th><th width="12%">Quantity</th>
<th width="16%">Unit price</th><th width="15%">Amount</th><th width="13%">Tax</th></tr></thead>
<tbody>{rows}</tbody></table>
<table width="100%" border="0"><tbody>
<tr><td width="70%" align="right">Subtotal</td><td width="30%" align="right">{subtotal}</td></tr>
<tr><td align="right">{tax_label}</td><td align="right">{tax_total}</td></tr>
<tr><td align="right"><b>Total</b></td><td align="right"><b>{total}</b></td></tr>
<tr><td align="right">Paid</td><td align="right">{paid}</td></tr>
<tr><td align="right"><b>Balance due</b></td><td align="right"><b>{balance}</b></td></tr>
</tbody></table>
<p>{notes}</p>
<p><b>Payment details</b><br>{payment_details}</p>
"""


def _e(text) -> str:
    return html.escape(str(text or "")).replace("\n", "<br>")


def _cell(text) -> str:
    """Table cells take no markup (fpdf2): line breaks become commas."""
    return html.escape(", ".join(str(text or "").splitlines()))


def _quantity(line: dict) -> str:
    if line["kind"] == "time":
        return hours_text(line["quantity_minutes"]) + " h"
    return str(line["quantity"] if line["quantity"] is not None else 1)


def _tracked(line: dict) -> str:
    """Raw time beside the billed (rounded) time."""
    return hours_text(line["raw_minutes"]) + " h" if line.get("raw_minutes") is not None else ""


def _unit_price(line: dict, currency: str) -> str:
    if line["kind"] == "discount" and line.get("discount_bp") is not None:
        return f"{line['discount_bp'] / 100:g} %" if line["discount_bp"] % 100 else f"{line['discount_bp'] // 100} %"
    suffix = "/h" if line["kind"] == "time" else ""
    return format_money(line["unit_price"], currency) + suffix


class _Pdf(FPDF):
    def __init__(self, font: str, footer_text: str):
        super().__init__(format=PAGE_FORMAT)
        self._font, self._footer_text = font, footer_text

    def footer(self):
        self.set_y(-12)
        self.set_font(self._font, size=8)
        self.cell(0, 8, f"{self._footer_text} - page {self.page_no()}/{{nb}}", align="C")


def render(invoice: dict, lines: list[dict], profile: dict, logo: bytes | None = None) -> bytes:
    """The invoice (a row of `invoices`, its `invoice_lines` rows) as PDF bytes."""
    unicode_font = os.path.exists(os.path.join(FONT_DIR, "DejaVuSans.ttf"))
    font = "DejaVu" if unicode_font else "helvetica"
    currency = invoice["currency"]
    number = invoice["number_text"] or "DRAFT"
    pdf = _Pdf(font, f"{profile.get('company_name') or ''} {number}".strip())
    created = invoice.get("issued_at") or invoice.get("created_at") or datetime.now(timezone.utc)
    pdf.set_creation_date(created)
    pdf.set_title(f"Invoice {number}")
    pdf.set_author(profile.get("company_name") or "")
    if unicode_font:
        pdf.add_font("DejaVu", "", os.path.join(FONT_DIR, "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf"))
        pdf.add_font("DejaVu", "I", os.path.join(FONT_DIR, "DejaVuSans-Oblique.ttf"))
        pdf.add_font("DejaVu", "BI", os.path.join(FONT_DIR, "DejaVuSans-BoldOblique.ttf"))
    pdf.add_page()
    pdf.set_font(font, size=10)
    if logo:
        try:
            pdf.image(io.BytesIO(logo), x=pdf.w - pdf.r_margin - 40, y=10, w=40)
        except Exception:  # noqa: BLE001 - a broken logo must not stop an invoice
            pass
    rows = []
    for line in lines:
        rows.append(f"<tr><td>{_cell(line['description'])}</td><td align=\"right\">{_cell(_tracked(line))}</td>"
                    f"<td align=\"right\">{_cell(_quantity(line))}</td>"
                    f"<td align=\"right\">{_cell(_unit_price(line, currency))}</td>"
                    f"<td align=\"right\">{_cell(format_money(line['amount'], currency))}</td>"
                    f"<td align=\"right\">{_cell(format_money(line['tax'], currency))}</td></tr>")
    if invoice["reverse_charge"]:
        tax_label = f"{invoice['tax_name'] or 'Tax'}: reverse charge"
    elif invoice["tax_rate_ppm"]:
        tax_label = f"{invoice['tax_name'] or 'Tax'} {invoice['tax_rate_ppm'] / 10_000:g} %"
    else:
        tax_label = invoice["tax_name"] or "Tax"
    paid = invoice["amount_paid"] + invoice["amount_credited"]
    body = TEMPLATE.format(
        title="INVOICE" if invoice["status"] != "draft" else "INVOICE (DRAFT)",
        company=_e(profile.get("company_name")), company_address=_e(profile.get("address")),
        number=_e(number), issue_date=_e(invoice["issue_date"] or "-"), due_date=_e(invoice["due_date"] or "-"),
        period=_e(f"{invoice['period_from']} - {invoice['period_to']}"), customer=_e(invoice["customer_name"]),
        billing_address=_e(invoice.get("billing_address")), rows="".join(rows) or "<tr><td>-</td></tr>",
        subtotal=_e(format_money(invoice["subtotal"], currency)), tax_label=_e(tax_label),
        tax_total=_e(format_money(invoice["tax_total"], currency)), total=_e(format_money(invoice["total"], currency)),
        paid=_e(format_money(paid, currency)),
        balance=_e(format_money(invoice["total"] - paid, currency)), notes=_e(invoice.get("notes")),
        payment_details=_e(profile.get("payment_details")))
    if not unicode_font:
        body = body.encode("latin-1", "replace").decode("latin-1")
    pdf.write_html(body)
    return bytes(pdf.output())
