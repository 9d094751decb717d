"""Bad input is a 4xx problem document, never a 500; service errors map to their statuses."""
from __future__ import annotations

import json
import logging
import uuid

import pytest
from nameko.exceptions import RemoteError

from custops.errors import Conflict, InvalidInput, NotFound, ServiceTimeout, ServiceUnavailable

CUSTOMER = {"name": "Acme", "tier": "smb", "domains": ["acme.example"]}


def test_malformed_json_is_a_400(client, bearer, problem, services):
    response = client.post("/api/v1/customers", data=b'{"name": "Acme", "tier": ',
                           headers={**bearer(), "Content-Type": "application/json"})
    assert "not valid JSON" in problem(response, 400)["detail"]
    assert services.calls_to("customers", "create_customer") == []


def test_a_json_array_body_is_a_400(client, bearer, problem):
    response = client.post("/api/v1/customers", json=[CUSTOMER], headers=bearer())
    assert problem(response, 400)["errors"] == [{"field": "body", "message": "must be a JSON object"}]


def test_a_wrongly_typed_field_is_named(client, bearer, problem):
    response = client.post("/api/v1/customers", json={**CUSTOMER, "name": 123}, headers=bearer())
    assert [e["field"] for e in problem(response, 400)["errors"]] == ["name"]


def test_numbers_in_strings_are_not_coerced(client, bearer, problem):
    response = client.post("/api/v1/time-entries", headers=bearer(),
                           json={"customer_id": str(uuid.uuid4()), "minutes": "30"})
    assert [e["field"] for e in problem(response, 400)["errors"]] == ["minutes"]


def test_a_number_without_a_fraction_is_an_integer_as_json_schema_says(client, bearer, problem, services):
    services.on("billing", "log_time", lambda tenant, member, body: {"id": str(uuid.uuid4()), **body})
    response = client.post("/api/v1/time-entries", headers=bearer(),
                           json={"customer_id": str(uuid.uuid4()), "minutes": 30.0})
    assert response.status_code == 201, response.get_data(as_text=True)
    (_tenant, _member, body), = services.calls_to("billing", "log_time")
    assert body["minutes"] == 30 and isinstance(body["minutes"], int)
    problem(client.post("/api/v1/time-entries", headers=bearer(),
                        json={"customer_id": str(uuid.uuid4()), "minutes": 30.5}), 400)


def test_an_unknown_field_is_a_400(client, bearer, problem):
    response = client.post("/api/v1/customers", json={**CUSTOMER, "is_admin": True}, headers=bearer())
    assert [e["field"] for e in problem(response, 400)["errors"]] == ["is_admin"]


def test_a_missing_required_field_is_a_400(client, bearer, problem):
    response = client.post("/api/v1/tickets", json={"subject": "x"}, headers=bearer())
    assert [e["field"] for e in problem(response, 400)["errors"]] == ["customer_id"]


def test_a_body_that_is_not_json_is_a_415(client, bearer, problem):
    response = client.post("/api/v1/customers", data="name=Acme",
                           headers={**bearer(), "Content-Type": "application/x-www-form-urlencoded"})
    problem(response, 415)


@pytest.mark.parametrize("query, field", [
    ("limit=abc", "limit"), ("colour=red", "colour"), ("limit=5&limit=6", "limit")])
def test_malformed_query_parameters_are_a_400(client, bearer, problem, query, field):
    response = client.get(f"/api/v1/customers?{query}", headers=bearer())
    assert field in [e["field"] for e in problem(response, 400)["errors"]]


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=100000", "limit"), ("tier=galactic", "tier"), ("owner_id=nope", "owner_id")])
def test_well_formed_but_invalid_query_values_are_a_422(client, bearer, problem, query, field):
    response = client.get(f"/api/v1/customers?{query}", headers=bearer())
    assert field in [e["field"] for e in problem(response, 422)["errors"]]


def test_query_parameters_reach_the_service_typed(client, bearer, services):
    services.on("customers", "list_customers", lambda *args: {"items": [], "next_cursor": None})
    response = client.get("/api/v1/customers?tier=smb&limit=7&cursor=abc", headers=bearer())
    assert response.status_code == 200, response.get_data(as_text=True)
    (tenant, filters, limit, cursor), = services.calls_to("customers", "list_customers")
    assert (filters, limit, cursor) == ({"tier": "smb"}, 7, "abc")


def test_no_token_is_a_401_with_a_challenge(client, problem, services):
    response = client.get("/api/v1/customers")
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert services.calls_to("customers", "authenticate") == []


