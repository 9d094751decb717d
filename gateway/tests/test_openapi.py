"""The OpenAPI document lists every route with its parameters, body schema and problem responses."""
from __future__ import annotations

import json

from gateway import roles
from gateway.api import load
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
    for status in ("400", "401", "403", "413", "415", "422", "502", "503", "504"):
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


# --- the document tells the truth (issue 6 §6) ---

def _doc(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def _schema(doc, ref_or_schema) -> dict:
    ref = ref_or_schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def _operations(doc):
    for path, item in doc["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in item.items():
                yield path, method, operation


def test_every_success_response_has_a_published_model(client):
    doc = _doc(client)
    for path, method, operation in _operations(doc):
        success, = [r for s, r in operation["responses"].items() if s.startswith("2")]
        if "application/json" not in success["content"]:  # a document that is not JSON (a CSV export)
            assert [c["schema"] for c in success["content"].values()] == [{"type": "string"}], (method, path)
            continue
        schema = success["content"]["application/json"]["schema"]
        assert "$ref" in schema, (method, path)  # not a bare {"type": "object"}
        model = _schema(doc, schema)
        assert model.get("properties") and model.get("required"), (method, path, model)


def test_every_list_answers_one_page_shape(client):
    doc = _doc(client)
    lists = [(p, m, op) for p, m, op in _operations(doc) if m == "get"
             and "application/json" in op["responses"]["200"]["content"] and _schema(
        doc, op["responses"]["200"]["content"]["application/json"]["schema"]).get("properties", {}).get("items")]
    assert {p for p, _, _ in lists} >= {"/api/v1/tickets", "/api/v1/teams", "/api/v1/canned-responses",
                                        "/api/v1/ticket-categories", "/api/v1/customers/{customer_id}/contacts",
                                        "/api/v1/sla/policies", "/api/v1/customers", "/api/v1/time-entries"}
    for path, _, operation in lists:
        if path in ("/api/v1/reports/ticket-volume", "/api/v1/reports/status", "/api/v1/reports/time",
                    "/api/v1/reports/benchmarks", "/api/v1/metrics"):
            continue  # a report with totals, not a list of resources
        page = _schema(doc, operation["responses"]["200"]["content"]["application/json"]["schema"])
        assert {"items", "next_cursor", "total"} <= set(page["required"]), path
        assert "$ref" in page["properties"]["items"]["items"], path  # the items have their own model


def test_unpaged_lists_are_filled_into_the_page_shape(client, bearer, services):
    services.on("tickets", "list_teams", lambda tenant, *filters: {"items": [{"id": "t"}]})  # a service of before
    services.on("tickets", "list_sla_policies", lambda tenant: [{"id": "p"}, {"id": "q"}])  # a bare list
    assert client.get("/api/v1/teams", headers=bearer()).get_json() == {
        "items": [{"id": "t"}], "next_cursor": None, "total": 1}
    assert client.get("/api/v1/sla/policies", headers=bearer()).get_json() == {
        "items": [{"id": "p"}, {"id": "q"}], "next_cursor": None, "total": 2}


def test_a_paged_list_without_a_count_says_total_null(client, bearer, services):
    services.on("billing", "list_time_entries", lambda *args: {"items": [], "next_cursor": "abc"})
    assert client.get("/api/v1/time-entries", headers=bearer()).get_json()["total"] is None


def test_each_route_documents_the_statuses_it_can_answer(client):
    doc = _doc(client)
    responses = {(m, p): set(op["responses"]) for p, m, op in _operations(doc)}
    assert "404" in responses[("get", "/api/v1/tickets/{ticket_id}")]
    assert "404" not in responses[("post", "/api/v1/tickets")]  # an unknown customer is a 422, not a 404
    assert "409" in responses[("post", "/api/v1/customers")]  # a domain another customer has
    assert "409" in responses[("delete", "/api/v1/time-entries/{entry_id}")]  # invoiced
    assert "409" not in responses[("post", "/api/v1/tickets")]
    assert {"413", "415"} <= responses[("post", "/api/v1/tickets")]
    assert not {"413", "415", "422"} & responses[("get", "/api/v1/tickets/{ticket_id}")]
    assert "422" in responses[("get", "/api/v1/tickets")]  # a filter value out of its enum
    assert not {"401", "403", "502", "503", "504"} & responses[("get", "/api/v1/openapi.json")]
    assert all(not s.startswith("5") or s in ("502", "503", "504") for r in responses.values() for s in r)


def test_status_values_and_transitions_are_documented(client):
    from custops.contracts.tickets import STATUSES, TRANSITIONS

    doc = _doc(client)
    status = doc["components"]["schemas"]["ChangeStatus"]["properties"]["status"]
    assert tuple(status["enum"]) == STATUSES
    for old, allowed in TRANSITIONS.items():
        moves = ", ".join(f"`{new}`" for new in STATUSES if new in allowed) or "none"
        assert f"`{old}` → {moves}" in status["description"]
    filters = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/tickets"]["get"]["parameters"]}
    assert tuple(filters["status"]["anyOf"][0]["enum"]) == STATUSES  # the filter is the same enum


def test_enums_come_from_the_contracts(client):
    from custops.contracts.customers import TIERS
    from custops.contracts.tickets import MESSAGE_KINDS, SOURCES
    from custops.contracts.timeline import INTERACTION_KINDS

    schemas = _doc(client)["components"]["schemas"]
    assert tuple(schemas["CreateTicket"]["properties"]["source"]["enum"]) == SOURCES
    assert tuple(schemas["AddMessage"]["properties"]["kind"]["enum"]) == MESSAGE_KINDS
    assert tuple(schemas["PutPolicy"]["properties"]["tier"]["anyOf"][0]["enum"]) == TIERS
    # the built-in kinds, or a tenant's own (a pattern)
    assert tuple(schemas["LogInteraction"]["properties"]["kind"]["anyOf"][0]["enum"]) == INTERACTION_KINDS


def test_calendar_slots_bounds_and_formats_are_documented(client):
    schemas = _doc(client)["components"]["schemas"]
    slots = schemas["PutCalendar"]["properties"]["weekly_slots"]
    assert "`0` (Monday)" in slots["description"] and "24:00" in slots["description"]
    assert slots["propertyNames"]["pattern"]  # which keys are weekdays
    minutes = schemas["LogTime"]["properties"]["minutes"]
    assert (minutes["minimum"], minutes["maximum"]) == (1, 1440)
    work_date = schemas["LogTime"]["properties"]["work_date"]
    assert work_date["format"] == "date" and work_date["formatMinimum"] == "1970-01-01"
    assert schemas["Ticket"]["properties"]["created_at"]["format"] == "date-time"
    assert schemas["Ticket"]["properties"]["id"]["format"] == "uuid"


def test_created_resources_link_to_the_operations_that_use_them(client):
    doc = _doc(client)
    links = doc["paths"]["/api/v1/customers"]["post"]["responses"]["201"]["links"]
    assert links["get_customer"] == {"operationId": "get_customer",
                                     "parameters": {"customer_id": "$response.body#/id"}}
    # the new id, and null for the other references it cannot fill (a made-up id names nothing)
    assert links["create_ticket"]["requestBody"] == {"customer_id": "$response.body#/id", "contact_id": None,
                                                     "assignee_id": None, "team_id": None}
    ticket_links = doc["paths"]["/api/v1/tickets"]["post"]["responses"]["201"]["links"]
    assert {"get_ticket", "change_status", "add_message", "get_ticket_sla"} <= set(ticket_links)
    assert ticket_links["log_time"]["requestBody"] == {"ticket_id": "$response.body#/id",
                                                       "customer_id": "$response.body#/customer_id",
                                                       "project_id": None, "task_id": None, "activity_id": None}
    operation_ids = {op["operationId"] for _, _, op in _operations(doc)}
    for _, _, operation in _operations(doc):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in operation_ids


_FORMAT_LENGTHS = {"uuid": 36, "date": 10, "date-time": 40}


def _worst_json_size(schema: dict, defs: dict) -> int:
    """The longest JSON text a schema allows (strings at 12 bytes a character: astral, escaped)."""
    if "$ref" in schema:
        return _worst_json_size(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return max(_worst_json_size(s, defs) for s in schema["anyOf"])
    if "enum" in schema:
        return max(len(json.dumps(e)) for e in schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        if "maxLength" in schema:
            return 2 + 12 * schema["maxLength"]
        assert schema.get("format") in _FORMAT_LENGTHS or "pattern" in schema, f"an unbounded string: {schema}"
        return 2 + _FORMAT_LENGTHS.get(schema.get("format"), 64)
    if kind == "array":
        assert "maxItems" in schema, f"an unbounded array: {schema}"
        return 2 + schema["maxItems"] * (_worst_json_size(schema.get("items", {}), defs) + 1)
    if kind == "object":
        size = 2 + sum(6 * len(k) + 4 + _worst_json_size(v, defs) for k, v in schema.get("properties", {}).items())
        for sub in schema.get("patternProperties", {}).values():  # our patterned keys are weekdays: 14 at most
            size += 14 * (70 + _worst_json_size(sub, defs))
        return size
    return 25  # a number, a boolean, null


def test_every_body_the_schemas_allow_fits_the_body_limit(app):
    """Every string and list a route takes is bounded, and the largest body a schema allows is smaller than
    the 413 limit (so a schema-valid request is never refused for its size)."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    for endpoint in load().endpoints:
        if endpoint.body is not None:
            schema = endpoint.body.model_json_schema()
            size = _worst_json_size(schema, schema.get("$defs", {}))
            assert size < limit, (endpoint.method, endpoint.rule, size, limit)


def test_reports_with_a_csv_format_document_both_media_types(client):
    doc = _doc(client)
    for path in ("/api/v1/reports/at-risk", "/api/v1/reports/sla", "/api/v1/reports/status", "/api/v1/reports/time",
                 "/api/v1/reports/ticket-volume", "/api/v1/reports/benchmarks", "/api/v1/metrics",
                 "/api/v1/customer_metrics"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert "$ref" in content["application/json"]["schema"], path  # the JSON answer stays declared
        assert content["text/csv"] == {"schema": {"type": "string"}}, path  # `?format=csv`
    # the trend reports drawn (`?format=png|svg`, issue 12)
    for path in ("/api/v1/reports/ticket-volume", "/api/v1/reports/status", "/api/v1/reports/benchmarks",
                 "/api/v1/reports/sla", "/api/v1/reports/ticket-volume/periods"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert {"image/png", "image/svg+xml"} <= set(content), path
    assert "image/png" not in doc["paths"]["/api/v1/reports/time"]["get"]["responses"]["200"]["content"]


def test_the_tenant_wide_activity_routes_document_a_404_for_an_unknown_view(client):
    for path in ("/api/v1/activity", "/api/v1/activity/export.csv"):
        assert "404" in _doc(client)["paths"][path]["get"]["responses"], path
