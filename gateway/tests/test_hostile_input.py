"""Hostile input is refused as a class, on every route, before any service is called: NUL characters
in text, deep nesting, dates outside 1970..2100, unknown enum values, malformed path ids. And one rule
for the status: 400 when the request is not shaped like what the route takes, 422 when a value is not
acceptable (docs/api.md)."""
from __future__ import annotations

import json
import re
import typing
import uuid
from datetime import date, datetime

import pytest
from pydantic import BaseModel

from gateway.api import load

CUSTOMER = str(uuid.uuid4())


def _service_calls(services) -> list:
    return [c for c in services.calls if c[1] != "authenticate"]


# --- NUL characters (PostgreSQL refuses them in text: a 502 before) ---

@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/customers", {"name": "Acme\u0000", "tier": "smb"}, "name"),
    ("/api/v1/customers", {"name": "Acme", "tier": "smb", "domains": ["ok.example", "a\u0000.example"]}, "domains.1"),
    ("/api/v1/tickets", {"customer_id": CUSTOMER, "subject": "Printer\u0000 on fire"}, "subject"),
    ("/api/v1/tickets", {"customer_id": CUSTOMER, "subject": "x", "tags": ["ok", "b\u0000d"]}, "tags.1"),
    ("/api/v1/tickets", {"customer_id": CUSTOMER, "subject": "x", "description": "\u0000"}, "description"),
    (f"/api/v1/tickets/{uuid.uuid4()}/messages", {"kind": "reply", "body": "hi\u0000"}, "body"),
    (f"/api/v1/customers/{CUSTOMER}/interactions", {"kind": "call", "summary": "\u0000"}, "summary"),
    ("/api/v1/customers", {"name\u0000": "Acme", "tier": "smb"}, "name\\u0000"),
])
def test_a_nul_in_any_text_of_a_body_is_a_422_naming_the_field(client, bearer, problem, services, path, body, field):
    doc = problem(client.post(path, json=body, headers=bearer()), 422)
    assert field in [e["field"] for e in doc["errors"]], doc
    assert "NUL" in json.dumps(doc)
    assert _service_calls(services) == []


@pytest.mark.parametrize("path, query, field", [
    ("/api/v1/customers", "q=ac%00me", "q"),
    ("/api/v1/tickets", "status=open%00", "status"),
    ("/api/v1/tickets", "tag=a%00", "tag"),
    ("/api/v1/tickets", "category=%00", "category"),
    (f"/api/v1/customers/{CUSTOMER}/timeline", "type=ticket.created%00", "type"),
])
def test_a_nul_in_a_query_filter_is_a_422_naming_it(client, bearer, problem, services, path, query, field):
    doc = problem(client.get(f"{path}?{query}", headers=bearer()), 422)
    assert field in [e["field"] for e in doc["errors"]], doc
    assert _service_calls(services) == []


def test_a_nul_in_a_text_calendar_body_is_a_422(client, bearer, problem, services):
    response = client.post("/api/v1/sla/calendar/holidays", data="BEGIN:VCALENDAR\u0000",
                           headers={**bearer(), "Content-Type": "text/calendar"})
    assert problem(response, 422)["errors"][0]["field"] == "ics"
    assert _service_calls(services) == []


# --- nesting (a RecursionError and a 500 before) ---

@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_deeply_nested_json_is_a_400(client, bearer, problem, services, depth):
    body = '{"name": ' + "[" * depth + "]" * depth + ', "tier": "smb"}'
    response = client.post("/api/v1/customers", data=body, headers={**bearer(), "Content-Type": "application/json"})
    assert "nested deeper than 32" in problem(response, 400)["detail"]
    assert _service_calls(services) == []


def test_nesting_within_the_bound_is_read(client, bearer, problem):
    body = '{"name": ' + "[" * 30 + "]" * 30 + ', "tier": "smb"}'
    response = client.post("/api/v1/customers", data=body, headers={**bearer(), "Content-Type": "application/json"})
    assert problem(response, 400)["errors"][0]["field"] == "name"  # read, then refused as the wrong type


def test_brackets_inside_strings_are_not_nesting(client, bearer, services):
    services.on("customers", "create_customer", lambda tenant, body: {"id": CUSTOMER, **body})
    name = "[" * 100 + '\\"{' * 50
    response = client.post("/api/v1/customers", data='{"name": "%s", "tier": "smb"}' % name,
                           headers={**bearer(), "Content-Type": "application/json"})
    assert response.status_code == 201, response.get_data(as_text=True)


