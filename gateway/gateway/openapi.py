"""The OpenAPI 3.1 document, generated from the route table: parameters, request and response models'
JSON schemas, the statuses each route can answer, and links from created resources to what uses them.

Statuses are derived from the route's shape (see `statuses`), plus what the route declares it can
answer beyond that (`API.route(statuses=...)`: a 409, or a 404 for a referenced id). The end-to-end
schemathesis run (tests/e2e/test_schemathesis.py) holds the document to what the running suite answers.
"""
from __future__ import annotations

import functools
import re
import typing

from apispec import APISpec

from custops.validation import EARLIEST, LATEST, MAX_DEPTH
from gateway import problems, server
from gateway.api import API, PATH_PARAMETER, Api, Endpoint, Resource

_CONVERTER_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}

# Operational endpoints outside /api/v1 (no token): documented so the document lists every route.
OPERATIONAL = (
    ("/healthz", "Liveness: the process answers (no dependencies checked)", "application/json"),
    ("/readyz", "Readiness: the message broker is reachable", "application/json"),
    ("/metrics", "Prometheus metrics of this process", "text/plain"),
)

DESCRIPTION = f"""Customer operations: customers, tickets, timeline, time, reports.

Every error is an RFC 9457 problem document (`application/problem+json`); `errors` names the fields.
**400** the request is not shaped like what the operation takes: not JSON, not an object, nested deeper
than {MAX_DEPTH} levels, a value of the wrong JSON type, an unknown or missing field or parameter, a
parameter given twice. **422** it is, but a value is not acceptable: out of range or too long, not one of
the allowed values, a bad format (UUID, date), a NUL character in text, a date outside
{EARLIEST.isoformat()}..{LATEST.isoformat()}, an unknown reference, or a broken rule (a status move, an
invoiced entry). A path id that is not a UUID names nothing: **404**, naming the parameter.
Limits: bodies 2 MiB (413); request line {server.REQUEST_LINE_LIMIT} bytes (414); {server.HEADER_FIELDS_LIMIT}
header fields of at most {server.HEADER_FIELD_SIZE_LIMIT} bytes each (431). Lists are pages of `items` with
`next_cursor` (pass it as `cursor`) and `total`. More in docs/api.md."""

# status → description of the problem, for the statuses routes answer
_PROBLEMS = {
    400: "Malformed input: not JSON, wrong JSON types, unknown or missing fields or parameters",
    401: "Missing or invalid bearer token",
    403: "The token's role may not do this",
    404: "No such resource (a path id that is not a UUID names nothing; `errors` names it)",
    409: "The change conflicts with the current state (a unique value taken, a locked resource)",
    410: "It existed and can no longer be used (a one-time invite already used or expired)",
    413: "The body is larger than 2 MiB",
    414: "The request line (path and query) is longer than the server takes",
    415: "The body is not of an accepted media type",
    422: "Well-formed input with a value that is not acceptable or breaks a rule; `errors` names the fields",
    502: "A service failed to handle the request",
    503: "A service needed for the request is not available",
    504: "A service did not answer in time",
}


def openapi_path(rule: str) -> str:
    return PATH_PARAMETER.sub(lambda m: "{" + m.group("name") + "}", rule)


def statuses(endpoint: Endpoint) -> list[int]:
    """The error statuses a route can answer: 400 always (unknown query parameters at least); 401/403
    with a permission; 404 with path ids; 413/415 with a body; 422 with a body or query parameters;
    502/503/504 when it calls services; and those the route declares."""
    found = {400, *endpoint.statuses}
    if endpoint.permission is not None:
        found |= {401, 403}
    if endpoint.path_parameters:
        found.add(404)
    if endpoint.body is not None:
        found |= {413, 415, 422}
    if endpoint.query is not None:
        found |= {414, 422}  # query parameters can make the request line too long
    if endpoint.calls_services:
        found |= {502, 503, 504}
    return sorted(found)


# `format=<value>` → the media type a route answers instead of JSON (a report's table as a download)
_FORMAT_MEDIA_TYPES = {"csv": "text/csv", "png": "image/png", "svg": "image/svg+xml"}  # png/svg: charts


def query_media_types(endpoint: Endpoint) -> list[str]:
    """The media types a route's `format` query parameter can ask for beside its JSON answer
    (`GET /reports/time?format=csv` answers text/csv), read from the parameter's allowed values."""
    field = endpoint.query.model_fields.get("format") if endpoint.query is not None else None
    if field is None:
        return []
    values = [v for arg in (field.annotation, *typing.get_args(field.annotation))
              for v in typing.get_args(arg) if isinstance(v, str)]
    return [_FORMAT_MEDIA_TYPES[v] for v in values if v in _FORMAT_MEDIA_TYPES]


