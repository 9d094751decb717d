"""Validation every entrypoint shares: the bounds on hostile input, and pydantic failures as field errors.

Services trust no caller, so `parse` applies the same classes of bounds as the gateway does on its
requests (one implementation, here):

- text: a NUL character (PostgreSQL refuses it in text) or an unpaired surrogate (not encodable as
  UTF-8) anywhere in the input, keys included, is refused and its field named;
- nesting: structures nested deeper than `MAX_DEPTH` containers are refused (deep recursion in
  parsers and validators is a crash, not an answer);
- time: every date and instant lies in `EARLIEST`..`LATEST` (years 0001 and 9999 are typos or
  attacks, and break date arithmetic near the ends of `datetime`). `Date` and `Instant` carry the
  bound in their JSON schema; `parse` also checks every date in a validated model, so a model that
  uses plain `date` is bounded as well.

The gateway answers 400 for input that is not shaped like what an endpoint takes and 422 for
well-shaped input with an unacceptable value (`malformed` tells which); a service's `InvalidInput`
is always a 422.
"""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

from custops.errors import InvalidInput, NotFound

M = TypeVar("M", bound=BaseModel)

MAX_DEPTH = 32  # containers inside containers; our deepest model needs 4
MAX_ERRORS = 20  # field errors reported per request; a body with a million NULs gets 20
MAX_INTEGER = 2**31 - 1  # the largest value a Postgres INTEGER column holds: an input stored in or
                         # compared with one is bounded by it, or the database refuses it as a 500
EARLIEST = date(1970, 1, 1)
LATEST = date(2100, 12, 31)
WINDOW_MESSAGE = f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}"

# error types (pydantic's and ours) meaning "not shaped like the input asked for": wrong JSON type,
# unknown or missing field, unreadable syntax. Every other failure is an unacceptable value.
_MALFORMED_TYPES = frozenset({
    "missing", "extra_forbidden", "json_invalid", "json_type", "too_deep",
    "int_parsing", "float_parsing", "bool_parsing", "int_from_float",
    "missing_argument", "unexpected_keyword_argument", "unexpected_positional_argument",
    "union_tag_invalid", "union_tag_not_found", "model_attributes_type",
})


def _in_window(value):
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        raise PydanticCustomError("date_out_of_range", WINDOW_MESSAGE)
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)")


def _iso_text(pattern: re.Pattern, parse, what: str):
    """Text must spell the ISO 8601 form: pydantic alone also reads numbers (and numeric text, as in a query
    string) as Unix timestamps, so `0.5` would be an instant in 1970. Parsed here, so the model's own
    validation (strict in JSON bodies) gets the value it wants."""
    def check(value):
        if isinstance(value, (date, datetime)):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError("date_type", f"must be a string: an ISO 8601 {what}")
        if not pattern.fullmatch(value):
            raise PydanticCustomError("date_format", f"must be an ISO 8601 {what}")
        try:
            return parse(value.upper())  # RFC 3339 allows a lowercase `t` and `z`
        except ValueError as exc:
            raise PydanticCustomError("date_format", f"must be an ISO 8601 {what} ({exc})") from None

    return check


_WINDOW_SCHEMA = {"formatMinimum": EARLIEST.isoformat(), "formatMaximum": LATEST.isoformat()}

# A calendar date (YYYY-MM-DD) within the window.
Date = Annotated[date, BeforeValidator(_iso_text(_ISO_DATE, date.fromisoformat, "date (YYYY-MM-DD)")),
                 AfterValidator(_in_window),
                 Field(json_schema_extra=_WINDOW_SCHEMA)]
# An instant with its UTC offset (ISO 8601), its date within the window.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text(_ISO_INSTANT, datetime.fromisoformat,
                                                             "date-time with a UTC offset")),
                    AfterValidator(_in_window), Field(json_schema_extra={
                        "formatMinimum": f"{EARLIEST.isoformat()}T00:00:00Z",
                        "formatMaximum": f"{LATEST.isoformat()}T23:59:59Z"})]


def _field(path: tuple) -> str:
    return ".".join(str(p).replace("\x00", "\\u0000") for p in path) or "body"


