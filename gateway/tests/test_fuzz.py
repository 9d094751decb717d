"""Fuzz every route of the route table: hypothesis-made bodies, query strings and path ids, hostile and
schema-shaped alike, must get a 2xx or a 4xx problem document, never a 5xx.

The services are the in-memory double answering any call with a plausible document, so what is tested
is the gateway: parsing, validation, the views and the error mapping. Bounded: a few dozen examples
per route. One app serves the whole module (`reused_app`): building one compiles every route's rule,
which cost a third of the module's time when each of its ~200 tests built its own.
"""
from __future__ import annotations

import json
import re
import uuid
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.api import load
from gateway.openapi import _without_null_defaults

ENDPOINTS = load().endpoints
EXAMPLES = 40

# text that has hurt before: NUL, surrogates, brackets, huge and odd numbers as strings, dates at the ends
_NASTY_TEXT = st.sampled_from([
    "\x00", "a\x00b", "\ud800", "[" * 50, "{}", "null", "0001-01-01", "9999-12-31T23:59:59Z",
    "1e999", "-0", "NaN", "' OR 1=1 --", "%00", "../../etc/passwd", "\u202e", "x" * 5000, "",
    str(uuid.uuid4()), "mon", "24:00", "none",
])
_TEXT = st.one_of(st.text(max_size=40), _NASTY_TEXT)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), _TEXT)
_JSON = st.recursive(_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)), max_leaves=12)


def _from_schema(schema: dict, defs: dict, depth: int = 0) -> st.SearchStrategy:
    """Values shaped by a JSON schema (the keywords our models use), now and then anything at all."""
    if "$ref" in schema:
        return _from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs, depth)
    if depth > 4:
        return _JSON
    options = []
    if "anyOf" in schema:
        options += [_from_schema(s, defs, depth) for s in schema["anyOf"]]
    elif "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    else:
        kind = schema.get("type")
        if kind == "string":
            fmt = schema.get("format")
            if fmt == "uuid":
                options.append(st.uuids().map(str))
            elif fmt == "date":
                options.append(st.dates().map(lambda d: d.isoformat()))
            elif fmt == "date-time":
                options.append(st.datetimes().map(lambda d: d.isoformat() + "+00:00"))
            elif "pattern" in schema:
                options.append(st.from_regex(schema["pattern"], fullmatch=True))
            options.append(st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 50), 50)))
        elif kind == "integer":
            options.append(st.integers(min_value=schema.get("minimum", schema.get("exclusiveMinimum", -10)),
                                       max_value=schema.get("maximum", 10**6)))
        elif kind == "number":
            options.append(st.floats(min_value=0, max_value=1))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "array":
            options.append(st.lists(_from_schema(schema.get("items", {}), defs, depth + 1), max_size=3))
        elif kind == "object" and "properties" in schema:
            options.append(_object(schema, defs, depth + 1))
        elif kind == "object":
            options.append(st.dictionaries(st.sampled_from(["0", "mon", "x"]) | _TEXT,
                                           _from_schema(next(iter(schema.get("patternProperties", {}).values()), {}),
                                                        defs, depth + 1), max_size=3))
    options.append(_JSON)  # now and then the wrong type, or hostile text in the right place
    return st.one_of(options)


def _object(schema: dict, defs: dict, depth: int = 0) -> st.SearchStrategy:
    fields = schema.get("properties", {})
    required = set(schema.get("required", []))

    @st.composite
    def build(draw):
        doc = {}
        for name, sub in fields.items():
            if name in required or draw(st.booleans()):
                doc[name] = draw(_from_schema(sub, defs, depth))
        if draw(st.integers(0, 9)) == 0:
            doc[draw(_TEXT)] = draw(_JSON)  # a field the route does not know
        return doc

    return build()


def _body(endpoint) -> st.SearchStrategy:
    schema = _without_null_defaults(endpoint.body.model_json_schema())
    shaped = _object(schema, schema.get("$defs", {})).map(lambda d: ("application/json", json.dumps(d).encode()))
    hostile = st.one_of(
        _JSON.map(lambda d: ("application/json", json.dumps(d).encode())),
        st.binary(max_size=200).map(lambda b: ("application/json", b)),
        st.integers(1, 5000).map(lambda n: ("application/json", b'{"a":' + b"[" * n + b"]" * n + b"}")),
        st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "text/calendar"]).flatmap(
            lambda media: st.binary(max_size=100).map(lambda b: (media, b))),
    )
    return st.one_of(shaped, shaped, hostile)


def _query(endpoint) -> st.SearchStrategy:
    names = []
    if endpoint.query is not None:
        names = [f.alias or name for name, f in endpoint.query.model_fields.items()]
    key = st.sampled_from(names) | _TEXT if names else _TEXT
    value = st.one_of(_TEXT, st.uuids().map(str), st.integers().map(str), st.sampled_from(
        ["true", "false", "none", "open", "bogus", "2026-01-01", "2026-01-01T00:00:00Z", "0001-01-01"]))
    return st.lists(st.tuples(key, value), max_size=4 if names else 1)


def _path(endpoint) -> st.SearchStrategy:
    ids = st.one_of(st.uuids().map(str), st.uuids().map(str), _TEXT.filter(lambda t: t and "/" not in t))

    @st.composite
    def build(draw):
        rule = endpoint.rule
        for name in re.findall(r"<uuid:([^>]+)>", rule):
            rule = rule.replace(f"<uuid:{name}>", quote(draw(ids), safe="", errors="surrogatepass"), 1)
        return "/api/v1" + rule

    return build()


class AnyAnswer:
    """Answers every RPC call with a document that has what the views read from answers."""

    def __init__(self, double):
        self.double = double

    def __call__(self, *args):
        doc = {"id": str(uuid.uuid4()), "customer_id": args[1] if len(args) > 1 and isinstance(args[1], str)
               else str(uuid.uuid4()), "name": "x", "items": [], "next_cursor": None,
               "columns": ["id"], "rows": []}  # a CSV export's page
        return doc


@pytest.fixture
def app(reused_app):
    return reused_app


@pytest.fixture
def answering(services):
    answer = AnyAnswer(services)
    original = services.call

    def call(service, method, *args, **kwargs):
        if (service, method) not in services.answers:
            services.on(service, method, answer)
        return original(service, method, *args, **kwargs)

    services.call = call
    return services


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{e.method} {e.rule}" for e in ENDPOINTS])
def test_a_route_never_answers_5xx_to_anything(client, answering, bearer, endpoint):
    body = _body(endpoint) if endpoint.body is not None else st.one_of(
        st.none(), _JSON.map(lambda d: ("application/json", json.dumps(d).encode())))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(path=_path(endpoint), query=_query(endpoint), body=body)
    def run(path, query, body):
        headers = bearer("owner")
        kwargs = {}
        if body is not None:
            headers["Content-Type"], kwargs["data"] = body
        url = path + ("?" + urlencode(query, errors="surrogatepass") if query else "")
        response = client.open(url, method=endpoint.method, headers=headers, **kwargs)
        text = response.get_data(as_text=True)
        assert response.status_code < 500, (endpoint.method, url, body, response.status_code, text[:500])
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json", (url, response.status_code, text[:300])
            assert json.loads(text)["status"] == response.status_code
        elif endpoint.produces == "application/json":
            json.loads(text)
        else:
            assert response.mimetype == endpoint.produces

    run()