def _problem(description: str) -> dict:
    return {"description": description,
            "content": {problems.CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _register_model(spec: APISpec, model, mode: str = "validation") -> dict:
    schema = _without_null_defaults(model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode))
    for name, sub in schema.pop("$defs", {}).items():
        _register(spec, name, sub)
    _register(spec, model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _register(spec: APISpec, name: str, schema: dict) -> None:
    known = spec.components.schemas.get(name)
    if known is None:
        spec.components.schema(name, schema)
    elif known != schema:  # two models of one name would silently share a schema
        raise ValueError(f"two different models are named {name} in the route table")


def _without_null_defaults(schema):
    """The schema without `default: null`: in our models `= None` means "may be left out" (the service
    applies its default), not that null is a value to send (for most fields it is not)."""
    if isinstance(schema, dict):
        return {k: _without_null_defaults(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_without_null_defaults(v) for v in schema]
    return schema


def _parameters(endpoint: Endpoint) -> list[dict]:
    params = [{"name": m.group("name"), "in": "path", "required": True,
               "schema": _CONVERTER_SCHEMAS.get(m.group("converter") or "", {"type": "string"})}
              for m in PATH_PARAMETER.finditer(endpoint.rule)]
    if endpoint.query is not None:
        schema = _without_null_defaults(endpoint.query.model_json_schema())
        defs = schema.get("$defs", {})
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = _inline(dict(prop), defs)
            description = prop.pop("description", None)
            prop.pop("title", None)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
    return params


def _inline(schema, defs: dict):
    """Query parameter schemas with their `$defs` references resolved (parameters have no `$defs`)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref and ref.startswith("#/$defs/"):
            return _inline(dict(defs[ref.rsplit("/", 1)[1]]), defs)
        return {k: _inline(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _resource_name(model) -> str:
    """`TimeEntry` → `time_entry`: how a body field referring to one is named (`time_entry_id`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


def _nullable(annotation) -> bool:
    return type(None) in typing.get_args(annotation)


def _links(api: Api, endpoint: Endpoint) -> dict:
    """Links from a created (or replaced) resource to the operations that use its id: those below it in the
    path (`POST /tickets` → `/tickets/{ticket_id}/...`) and those whose body names it (`customer_id`)."""
    response = endpoint.response
    creates = endpoint.status == 201 or endpoint.method == "PUT"
    if not creates or response is None or "id" not in response.model_fields:
        return {}
    links: dict[str, dict] = {}
    below = re.compile(re.escape(endpoint.rule) + r"/<uuid:(?P<name>[^<>]+)>")
    reference = _resource_name(response) + "_id"
    for other in api.endpoints:
        if other is endpoint:
            continue
        link: dict = {}
        match = below.match(other.rule)
        if match:
            link["parameters"] = {match.group("name"): "$response.body#/id",
                                  **{p: f"$request.path.{p}" for p in endpoint.path_parameters
                                     if p in other.path_parameters}}
        if other.body is not None and reference in other.body.model_fields:
            # the new id, the ids the new resource knows, and no other (a made-up one names nothing)
            link["requestBody"] = {reference: "$response.body#/id", **{
                name: f"$response.body#/{name}" if name in response.model_fields else None
                for name, field in other.body.model_fields.items()
                if name.endswith("_id") and name != reference and (
                    name in response.model_fields or _nullable(field.annotation))}}
            missing = [p for p in other.path_parameters if p not in endpoint.path_parameters]
            if missing:  # a path the new resource cannot fill: not a useful step
                link.pop("requestBody")
            elif other.path_parameters:
                link.setdefault("parameters", {}).update(
                    {p: f"$request.path.{p}" for p in other.path_parameters})
        if link:
            links[other.view.__name__] = {"operationId": other.view.__name__, **link}
    return links


def _operation(spec: APISpec, api: Api, endpoint: Endpoint) -> dict:
    response = endpoint.response or Resource
    if endpoint.produces == "application/json":
        content = {"application/json": {"schema": _register_model(spec, response, "serialization")}}
    else:
        content = {endpoint.produces: {"schema": {"type": "string"}}}
    for media_type in query_media_types(endpoint):
        content.setdefault(media_type, {"schema": {"type": "string"}})
    success = {"description": "Created" if endpoint.status == 201 else "OK", "content": content}
    if endpoint.location:
        success["headers"] = {"Location": {"schema": {"type": "string"}, "description": "the new resource",
                                           "required": True}}
    links = _links(api, endpoint)
    if links:
        success["links"] = links
    responses = {str(endpoint.status): success}
    for status in statuses(endpoint):
        description = _PROBLEMS.get(status, "Error")
        if status == 403 and endpoint.permission is not None:
            description = f"The token's role does not have '{endpoint.permission}'"
        responses[str(status)] = _problem(description)
    if 503 in responses:
        responses["503"]["headers"] = {"Retry-After": {"schema": {"type": "string"}, "required": True,
                                                       "description": "seconds"}}
    operation = {"operationId": endpoint.view.__name__, "summary": endpoint.summary, "tags": [endpoint.tag],
                 "parameters": _parameters(endpoint), "responses": responses}
    if endpoint.view.__doc__:
        operation["description"] = " ".join(endpoint.view.__doc__.split())
    if endpoint.permission is not None:
        responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}}
        operation["x-permission"] = endpoint.permission
    else:
        operation["security"] = []
    if endpoint.body is not None:
        content = {"application/json": {"schema": _register_model(spec, endpoint.body)}}
        for media_type, field in endpoint.text_bodies:
            content[media_type] = {"schema": {"type": "string", "description": f"the `{field}` field as the body"}}
        operation["requestBody"] = {"required": True, "content": content}
    raw = getattr(endpoint.view, "raw_body_media_types", ())
    if raw:  # a route taking bytes as they are (an image), not a JSON body
        operation["requestBody"] = {"required": True, "content": {
            media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in raw}}
    return operation


def document(api: Api = API) -> dict:
    spec = APISpec(title="custops API", version="1.0.0", openapi_version="3.1.0",
                   info={"description": DESCRIPTION}, servers=[{"url": "/"}], security=[{"bearerAuth": []}])
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", problems.PROBLEM_SCHEMA)
    paths: dict[str, dict] = {}
    for endpoint in api.endpoints:
        paths.setdefault(openapi_path(api.prefix + endpoint.rule), {})[endpoint.method.lower()] = \
            _operation(spec, api, endpoint)
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


class OpenApiDocument(Resource):
    """An OpenAPI 3.1 document."""

    openapi: str
    info: dict
    paths: dict


@API.route("/openapi.json", "GET", permission=None, summary="This OpenAPI document", tag="meta",
           response=OpenApiDocument, calls_services=False)
def openapi_document():
    return _cached_document()
