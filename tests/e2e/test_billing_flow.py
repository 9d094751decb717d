"""From tracked time to a paid invoice over HTTP, through every process: a member logs a week of time
on a customer's ticket and on a task of the customer's project, the owner approves the week, uploads
the invoice logo, drafts and issues the invoice, downloads its PDF and the QuickBooks Online file
(their totals are the invoice's), records the payment; the invoiced entries are locked for good."""
from __future__ import annotations

import csv
import hashlib
import io
import uuid

import pypdf
from PIL import Image

from harness import create_customer, problem

MONDAY = "2026-03-02"  # a past week


def _ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def test_a_week_of_time_becomes_an_issued_paid_invoice_and_its_entries_lock(suite, tenant):
    owner = tenant.api
    customer = create_customer(owner)
    _ok(owner.put(f"/api/v1/billing-defaults/customers/{customer['id']}", json={"billable": True}))
    suffix = uuid.uuid4().hex[:8]
    max_ = _ok(owner.post("/api/v1/members", json={"email": f"max-{suffix}@team.example", "name": "Max",
                                                   "role": "member", "timezone": "UTC"}), 201)
    _ok(owner.put(f"/api/v1/customers/{customer['id']}/team/{max_['id']}", json={}), 200)
    api = suite.api(_ok(owner.post(f"/api/v1/members/{max_['id']}/tokens", json={"name": "laptop"}), 201)["token"])
    ticket = _ok(api.post("/api/v1/tickets", json={"customer_id": customer["id"], "subject": "Printer on fire"}), 201)

    entries = [_ok(api.post("/api/v1/time-entries", json={
        "customer_id": customer["id"], "ticket_id": ticket["id"], "minutes": minutes,
        "work_date": f"2026-03-0{2 + day}"}), 201) for day, minutes in enumerate([50, 65, 30, 120, 7])]
    # the work plan: a project of the customer with a task, made through the gateway's work-plan routes
    project = _ok(owner.post(f"/api/v1/customers/{customer['id']}/projects", json={"name": "Onboarding"}), 201)
    task = _ok(owner.post(f"/api/v1/projects/{project['id']}/tasks", json={"title": "Set up the printers"}), 201)
    task_entry = _ok(api.post("/api/v1/time-entries", json={
        "customer_id": customer["id"], "task_id": task["id"], "minutes": 90, "work_date": "2026-03-04"}), 201)
    assert task_entry["project_id"] == project["id"]  # the task's project, told by its owner
    week = f"/api/v1/timesheets/{max_['id']}/{MONDAY}"
    _ok(api.post(f"{week}/submit", json={}))
    _ok(owner.post(f"{week}/approve", json={}))

    _ok(owner.patch("/api/v1/billing/profile", json={"company_name": "Tenant Ltd", "payment_details": "IBAN X1",
                                                     "rounding_increment": 15, "payment_terms_days": 14}))
    logo = io.BytesIO()
    Image.new("RGB", (60, 20), (200, 30, 30)).save(logo, format="PNG")
    problem(owner.put("/api/v1/billing/profile/logo", data=b"GIF89a", headers={"Content-Type": "image/gif"}), 415)
    profile = _ok(owner.put("/api/v1/billing/profile/logo", data=logo.getvalue(),
                            headers={"Content-Type": "image/png"}))
    assert profile["logo_sha256"] == hashlib.sha256(logo.getvalue()).hexdigest()
    _ok(owner.patch(f"/api/v1/customers/{customer['id']}/billing", json={"currency": "EUR", "tax_name": "VAT",
                                                                        "tax_rate_ppm": 200_000}))
    _ok(owner.post("/api/v1/rates", json={"hourly_amount": 100_00, "currency": "EUR",
                                          "effective_from": "2026-01-01"}), 201)
    problem(api.post("/api/v1/invoices", json={"customer_id": customer["id"], "from": MONDAY,
                                               "to": "2026-03-08"}), 403)  # money is the owner's
    draft = _ok(owner.post("/api/v1/invoices", json={"customer_id": customer["id"], "from": MONDAY,
                                                     "to": "2026-03-08"}), 201)
    # a line per project: the task's project and the ticket time (no project)
    [task_line] = [li for li in draft["lines"] if li["project_id"] is not None]
    [line] = [li for li in draft["lines"] if li["project_id"] is None]
    assert len(draft["lines"]) == 2
    assert (task_line["project_id"], task_line["raw_minutes"], task_line["quantity_minutes"],
            task_line["amount"]) == (project["id"], 90, 90, 150_00)
    # named from billing's copy of the work plan's events, frozen on the line
    assert (task_line["project_name"], task_line["description"]) == ("Onboarding", "Onboarding")
    # 60 + 75 + 30 + 120 + 15 = 300 billed minutes of 272 tracked: 500.00
    assert (line["project_id"], line["raw_minutes"], line["quantity_minutes"], line["amount"]) == (None, 272, 300,
                                                                                                   500_00)
    # 650.00 + 130.00 VAT
    assert (draft["subtotal"], draft["tax_total"], draft["total"]) == (650_00, 130_00, 780_00)
    issued = _ok(owner.post(f"/api/v1/invoices/{draft['id']}/issue", json={"issue_date": "2026-03-09"}))
    assert (issued["status"], issued["number_text"], issued["due_date"]) == ("issued", "INV-0001", "2026-03-23")

    pdf = owner.get(f"/api/v1/invoices/{issued['id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    page = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0]
    text = page.extract_text()
    assert len(page.images) == 1  # the uploaded logo
    assert "INV-0001" in text and "780.00 EUR" in text and "Due date: 2026-03-23" in text and "Onboarding" in text
    qbo = owner.get("/api/v1/exports/quickbooks-online.csv")
    rows = list(csv.DictReader(io.StringIO(qbo.text)))
    assert {r["InvoiceNo"] for r in rows} == {"INV-0001"} and "Onboarding" in {r["ItemDescription"] for r in rows}
    assert sum(round(float(r["ItemAmount"]) * 100) + round(float(r["ItemTaxAmount"]) * 100) for r in rows) == 780_00

    part = _ok(owner.post(f"/api/v1/invoices/{issued['id']}/payments", json={"amount": 200_00,
                                                                              "paid_on": "2026-03-15"}), 201)
    assert (part["status"], part["balance_due"]) == ("issued", 580_00)
    paid = _ok(owner.post(f"/api/v1/invoices/{issued['id']}/payments", json={"amount": 580_00,
                                                                              "paid_on": "2026-03-20"}), 201)
    assert paid["status"] == "paid"

    locked = _ok(owner.get(f"/api/v1/time-entries/{entries[0]['id']}"))
    assert locked["locked"] is True and locked["invoiced_at"]
    problem(owner.patch(f"/api/v1/time-entries/{entries[0]['id']}", json={"minutes": 10}), 409)
    problem(owner.delete(f"/api/v1/time-entries/{entries[1]['id']}"), 409)
    assert _ok(owner.get(f"/api/v1/time-entries/{task_entry['id']}"))["locked"] is True