# --- dates outside the window (year 0001 and 9999 were stored before) ---

@pytest.mark.parametrize("day", ["0001-01-01", "1969-12-31", "2101-01-01", "9999-12-31"])
def test_a_work_date_outside_1970_2100_is_a_422(client, bearer, problem, services, day):
    response = client.post("/api/v1/time-entries", headers=bearer(),
                           json={"customer_id": CUSTOMER, "minutes": 5, "work_date": day})
    assert [e["field"] for e in problem(response, 422)["errors"]] == ["work_date"]
    assert _service_calls(services) == []


@pytest.mark.parametrize("path, query, field", [
    ("/api/v1/tickets", "due_before=9999-12-31T00:00:00%2B00:00", "due_before"),
    ("/api/v1/tickets", "due_before=0001-01-01T00:00:00Z", "due_before"),
    ("/api/v1/time-entries", "from=0001-01-01", "from"),
    ("/api/v1/time-entries", "to=9999-01-01", "to"),
    ("/api/v1/tickets", "due_before=0.5", "due_before"),  # a number was read as a Unix timestamp (schemathesis)
    ("/api/v1/time-entries", "to=0", "to"),
])
def test_a_date_filter_outside_the_window_is_a_422(client, bearer, problem, services, path, query, field):
    assert field in [e["field"] for e in problem(client.get(f"{path}?{query}", headers=bearer()), 422)["errors"]]
    assert _service_calls(services) == []


def test_an_occurred_at_in_year_1_is_a_422(client, bearer, problem, services):
    response = client.post(f"/api/v1/customers/{CUSTOMER}/interactions", headers=bearer(),
                           json={"kind": "call", "summary": "x", "occurred_at": "0001-01-01T00:00:00Z"})
    assert [e["field"] for e in problem(response, 422)["errors"]] == ["occurred_at"]


def test_holidays_outside_the_window_are_a_422(client, bearer, problem):
    response = client.put("/api/v1/sla/calendar", headers=bearer(), json={"holidays": ["2026-12-25", "9999-12-25"]})
    assert [e["field"] for e in problem(response, 422)["errors"]] == ["holidays.1"]


