"""The route table of `/api/v1`: each endpoint declares its permission, its query and body models.

The same table drives the Flask URL map, authorisation, input validation, the OpenAPI document and
the role × endpoint test, so none of them can drift from the others. Views receive validated models
and return the JSON document to send.
"""
from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import dataclass
from typing import Callable

from flask import Flask, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from custops import pagination
from custops.validation import field_errors
from gateway import auth, roles
from gateway.problems import Problem


class Body(BaseModel):
    """A JSON request body: unknown fields are refused and types are not coerced ("1" is no int)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters: unknown ones are refused; values arrive as strings and are converted."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Endpoint:
    rule: str  # Flask rule below the prefix, e.g. "/tickets/<uuid:ticket_id>"
    method: str
    permission: str | None  # None: no token needed
    summary: str
    tag: str
    view: Callable
    body: type[Body] | None = None
    query: type[Query] | None = None
    status: int = 200
    location: str | None = None  # for 201: path of the new resource, formatted with the answer

    @property
    def name(self) -> str:
        return f"{self.method.lower()}:{self.rule}"


class Api:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.endpoints: list[Endpoint] = []

    def route(self, rule: str, method: str, *, permission: str | None, summary: str, tag: str,
              body: type[Body] | None = None, query: type[Query] | None = None, status: int = 200,
              location: str | None = None):
        if permission is not None and permission not in roles.PERMISSIONS:
            raise ValueError(f"{method} {rule}: unknown permission {permission!r}")

        def register(view):
            self.endpoints.append(Endpoint(rule, method.upper(), permission, summary, tag, view, body, query,
                                           status, location))
            return view

        return register

    def install(self, app: Flask) -> None:
        for endpoint in self.endpoints:
            app.add_url_rule(self.prefix + endpoint.rule, endpoint=endpoint.name,
                             view_func=_handler(endpoint, self.prefix), methods=[endpoint.method])


API = Api("/api/v1")


def _handler(endpoint: Endpoint, prefix: str):
    @functools.wraps(endpoint.view)
    def handle(**path):
        if endpoint.permission is not None:
            identity = auth.authenticate(current_app.extensions["custops_auth_cache"])
            if not roles.allowed(identity.role, endpoint.permission):
                raise Problem(403, f"the role '{identity.role}' does not have '{endpoint.permission}'")
        kwargs = {key: str(value) for key, value in path.items()}
        query = parse_query(endpoint.query)  # also refuses parameters on endpoints that take none
        if endpoint.query is not None:
            kwargs["query"] = query
        if endpoint.body is not None:
            kwargs["body"] = parse_body(endpoint.body)
        doc = endpoint.view(**kwargs)
        resp = jsonify(doc)
        resp.status_code = endpoint.status
        if endpoint.location:
            resp.headers["Location"] = prefix + endpoint.location.format(**doc)
        return resp

    return handle


def payload(body: Body) -> dict:
    """The JSON-able fields the client gave (defaults are the service's to apply)."""
    return body.model_dump(mode="json", exclude_unset=True)


def filters(query: Query) -> dict:
    """The filters the client gave, without the paging parameters."""
    return query.model_dump(mode="json", exclude_none=True, exclude=set(PAGING), by_alias=True)


def _is_list(annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return origin is list or annotation is list


def parse_query(model: type[Query] | None) -> Query | None:
    if model is None:
        if request.args:
            raise Problem(400, "this endpoint takes no query parameters",
                          [{"field": key, "message": "unknown query parameter"} for key in request.args])
        return None
    data, errors = {}, []
    for key in request.args:
        values = request.args.getlist(key)
        field = model.model_fields.get(key) or next(
            (f for f in model.model_fields.values() if f.alias == key), None)
        if field is not None and _is_list(field.annotation):
            data[key] = values
        elif len(values) > 1:
            errors.append({"field": key, "message": "must be given once"})
        else:
            data[key] = values[0]
    if errors:
        raise Problem(400, "invalid query parameters", errors)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Problem(400, "invalid query parameters", field_errors(exc)) from None


def parse_body(model: type[Body]) -> Body:
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Problem(415, "the request body must be JSON (Content-Type: application/json)")
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and undecodable bytes
        raise Problem(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Problem(400, "the request body must be a JSON object",
                      [{"field": "body", "message": "must be a JSON object"}])
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise Problem(400, "the request body is not valid", field_errors(exc)) from None


class Paged(Query):
    """`limit` and the opaque `cursor` of the previous page's `next_cursor`."""

    limit: int = Field(default=50, ge=1, le=pagination.MAX_LIMIT)
    cursor: str | None = Field(default=None, min_length=1, max_length=500)


PAGING = ("limit", "cursor")


def load() -> Api:
    """The route table, filled: importing the resource modules registers their endpoints."""
    import gateway.openapi  # noqa: F401 - /openapi.json
    import gateway.routes  # noqa: F401

    return API
