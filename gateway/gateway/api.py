"""The route table of `/api/v1`: each endpoint declares its permission, its query, body and response models.

The same table drives the Flask URL map, authorisation, input validation, the OpenAPI document and
the role × endpoint test, so none of them can drift from the others. Views receive validated models
and return the JSON document to send.

Every request is read here, once for all routes, with the bounds of `custops.validation` (see
docs/api.md): a body must be a JSON object nested at most `MAX_DEPTH` deep, no text anywhere (body,
query, path) may hold a NUL character, every date lies in the supported window, and a path id that is
not a UUID is a 404 naming the parameter. Failures are problem documents: 400 when the request is not
shaped like what the endpoint takes (not JSON, wrong JSON type, unknown or missing field, a parameter
given twice), 422 when it is but a value is not acceptable (range, length, enum, format, a broken rule).
"""
from __future__ import annotations

import functools
import json
import re
import types
import typing
import uuid
from dataclasses import dataclass
from typing import Callable

from flask import Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import BaseConverter

from custops import pagination
from custops.validation import MAX_DEPTH, field_errors, input_errors, malformed, window_errors
from gateway import auth, roles
from gateway.problems import Problem


class Body(BaseModel):
    """A JSON request body: unknown fields are refused and types are not coerced ("1" is no int)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query parameters: unknown ones are refused; values arrive as strings and are converted."""

    model_config = ConfigDict(extra="forbid")


class Resource(BaseModel):
    """A document a route answers. The fields listed are always present (null where the type says so);
    more may be added within v1, so clients ignore fields they do not know."""

    model_config = ConfigDict(extra="allow")


class Page(Resource):
    """One page of a list; every list route answers this shape (`page_of` makes one per item type)."""

    items: list
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")
    total: int | None = Field(description="how many items the whole filtered list holds; null where the "
                                          "service does not count it")


def page_of(item: type[BaseModel]) -> type[Page]:
    """The page model of a list of `item` (named `<Item>Page` in the OpenAPI document)."""
    return create_model(f"{item.__name__}Page", __base__=Page, __doc__=f"A page of {item.__name__} documents.",
                        items=(list[item], ...))


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
    response: type[BaseModel] | None = None  # the success document (its schema is published)
    statuses: tuple[int, ...] = ()  # statuses beyond those the route's shape implies (e.g. 409)
    calls_services: bool = True  # False: answered by the gateway alone (no 502/503/504)
    text_bodies: tuple[tuple[str, str], ...] = ()  # (media type, body field): a text body taken as that field
    produces: str = "application/json"  # another media type: the view answers a flask Response itself

    @property
    def name(self) -> str:
        return f"{self.method.lower()}:{self.rule}"

    @property
    def path_parameters(self) -> list[str]:
        return [m.group("name") for m in PATH_PARAMETER.finditer(self.rule)]


class Api:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.endpoints: list[Endpoint] = []

    def route(self, rule: str, method: str, *, permission: str | None, summary: str, tag: str,
              body: type[Body] | None = None, query: type[Query] | None = None, status: int = 200,
              location: str | None = None, response: type[BaseModel] | None = None,
              statuses: tuple[int, ...] = (), calls_services: bool = True, text_bodies: dict | None = None,
              produces: str = "application/json"):
        if permission is not None and permission not in roles.PERMISSIONS:
            raise ValueError(f"{method} {rule}: unknown permission {permission!r}")

        def register(view):
            self.endpoints.append(Endpoint(rule, method.upper(), permission, summary, tag, view, body, query,
                                           status, location, response, tuple(statuses), calls_services,
                                           tuple((text_bodies or {}).items()), produces))
            return view

        return register

    def install(self, app: Flask) -> None:
        # before any rule is added: `<uuid:...>` matches any segment, and the handler names a bad one
        app.url_map.converters["uuid"] = IdConverter
        for endpoint in self.endpoints:
            app.add_url_rule(self.prefix + endpoint.rule, endpoint=endpoint.name,
                             view_func=_handler(endpoint, self.prefix), methods=[endpoint.method])


