"""The OpenAPI 3.1 document, generated from the route table and the request models' JSON schemas."""
from __future__ import annotations

import functools
import re

from apispec import APISpec

from gateway import problems
from gateway.api import API, Api, Endpoint

_PARAM = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")
_CONVERTER_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}

# Operational endpoints outside /api/v1 (no token): documented so the document lists every route.
OPERATIONAL = (
    ("/healthz", "Liveness: the process answers (no dependencies checked)", "application/json"),
    ("/readyz", "Readiness: the message broker is reachable", "application/json"),
    ("/metrics", "Prometheus metrics of this process", "text/plain"),
)

_PAGE_SCHEMA = {
    "type": "object",
    "required": ["items", "next_cursor"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next page"},
    },
}


def openapi_path(rule: str) -> str:
    return _PARAM.sub(lambda m: "{" + m.group("name") + "}", rule)


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {problems.CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _register_model(spec: APISpec, model) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        if name not in spec.components.schemas:
            spec.components.schema(name, sub)
    if model.__name__ not in spec.components.schemas:
        spec.components.schema(model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _parameters(endpoint: Endpoint) -> list[dict]:
    params = [{"name": m.group("name"), "in": "path", "required": True,
               "schema": _CONVERTER_SCHEMAS.get(m.group("converter") or "", {"type": "string"})}
              for m in _PARAM.finditer(endpoint.rule)]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
    return params


def _operation(spec: APISpec, endpoint: Endpoint) -> dict:
    paged = endpoint.query is not None and "cursor" in endpoint.query.model_fields
    success = {"description": "Created" if endpoint.status == 201 else "OK",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"} if paged
                                                 else {"type": "object"}}}}
    if endpoint.location:
        success["headers"] = {"Location": {"schema": {"type": "string"}, "description": "the new resource"}}
    responses = {str(endpoint.status): success,
                 "400": _problem("Malformed input: bad JSON, wrong types, unknown fields or parameters"),
                 "404": _problem("No such resource (a malformed id names nothing)"),
                 "500": _problem("Unexpected error (details are logged, never returned)"),
                 "502": _problem("A service failed to handle the request"),
                 "503": _problem("A service needed for the request is not available"),
                 "504": _problem("A service did not answer in time")}
    operation = {"operationId": endpoint.view.__name__, "summary": endpoint.summary, "tags": [endpoint.tag],
                 "parameters": _parameters(endpoint), "responses": responses}
    if endpoint.permission is not None:
        responses["401"] = _problem("Missing or invalid bearer token")
        responses["403"] = _problem(f"The token's role does not have '{endpoint.permission}'")
        operation["x-permission"] = endpoint.permission
    else:
        operation["security"] = []
    if endpoint.body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": _register_model(spec, endpoint.body)}}}
        responses["415"] = _problem("The body is not JSON")
        responses["409"] = _problem("The change conflicts with the current state")
        responses["422"] = _problem("Well-formed input that breaks a rule; `errors` names the fields")
    return operation


def document(api: Api = API) -> dict:
    spec = APISpec(title="custops API", version="1.0.0", openapi_version="3.1.0",
                   info={"description": "Customer operations: customers, tickets, timeline, time, reports."},
                   servers=[{"url": "/"}], security=[{"bearerAuth": []}])
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", problems.PROBLEM_SCHEMA)
    spec.components.schema("Page", _PAGE_SCHEMA)
    paths: dict[str, dict] = {}
    for endpoint in api.endpoints:
        paths.setdefault(openapi_path(api.prefix + endpoint.rule), {})[endpoint.method.lower()] = \
            _operation(spec, endpoint)
    for path, summary, content_type in OPERATIONAL:
        paths[path] = {"get": {"operationId": path.strip("/"), "summary": summary, "tags": ["operations"],
                               "security": [],
                               "responses": {"200": {"description": "OK", "content": {content_type: {}}},
                                             **({"503": _problem("Not ready")} if path == "/readyz" else {})}}}
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@functools.cache
def _cached_document() -> dict:
    return document()


@API.route("/openapi.json", "GET", permission=None, summary="This OpenAPI document", tag="meta")
def openapi_document():
    return _cached_document()