def _date_fields(model, where=""):
    """(field, annotation) of every date/datetime a model takes, nested models included."""
    for name, info in model.model_fields.items():
        for arg in _flatten(info.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from _date_fields(arg, f"{where}{name}.")
            elif arg in (date, datetime):
                yield f"{where}{name}", info


def _flatten(annotation):
    args = typing.get_args(annotation)
    if not args:
        yield annotation
    for arg in args:
        yield from _flatten(arg)


def test_every_date_a_route_takes_is_bounded_in_its_schema():
    """The class guard: a route model with a plain `date` would be bounded at run time anyway
    (custops.validation.window_errors), but its schema would not say so; use Date / Instant."""
    unbounded = []
    for endpoint in load().endpoints:
        for model in (endpoint.body, endpoint.query):
            if model is None:
                continue
            schema = json.dumps(model.model_json_schema())
            for field, _ in _date_fields(model):
                if '"formatMinimum": "1970-01-01' not in schema:
                    unbounded.append(f"{endpoint.method} {endpoint.rule}: {model.__name__}.{field}")
    assert unbounded == []


# --- enum filters (status=bogus was a 200 with nothing) ---

@pytest.mark.parametrize("path, query, field", [
    ("/api/v1/tickets", "status=bogus", "status"),
    ("/api/v1/tickets", "priority=bogus", "priority"),
    ("/api/v1/tickets", "assignee=somebody", "assignee"),
    ("/api/v1/customers", "tier=bogus", "tier"),
    (f"/api/v1/customers/{CUSTOMER}/timeline", "type=bogus", "type.0"),
])
def test_an_unknown_enum_filter_value_is_a_422(client, bearer, problem, services, path, query, field):
    doc = problem(client.get(f"{path}?{query}", headers=bearer()), 422)
    assert field in [e["field"] for e in doc["errors"]], doc
    assert _service_calls(services) == []


@pytest.mark.parametrize("path, body, field", [
    (f"/api/v1/tickets/{uuid.uuid4()}/status", {"status": "bogus"}, "status"),
    ("/api/v1/tickets", {"customer_id": CUSTOMER, "subject": "x", "source": "pigeon"}, "source"),
    ("/api/v1/sla/settings", {"pause_statuses": ["bogus"]}, "pause_statuses.0"),
    ("/api/v1/sla/policies", {"tier": "galactic"}, "tier"),
    # (a tenant may define its own kinds, so an unknown well-formed kind is the timeline's to refuse)
    (f"/api/v1/customers/{CUSTOMER}/interactions", {"kind": "Tele pathy!", "summary": "x"}, "kind"),
])
def test_an_unknown_enum_value_in_a_body_is_a_422(client, bearer, problem, services, path, body, field):
    method = client.put if path.startswith("/api/v1/sla/") else client.post
    doc = problem(method(path, json=body, headers=bearer()), 422)
    assert field in [e["field"] for e in doc["errors"]], doc
    assert _service_calls(services) == []


# --- one rule: 400 malformed, 422 invalid ---

@pytest.mark.parametrize("body, status", [
    ({"name": 5, "tier": "smb"}, 400),  # wrong JSON type
    ({"name": "Acme", "tier": 5}, 400),  # a number where the enum's strings go: the wrong type too
    ({"tier": "smb"}, 400),  # missing
    ({"name": "Acme", "tier": "smb", "colour": "red"}, 400),  # unknown
    ({"name": "", "tier": "smb"}, 422),  # too short
    ({"name": "x" * 501, "tier": "smb"}, 422),  # too long
    ({"name": "Acme", "tier": "galactic"}, 422),  # not an allowed value
    ({"name": "Acme", "tier": "smb", "owner_id": "not-a-uuid"}, 422),  # bad format
])
def test_malformed_is_400_and_invalid_is_422(client, bearer, problem, body, status):
    problem(client.post("/api/v1/customers", json=body, headers=bearer()), status)


# --- malformed ids in paths (werkzeug's anonymous 404 before) ---

@pytest.mark.parametrize("path, field", [
    ("/api/v1/tickets/not-a-uuid", "ticket_id"),
    ("/api/v1/tickets/123/messages", "ticket_id"),
    ("/api/v1/customers/%00/timeline", "customer_id"),
    ("/api/v1/canned-responses/x/render", "canned_id"),
])
def test_a_malformed_path_id_is_a_404_naming_the_parameter(client, bearer, problem, services, path, field):
    method = client.post if path.endswith("/render") else client.get
    doc = problem(method(path, headers=bearer(), json={"ticket_id": str(uuid.uuid4())}
                         if path.endswith("/render") else None), 404)
    assert doc["errors"] == [{"field": field, "message": "must be a UUID"}]
    assert field in doc["detail"]
    assert _service_calls(services) == []


def test_any_spelling_of_a_uuid_reaches_the_view_in_canonical_form(client, bearer, services):
    ticket_id = uuid.uuid4()
    services.on("tickets", "get_ticket", lambda tenant, tid: {"id": tid, "customer_id": CUSTOMER})
    response = client.get(f"/api/v1/tickets/{str(ticket_id).upper()}", headers=bearer())
    assert response.status_code == 200
    (_tenant, passed), = services.calls_to("tickets", "get_ticket")
    assert passed == str(ticket_id)


def test_every_uuid_parameter_in_the_route_table_names_itself_when_malformed(client, bearer, services):
    for endpoint in load().endpoints:
        if "<uuid:" not in endpoint.rule:
            continue
        path = "/api/v1" + re.sub(r"<uuid:[^>]+>", "nope", endpoint.rule)
        response = client.open(path, method=endpoint.method, headers=bearer(), json={})
        assert response.status_code == 404, (endpoint.method, path, response.get_data(as_text=True))
        fields = {e["field"] for e in response.get_json()["errors"]}
        assert fields == set(re.findall(r"<uuid:([^>]+)>", endpoint.rule)), (endpoint.method, path)
    assert _service_calls(services) == []


@pytest.mark.parametrize("fraction", [5e-324, 1e-9, 0.009])
def test_a_warning_lead_of_almost_nothing_is_a_422(client, bearer, problem, services, fraction):
    """A fraction whose share of a target rounds to nothing put the warning at the very start of a timer that
    started paused (no deadline), and the SLA clock thread died on it, taking the tickets service down
    (found by schemathesis; the service-side defect is reported)."""
    doc = problem(client.put("/api/v1/sla/settings", json={"warning_fraction": fraction}, headers=bearer()), 422)
    assert doc["errors"][0]["field"] == "warning_fraction"
    assert _service_calls(services) == []