def _text_error(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL characters (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (no unpaired surrogates)"
    return None


def input_errors(data, max_depth: int = MAX_DEPTH, path: tuple = ()) -> list[dict]:
    """Field errors for hostile text and nesting anywhere in decoded JSON `data` (keys included).

    Iterative, so it never recurses however deep `data` is; at most `MAX_ERRORS` are reported.
    """
    errors: list[dict] = []
    stack = [(data, path, 0)]
    while stack and len(errors) < MAX_ERRORS:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            message = _text_error(value)
            if message:
                errors.append({"field": _field(where), "message": message, "type": "text_invalid"})
        elif isinstance(value, (dict, list, tuple)):
            if depth >= max_depth:
                errors.append({"field": _field(where), "message": f"nested deeper than {max_depth} levels",
                               "type": "too_deep"})
                continue
            if isinstance(value, dict):
                for key, item in value.items():
                    message = _text_error(key) if isinstance(key, str) else None
                    if message:
                        errors.append({"field": _field(where + (key,)), "message": "the name " + message,
                                       "type": "text_invalid"})
                    stack.append((item, where + (key,), depth + 1))
            else:
                stack.extend((item, where + (i,), depth + 1) for i, item in enumerate(value))
    return sorted(errors[:MAX_ERRORS], key=lambda e: e["field"])


def window_errors(model: BaseModel) -> list[dict]:
    """Field errors for every date or instant in a validated model outside `EARLIEST`..`LATEST`."""
    errors: list[dict] = []
    stack: list[tuple[object, tuple]] = [(model, ())]
    while stack:
        value, where = stack.pop()
        if isinstance(value, BaseModel):
            stack.extend((getattr(value, name), where + (name,)) for name in type(value).model_fields)
        elif isinstance(value, dict):
            stack.extend((item, where + (key,)) for key, item in value.items())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend((item, where + (i,)) for i, item in enumerate(value))
        elif isinstance(value, date):
            try:
                _in_window(value)
            except PydanticCustomError:
                errors.append({"field": _field(where), "message": WINDOW_MESSAGE, "type": "date_out_of_range"})
    return sorted(errors, key=lambda e: e["field"])


# what pydantic puts in an error's location for the member of a union that failed (`uuid`,
# `literal['none']`, `function-after[...]`) or for a dict key (`[key]`): not a part of the field's name
_UNION_TAG = re.compile(r"^(uuid|str|int|float|bool|date|datetime|time|list|dict|none|.*[\[\]'()-].*)$")


def field_errors(exc: ValidationError) -> list[dict]:
    """One error per field (the failures of a union's members merged into one message)."""
    merged: dict[str, dict] = {}
    for err in exc.errors(include_url=False):
        loc = [err["loc"][0], *(p for p in err["loc"][1:] if not (isinstance(p, str) and _UNION_TAG.match(p)))] \
            if err["loc"] else []
        field = ".".join(str(p) for p in loc) or "body"
        known = merged.get(field)
        if known is None:
            merged[field] = {"field": field, "message": err["msg"], "type": _kind(err)}
        elif err["msg"] not in known["message"]:
            known["message"] += f", or: {err['msg']}"
            if not malformed([{"type": _kind(err)}]):  # a union is invalid unless every member says malformed
                known["type"] = _kind(err)
        if len(merged) >= MAX_ERRORS:
            break
    return list(merged.values())


def _kind(err) -> str:
    # an enum given a number (or anything but a string) is the wrong JSON type, not a wrong value
    if err["type"] == "literal_error" and not isinstance(err.get("input"), str):
        return "literal_type"
    return err["type"]


def malformed(errors: list[dict]) -> bool:
    """Whether any of these field errors says the input is not shaped like what was asked for."""
    return any(e.get("type") in _MALFORMED_TYPES or str(e.get("type", "")).endswith("_type") for e in errors)


def parse(model: type[M], data) -> M:
    """`data` validated as `model`, or InvalidInput naming every field that is wrong."""
    data = data if data is not None else {}
    hostile = input_errors(data)
    if hostile:
        raise InvalidInput("the input is not valid", hostile)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput("the input is not valid", field_errors(exc)) from None
    out_of_window = window_errors(parsed)
    if out_of_window:
        raise InvalidInput("the input is not valid", out_of_window)
    return parsed


def parse_id(value, what: str) -> uuid.UUID:
    """An id from a path or a reference; a malformed id cannot name anything, so it is a 404."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(f"{what} {value} not found") from None
