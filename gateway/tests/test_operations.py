"""Health, readiness, metrics, tracing headers, audit lines, portal scoping and the token cache."""
from __future__ import annotations

import json
import logging
import uuid

import pytest

from gateway.app import create_app
from gateway.auth import TtlCache


def test_healthz_needs_nothing(client, services):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    assert services.calls == []


def test_readyz_is_a_503_problem_when_the_broker_is_unreachable(services, problem):
    app = create_app({"RPC_CLIENT": services, "AMQP_URI": "amqp://guest:guest@127.0.0.1:1//",
                      "READY_TIMEOUT": 1})
    doc = problem(app.test_client().get("/readyz"), 503)
    assert "broker" in doc["detail"]


@pytest.mark.integration  # reaches the real broker without a broker fixture
def test_readyz_is_ok_with_the_real_broker(services):
    app = create_app({"RPC_CLIENT": services})  # the local RabbitMQ of the test setup
    assert app.test_client().get("/readyz").status_code == 200


def test_a_request_continues_the_callers_trace(client, bearer, services):
    trace_id = uuid.uuid4().hex
    services.on("tickets", "list_tickets", lambda *args: {"items": [], "next_cursor": None})
    response = client.get("/api/v1/tickets", headers={**bearer(), "traceparent": f"00-{trace_id}-{'1' * 16}-01"})
    assert response.headers["X-Trace-Id"] == trace_id
    fresh = client.get("/api/v1/tickets", headers=bearer()).headers["X-Trace-Id"]
    assert len(fresh) == 32 and fresh != trace_id


def test_metrics_count_requests_by_route(client, bearer, services):
    services.on("tickets", "list_tickets", lambda *args: {"items": [], "next_cursor": None})

    def count():
        text = client.get("/metrics").get_data(as_text=True)
        line = [ln for ln in text.splitlines() if ln.startswith("custops_gateway_requests_total{")
                and 'route="/api/v1/tickets"' in ln and 'method="GET"' in ln and 'status="200"' in ln]
        return float(line[0].rsplit(" ", 1)[1]) if line else 0.0

    before = count()
    client.get("/api/v1/tickets", headers=bearer())
    assert count() == before + 1
    assert "custops_gateway_request_seconds_bucket" in client.get("/metrics").get_data(as_text=True)


def test_mutations_are_audited_and_tokens_never_logged(client, bearer, services, ids, caplog):
    services.on("tickets", "change_status", lambda tenant, ticket_id, status: {"id": ticket_id, "status": status})
    services.on("tickets", "get_ticket", lambda tenant, ticket_id: {"id": ticket_id,
                                                                    "customer_id": ids["assigned_customer"]})
    with caplog.at_level(logging.INFO):
        client.post(f"/api/v1/tickets/{uuid.uuid4()}/status", json={"status": "open"}, headers=bearer("member"))
        client.post(f"/api/v1/tickets/{uuid.uuid4()}/status", json={"status": "open"}, headers=bearer("portal"))
        client.get("/api/v1/tickets", headers=bearer())
    audit = [json.loads(r.getMessage()) for r in caplog.records if r.name == "custops.audit"]
    assert [(a["member_id"], a["method"], a["status"]) for a in audit] == [
        (ids["members"]["member"], "POST", 200), (ids["members"]["portal"], "POST", 403)]
    assert all(a["tenant_id"] == ids["tenant"] and a["remote_addr"] for a in audit)
    assert not any("token-of-" in r.getMessage() for r in caplog.records)


def test_portal_users_see_their_own_company_only(client, bearer, services, ids, problem):
    own, other = ids["portal_customer"], str(uuid.uuid4())
    services.on("tickets", "list_tickets", lambda tenant, filters, limit, cursor: {"items": [], "next_cursor": None})
    assert client.get("/api/v1/tickets", headers=bearer("portal")).status_code == 200
    (_, filters, _, _), = services.calls_to("tickets", "list_tickets")
    assert filters == {"customer_id": own}
    problem(client.get(f"/api/v1/tickets?customer_id={other}", headers=bearer("portal")), 403)

    services.on("tickets", "get_ticket", lambda tenant, ticket_id: {"id": ticket_id, "customer_id": other})
    problem(client.get(f"/api/v1/tickets/{uuid.uuid4()}", headers=bearer("portal")), 404)
    services.assigned.add(other)  # a member on that company's account team sees it
    assert client.get(f"/api/v1/tickets/{uuid.uuid4()}", headers=bearer("member")).status_code == 200

    services.on("tickets", "create_ticket", lambda tenant, payload: {"id": str(uuid.uuid4()), **payload})
    problem(client.post("/api/v1/tickets", json={"customer_id": other, "subject": "x"}, headers=bearer("portal")), 403)
    assert client.post("/api/v1/tickets", json={"customer_id": own, "subject": "x"},
                       headers=bearer("portal")).status_code == 201


def test_internal_timeline_entries_are_for_staff_only(client, bearer, services):
    services.on("timeline", "list_activities", lambda *args: {"items": [], "next_cursor": None})
    customer = str(uuid.uuid4())
    services.assigned.add(customer)  # both work on it; the contractor without internal access
    client.get(f"/api/v1/customers/{customer}/timeline?type=ticket.created&type=ticket.closed",
               headers=bearer("member"))
    client.get(f"/api/v1/customers/{customer}/timeline", headers=bearer("contractor"))
    (_, c1, f1, limit, cursor), (_, _, f2, _, _) = services.calls_to("timeline", "list_activities")
    assert (c1, f1, limit, cursor) == (customer, {"include_internal": True,
                                                  "types": ["ticket.created", "ticket.closed"]}, 50, None)
    assert f2 == {"include_internal": False}


def test_the_token_cache_expires():
    now = [0.0]
    cache = TtlCache(ttl=30, max_entries=2, clock=lambda: now[0])
    cache.put("a", "identity")
    assert cache.get("a") == (True, "identity")
    now[0] = 30.0
    assert cache.get("a") == (False, None)
    for key in "bcd":
        cache.put(key, key)
    assert cache.get("b") == (False, None) and cache.get("d") == (True, "d")  # bounded: oldest dropped