API = Api("/api/v1")


PATH_PARAMETER = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>[^<>]+)>")


class MalformedId(str):
    """A path segment in the place of an id that is not one (the handler answers 404 naming it)."""


class IdConverter(BaseConverter):
    """`<uuid:name>`: any one path segment. A UUID arrives in its canonical form; anything else as a
    `MalformedId`, so the answer names the parameter instead of werkzeug's anonymous 404."""

    part_isolating = True

    def to_python(self, value: str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return MalformedId(value)

    def to_url(self, value) -> str:
        return str(value)


def parse_path(path: dict) -> dict:
    errors = []
    for name, value in path.items():
        if isinstance(value, MalformedId):
            errors.append({"field": name, "message": "must be a UUID"})
        elif "\x00" in str(value):
            errors.append({"field": name, "message": "must not contain NUL characters (\\u0000)"})
    if errors:
        raise Problem(404, "the path names nothing: " + ", ".join(e["field"] for e in errors) + " is not valid",
                      errors)
    return {key: str(value) for key, value in path.items()}


def _refuse_other_method() -> None:
    """A 405 when a rule without ids has this very path but not this method: `PATCH /followups/analytics`
    is taken by `PATCH /followups/<uuid:followup_id>` (an id rule matches any segment), yet the path names
    `GET /followups/analytics`, so the answer is werkzeug's 405 with its Allow header, not a 404 id."""
    allowed = {method for rule in current_app.url_map.iter_rules()
               if not rule.arguments and rule.rule == request.path for method in rule.methods or ()}
    if allowed:
        raise MethodNotAllowed(valid_methods=sorted(allowed))


def default_options_response() -> Response:
    """OPTIONS answers what the path offers: a static path beside an id rule (`/followups/analytics`
    beside `/followups/<uuid:followup_id>`, which matches any segment) offers only its own methods."""
    static = {method for rule in current_app.url_map.iter_rules()
              if not rule.arguments and rule.rule == request.path for method in rule.methods or ()}
    if not static:
        return Flask.make_default_options_response(current_app)
    response = current_app.response_class()
    response.allow.update(static)
    return response


def _handler(endpoint: Endpoint, prefix: str):
    @functools.wraps(endpoint.view)
    def handle(**path):
        if any(isinstance(value, MalformedId) for value in path.values()):
            _refuse_other_method()
        if endpoint.permission is not None:
            identity = auth.authenticate(current_app.extensions["custops_auth_cache"])
            if not roles.allowed(identity.role, endpoint.permission):
                raise Problem(403, f"the role '{identity.role}' does not have '{endpoint.permission}'")
            if not roles.token_allows(identity, endpoint.method):
                raise Problem(403, "this token is read-only: it may only read (GET)")
        kwargs = parse_path(path)
        query = parse_query(endpoint.query)  # also refuses parameters on endpoints that take none
        if endpoint.query is not None:
            kwargs["query"] = query
        if endpoint.body is not None:
            kwargs["body"] = parse_body(endpoint.body, dict(endpoint.text_bodies))
        doc = endpoint.view(**kwargs)
        if isinstance(doc, Response):  # a document that is not JSON (`produces`), e.g. a streamed CSV
            return doc
        if endpoint.response is not None and issubclass(endpoint.response, Page):
            doc = as_page(doc, first_page=getattr(query, "cursor", None) is None)
        resp = jsonify(doc)
        resp.status_code = endpoint.status
        if endpoint.location:
            resp.headers["Location"] = prefix + endpoint.location.format(**doc)
        return resp

    return handle


def as_page(doc, first_page: bool = True) -> dict:
    """A list answer in the page shape: a bare list or `{items}` gains `next_cursor: null` and, when
    the whole list is in hand (first and last page), `total`; otherwise an uncounted total is null."""
    page = {"items": doc} if isinstance(doc, list) else dict(doc)
    page.setdefault("next_cursor", None)
    if "total" not in page:
        page["total"] = len(page["items"]) if first_page and page["next_cursor"] is None else None
    return page


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


def _refuse(detail: str, errors: list[dict]):
    """400 when any error says the input is not shaped like what was asked for, else 422."""
    raise Problem(400 if malformed(errors) else 422, detail, errors)


def parse_query(model: type[Query] | None) -> Query | None:
    if model is None:
        if request.args:
            raise Problem(400, "this endpoint takes no query parameters",
                          [{"field": key.replace("\x00", "\\u0000"), "message": "unknown query parameter"}
                           for key in request.args])
        return None
    given = {key: values[0] if len(values) == 1 else values for key, values in request.args.lists()}
    hostile = input_errors(given, max_depth=2)
    if hostile:
        _refuse("invalid query parameters", hostile)
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
    return _validated(model, data, "invalid query parameters", lambda: model.model_validate(data))


def _validated(model, data, detail: str, validate):
    try:
        parsed = validate()
    except ValidationError as exc:
        _refuse(detail, field_errors(exc))
    out_of_window = window_errors(parsed)  # every date, even one a model declares as plain `date`
    if out_of_window:
        _refuse(detail, out_of_window)
    return parsed


# what is left of a JSON text once everything but string quotes and brackets is deleted
_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)


