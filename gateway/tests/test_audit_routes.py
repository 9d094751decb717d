"""`/audit` and `/audit/export.csv` with the RpcClient double: owners and admins only, filters passed
on, the page shape, a streamed and bounded CSV."""
from __future__ import annotations

import csv
import io
import uuid

import pytest

from custops.errors import InvalidInput, ServiceUnavailable
from gateway.routes import audit as audit_routes

RECORD = {"id": str(uuid.uuid4()), "occurred_at": "2026-01-05T10:00:00+00:00",
          "recorded_at": "2026-01-05T10:00:01+00:00", "actor": {"type": "member", "id": str(uuid.uuid4())},
          "action": "member.role_changed", "target": {"type": "member", "id": str(uuid.uuid4())},
          "changes": {"role": {"before": "member", "after": "admin"}}, "request_id": "req-1", "trace_id": None,
          "ip": "203.0.113.7", "user_agent": "curl/8", "producer": "customers"}
COLUMNS = ["id", "occurred_at", "actor_type", "action", "changes"]


@pytest.mark.parametrize("role", ["member", "contractor", "read_only", "portal"])
def test_only_owners_and_admins_read_the_log(client, services, bearer, problem, role):
    services.on("customers", "list_audit", lambda *args: {"items": [], "next_cursor": None, "total": None})
    for path in ("/api/v1/audit", "/api/v1/audit/export.csv"):
        problem(client.get(path, headers=bearer(role)), 403)
    assert services.calls_to("customers", "list_audit") == []


def test_the_log_is_a_page_and_takes_its_filters(client, services, bearer, ids):
    services.on("customers", "list_audit", lambda *args: {"items": [RECORD], "next_cursor": "abc", "total": None})
    actor = str(uuid.uuid4())
    response = client.get(f"/api/v1/audit?actor_id={actor}&action=ticket.&from=2026-01-01T00:00:00Z"
                          "&to=2026-02-01T00:00:00%2B01:00&target_type=member&limit=10&cursor=xyz",
                          headers=bearer("admin"))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"items": [RECORD], "next_cursor": "abc", "total": None}
    [(tenant, filters, limit, cursor)] = services.calls_to("customers", "list_audit")
    assert (tenant, limit, cursor) == (ids["tenant"], 10, "xyz")
    assert filters == {"actor_id": actor, "action": "ticket.", "target_type": "member",
                       "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00+01:00"}


def test_bad_filters_are_refused_before_any_call(client, services, bearer, problem):
    services.on("customers", "list_audit", lambda *args: {"items": [], "next_cursor": None})
    for query in ("actor_type=robot", "actor_id=nope", "from=yesterday", "from=2026-01-01T00:00:00", "to=0.5",
                  "colour=red", "limit=0", "action="):
        problem(client.get(f"/api/v1/audit?{query}", headers=bearer("owner")), 422 if "colour" not in query else 400)
    assert services.calls_to("customers", "list_audit") == []
    services.on("customers", "list_audit", InvalidInput("invalid cursor", [{"field": "cursor", "message": "no"}]))
    problem(client.get("/api/v1/audit?cursor=forged", headers=bearer("owner")), 422)


def test_the_export_streams_every_page_as_csv(client, services, bearer):
    pages = {None: {"columns": COLUMNS, "rows": [["1", "t1", "member", "member.created", "{}"]], "next_cursor": "p2"},
             "p2": {"columns": COLUMNS, "rows": [["2", "t0", "system", "=HYPERLINK(1)", '{"a": 1}']],
                    "next_cursor": None}}
    services.on("customers", "export_audit", lambda tenant, filters, cursor, limit: pages[cursor])
    response = client.get("/api/v1/audit/export.csv?actor_type=system", headers=bearer("owner"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows == [COLUMNS, ["1", "t1", "member", "member.created", "{}"],
                    ["2", "t0", "system", "'=HYPERLINK(1)", '{"a": 1}']]  # no formula for a spreadsheet to run
    calls = services.calls_to("customers", "export_audit")
    assert [(f, c) for _, f, c, _ in calls] == [({"actor_type": "system"}, None), ({"actor_type": "system"}, "p2")]


def test_the_export_is_bounded(client, services, bearer, monkeypatch):
    monkeypatch.setattr(audit_routes, "EXPORT_MAX_ROWS", 3)
    endless = {"columns": ["id"], "rows": [["x"], ["y"]], "next_cursor": "more"}
    services.on("customers", "export_audit", lambda *args: endless)
    body = client.get("/api/v1/audit/export.csv", headers=bearer("admin")).get_data(as_text=True)
    assert body.splitlines() == ["id", "x", "y", "x"]
    assert len(services.calls_to("customers", "export_audit")) == 2


def test_an_export_whose_service_is_down_is_a_problem_not_an_empty_file(client, services, bearer, problem):
    services.on("customers", "export_audit", ServiceUnavailable("customers is not running"))
    problem(client.get("/api/v1/audit/export.csv", headers=bearer("owner")), 503)


def test_the_export_is_documented_as_csv(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    export = doc["paths"]["/api/v1/audit/export.csv"]["get"]
    assert list(export["responses"]["200"]["content"]) == ["text/csv"]
    assert export["x-permission"] == "audit:read"
    names = {p["name"] for p in export["parameters"]}
    assert {"actor_id", "action", "target_type", "target_id", "from", "to"} <= names and "cursor" not in names
    assert "AuditRecordPage" in doc["components"]["schemas"]
