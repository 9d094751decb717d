"""The OpenAPI document lists every route with its parameters, body schema and problem responses."""
from __future__ import annotations

import json

from gateway import roles
from gateway.openapi import openapi_path


def test_the_document_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert doc["security"] == [{"bearerAuth": []}]


def test_every_route_is_documented(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, method, permission in roles.endpoint_permissions():
        operation = doc["paths"][openapi_path(path)][method.lower()]
        assert operation["summary"] and operation["responses"], (path, method)
        if permission is None:
            assert operation["security"] == []
        else:
            assert {"401", "403"} <= set(operation["responses"])
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "get" in doc["paths"][path]


def test_operation_ids_are_unique(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_path_and_query_parameters_are_described(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    get_ticket = doc["paths"]["/api/v1/tickets/{ticket_id}"]["get"]
    assert get_ticket["parameters"] == [{"name": "ticket_id", "in": "path", "required": True,
                                         "schema": {"type": "string", "format": "uuid"}}]
    list_tickets = doc["paths"]["/api/v1/tickets"]["get"]
    names = {p["name"] for p in list_tickets["parameters"]}
    assert {"status", "priority", "customer_id", "assignee", "category", "tag", "breached", "due_before",
            "limit", "cursor"} == names
    time_names = {p["name"] for p in doc["paths"]["/api/v1/time-entries"]["get"]["parameters"]}
    assert {"from", "to"} <= time_names  # aliases, as clients send them


def test_request_bodies_reference_the_models_schemas(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    body = doc["paths"]["/api/v1/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    customer = schemas[body["$ref"].rsplit("/", 1)[1]]
    assert set(customer["required"]) == {"name", "tier"}
    assert customer["additionalProperties"] is False
    assert set(customer["properties"]["tier"]["enum"]) == {"enterprise", "mid_market", "smb"}
    # every $ref in the document resolves
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


def test_problem_responses_use_the_problem_schema(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    create = doc["paths"]["/api/v1/tickets"]["post"]["responses"]
    for status in ("400", "401", "403", "404", "415", "422", "503", "504"):
        content = create[status]["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "201" in create and "Location" in create["201"]["headers"]
    assert "errors" in doc["components"]["schemas"]["Problem"]["properties"]


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_document_is_json_serialisable_and_stable(client):
    first = client.get("/api/v1/openapi.json").get_data()
    assert json.loads(first) == json.loads(client.get("/api/v1/openapi.json").get_data())