def nested_too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text `raw` nests arrays/objects more than `limit` deep, found without parsing it
    (a parser recursing 1,000 levels down is a crash) and in C-speed byte operations only: drop escaped
    backslashes and quotes (every quote left delimits a string), keep quotes and brackets, drop what
    strings hold, then peel the innermost bracket pairs `limit` times; anything still bracketed is
    deeper. Malformed text gives an answer too; the JSON parser refuses it afterwards."""
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    skeleton = b"".join(text.split(b'"')[::2])
    if re.search(rb"[\[{]{%d}" % (limit + 1), skeleton):  # that many levels opened in a row
        return True
    for _ in range(limit):
        peeled = skeleton.replace(b"[]", b"").replace(b"{}", b"")
        if peeled == skeleton:
            return False
        skeleton = peeled
    return b"[" in skeleton or b"{" in skeleton


def parse_json(raw: bytes):
    """The JSON document in a request body, or a 400/422 problem (not JSON, too deep, hostile text)."""
    if nested_too_deep(raw):
        raise Problem(400, f"the request body is nested deeper than {MAX_DEPTH} levels",
                      [{"field": "body", "message": f"nested deeper than {MAX_DEPTH} levels"}])
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, undecodable bytes
        raise Problem(400, f"the request body is not valid JSON: {exc}") from None
    hostile = input_errors(data)
    if hostile:
        _refuse("the request body is not valid", hostile)
    return data


def parse_body(model: type[Body], text_bodies: dict[str, str] | None = None) -> Body:
    """The body validated as `model`: a JSON object, or (for a media type in `text_bodies`) UTF-8 text
    that becomes the one field named there."""
    mimetype = request.mimetype
    raw = request.get_data(cache=True)
    if text_bodies and mimetype in text_bodies:
        try:
            data = {text_bodies[mimetype]: raw.decode("utf-8")}
        except UnicodeDecodeError:
            raise Problem(400, f"the request body is not UTF-8 text ({mimetype})") from None
        hostile = input_errors(data)
        if hostile:
            _refuse("the request body is not valid", hostile)
        return _validated(model, data, "the request body is not valid", lambda: model.model_validate(data))
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        accepted = ", ".join(["application/json", *(text_bodies or {})])
        raise Problem(415, f"the request body must be one of: {accepted} (Content-Type)")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise Problem(400, "the request body must be a JSON object",
                      [{"field": "body", "message": "must be a JSON object"}])
    if _has_integral_float(data):  # `154.0` is an integer in JSON Schema: validate it as one
        raw = json.dumps(_integral(data)).encode()
    return _validated(model, data, "the request body is not valid", lambda: model.model_validate_json(raw))


def _has_integral_float(value) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_has_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_integral_float(v) for v in value)
    return False


def _integral(value):
    """Integral floats as ints (a float field takes an int as well, so nothing else changes)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


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