@pytest.mark.parametrize("header", ["Bearer nope", "Basic dXNlcjpwYXNz", "Bearer "])
def test_an_invalid_token_is_a_401(client, problem, header):
    response = client.get("/api/v1/customers", headers={"Authorization": header})
    problem(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_tokens_are_cached_per_process(client, bearer, services):
    services.on("customers", "list_customers", lambda *args: {"items": [], "next_cursor": None})
    for _ in range(3):
        assert client.get("/api/v1/customers", headers=bearer()).status_code == 200
    assert len(services.calls_to("customers", "authenticate")) == 1


def test_the_tenant_comes_from_the_token_only(client, bearer, services, ids):
    services.on("tickets", "create_ticket", lambda tenant, payload: {"id": str(uuid.uuid4()), "status": "new"})
    response = client.post("/api/v1/tickets", headers=bearer(), json={
        "customer_id": str(uuid.uuid4()), "subject": "hi", "tenant_id": str(uuid.uuid4())})
    assert response.status_code == 400  # tenant_id is not an input
    assert services.calls_to("tickets", "create_ticket") == []


def test_a_created_ticket_is_a_201_with_its_location(client, bearer, services, ids):
    new_id = str(uuid.uuid4())
    services.on("tickets", "create_ticket", lambda tenant, payload: {"id": new_id, "status": "new", **payload})
    customer_id = str(uuid.uuid4())
    response = client.post("/api/v1/tickets", headers=bearer(), json={"customer_id": customer_id, "subject": "hi"})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/tickets/{new_id}"
    assert response.get_json()["id"] == new_id
    (tenant, payload), = services.calls_to("tickets", "create_ticket")
    assert tenant == ids["tenant"]
    assert payload == {"customer_id": customer_id, "subject": "hi"}  # defaults are the service's


def test_time_is_logged_as_the_tokens_member(client, bearer, services, ids):
    services.on("billing", "log_time", lambda tenant, member, payload: {"id": str(uuid.uuid4()), "minutes": 5})
    response = client.post("/api/v1/time-entries", headers=bearer("contractor"),
                           json={"customer_id": ids["assigned_customer"], "minutes": 5})
    assert response.status_code == 201
    (tenant, member, _payload), = services.calls_to("billing", "log_time")
    assert (tenant, member) == (ids["tenant"], ids["members"]["contractor"])


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/tickets/not-a-uuid",
                                  "/api/v1/customers/123/timeline", "/favicon.ico"])
def test_unknown_routes_and_malformed_ids_are_a_404(client, bearer, problem, path):
    problem(client.get(path, headers=bearer()), 404)


def test_a_wrong_method_is_a_405_with_allow(client, bearer, problem):
    response = client.delete("/api/v1/tickets", headers=bearer())
    problem(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("error, status", [
    (NotFound("ticket x not found"), 404),
    (Conflict("already there"), 409),
    (ServiceUnavailable("service tickets is not running"), 503),
    (ServiceTimeout("tickets.get_ticket did not answer within 5s"), 504),
    (RemoteError("KeyError", "'secret internals'"), 502),
])
def test_service_errors_map_to_statuses(client, bearer, problem, services, error, status):
    services.on("tickets", "get_ticket", error)
    doc = problem(client.get(f"/api/v1/tickets/{uuid.uuid4()}", headers=bearer()), status)
    assert "secret internals" not in json.dumps(doc)


def test_invalid_input_from_a_service_is_a_422_with_its_field_errors(client, bearer, problem, services):
    services.on("tickets", "change_status", InvalidInput("a closed ticket cannot become open", [
        {"field": "status", "message": "not allowed from closed", "type": "value_error"}]))
    response = client.post(f"/api/v1/tickets/{uuid.uuid4()}/status", json={"status": "open"}, headers=bearer())
    doc = problem(response, 422)
    assert doc["errors"] == [{"field": "status", "message": "not allowed from closed"}]
    assert doc["detail"] == "a closed ticket cannot become open"


def test_customers_down_while_authenticating_is_a_503_not_a_401(client, bearer, problem, services):
    services.on("customers", "authenticate", ServiceUnavailable("service customers is not running"))
    problem(client.get("/api/v1/tickets", headers=bearer()), 503)


def test_an_unexpected_error_is_a_500_without_internals(client, bearer, problem, services, caplog):
    services.on("tickets", "get_ticket", lambda tenant, ticket_id: 1 / 0)
    with caplog.at_level(logging.ERROR):
        doc = problem(client.get(f"/api/v1/tickets/{uuid.uuid4()}", headers=bearer()), 500)
    assert "ZeroDivision" not in json.dumps(doc)
    assert any("ZeroDivisionError" in (r.exc_text or "") or r.exc_info for r in caplog.records)
