"""One slice through every process, over HTTP: gateway → RPC → services → outbox → events → read models."""
from __future__ import annotations

import re
import uuid

from harness import (create_customer, create_ticket, eventually, problem, reported_created,
                     timeline_types)

FLOW_DEADLINE = 15.0


def test_a_ticket_reaches_the_timeline_and_the_reports(tenant):
    api = tenant.api
    customer = create_customer(api)
    assert uuid.UUID(customer["id"])

    ticket = create_ticket(api, customer["id"], subject="Printer on fire")
    assert ticket["status"] == "new"
    fetched = api.get(f"/api/v1/tickets/{ticket['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["subject"] == "Printer on fire"
    assert fetched.json()["customer_id"] == customer["id"]

    eventually(lambda: {"customer.created", "ticket.created"} <= set(timeline_types(api, customer["id"])),
               FLOW_DEADLINE, "customer.created and ticket.created on the timeline")
    eventually(lambda: reported_created(api, customer["id"]) == 1, FLOW_DEADLINE,
               "the ticket-volume report counts the ticket")

    changed = api.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "open"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "open"
    eventually(lambda: "ticket.status_changed" in timeline_types(api, customer["id"]), FLOW_DEADLINE,
               "ticket.status_changed on the timeline")
    assert reported_created(api, customer["id"]) == 1  # a status change is not a new ticket

    entry = api.post("/api/v1/time-entries", json={
        "customer_id": customer["id"], "ticket_id": ticket["id"], "minutes": 25, "billable": True,
        "note": "replaced toner"})
    assert entry.status_code == 201, entry.text
    assert entry.json()["minutes"] == 25


def test_malformed_json_is_a_400_problem(tenant):
    response = tenant.api.post("/api/v1/customers", data=b'{"name": "Acme", "tier": ',
                               headers={"Content-Type": "application/json"})
    problem(response, 400)


def test_a_wrongly_typed_field_is_named_in_a_400(tenant):
    response = tenant.api.post("/api/v1/customers", json={"name": 123, "tier": "smb", "domains": []})
    doc = problem(response, 400)
    assert "name" in [e["field"] for e in doc["errors"]], doc


def test_an_unknown_field_is_a_400(tenant):
    response = tenant.api.post("/api/v1/customers", json={
        "name": "Acme", "tier": "smb", "domains": [], "is_admin": True})
    doc = problem(response, 400)
    assert any("is_admin" in e["field"] for e in doc["errors"]), doc


def test_a_request_without_a_token_is_a_401(suite):
    problem(suite.api().get("/api/v1/customers"), 401)
    problem(suite.api("not-a-token").get("/api/v1/customers"), 401)


def test_another_tenants_records_are_not_found_and_stay_unchanged(suite, tenant):
    owner = tenant.api
    customer = create_customer(owner, name="Owned by A")
    ticket = create_ticket(owner, customer["id"], subject="A's ticket")
    intruder = suite.new_tenant().api

    problem(intruder.get(f"/api/v1/customers/{customer['id']}"), 404)
    problem(intruder.get(f"/api/v1/tickets/{ticket['id']}"), 404)
    problem(intruder.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "closed"}), 404)
    assert ticket["id"] not in [t["id"] for t in intruder.get("/api/v1/tickets").json()["items"]]

    assert owner.get(f"/api/v1/customers/{customer['id']}").json()["name"] == "Owned by A"
    after = owner.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert (after["status"], after["subject"]) == ("new", "A's ticket")


def test_a_closed_ticket_cannot_be_reopened(tenant):
    api = tenant.api
    ticket = create_ticket(api, create_customer(api)["id"])
    closed = api.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "closed"})
    assert closed.status_code == 200, closed.text
    doc = problem(api.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "open"}), 422)
    assert "status" in [e["field"] for e in doc.get("errors", [])], doc
    assert api.get(f"/api/v1/tickets/{ticket['id']}").json()["status"] == "closed"


def test_one_trace_runs_from_the_gateway_through_rpc_and_events(suite, tenant):
    api = tenant.api
    customer = create_customer(api)
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    response = api.post("/api/v1/tickets", json={"customer_id": customer["id"], "subject": "Traced"},
                        headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert response.status_code == 201, response.text
    if "X-Trace-Id" in response.headers:
        assert response.headers["X-Trace-Id"] == trace_id

    # JSON log lines carry "trace_id": "<32 hex>"; console spans carry "trace_id": "0x<32 hex>"
    pattern = re.compile(rf'"trace_id": "(0x)?{trace_id}"')

    def logged_by(*names):
        return [n for n in names if pattern.search(suite.log(n))]

    eventually(lambda: logged_by("gateway", "tickets", "timeline") == ["gateway", "tickets", "timeline"],
               FLOW_DEADLINE, f"trace {trace_id} in the gateway, tickets and timeline logs")
