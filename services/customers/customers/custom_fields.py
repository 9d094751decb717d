"""Custom fields of customers, defined per tenant — pure rules (no I/O).

A tenant defines fields (`key`, `label`, `type`, `options` for the select kinds, `required`); a
customer's `custom_fields` holds a value per key. Decisions:

- Types: text, number, date, select, multi_select, boolean, url. A value is checked on write against
  its definition and stored in a canonical JSON form: a number as a JSON number (ints stay ints),
  a date as `YYYY-MM-DD`, a multi-select as the chosen options in the order the definition lists
  them (duplicates dropped), a URL only with an http(s) scheme and a host.
- A key without a definition is refused (a typo would otherwise be stored forever); `null` removes
  the value. A required field cannot be removed, and a new customer must give it.
- Removing a definition removes its values from every customer of the tenant in the same
  transaction (a later field of the same key starts empty); redefining a field whose stored values
  no longer fit (a select option taken away) is refused while customers hold them.
- Filters (`key:value` in lists): equality on the canonical text form for text, number, date, select,
  boolean and url (`true`/`false`, `2026-01-31`, `5`); for a multi-select, the value is one of the
  chosen options. They run in SQL on the JSONB column (`customers.profile.custom_field_condition`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args
from urllib.parse import urlsplit

FieldType = Literal["text", "number", "date", "select", "multi_select", "boolean", "url"]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
MAX_TEXT = 2000
MAX_OPTIONS = 100


@dataclass(frozen=True)
class Definition:
    key: str
    type: str
    options: tuple[str, ...] = ()
    required: bool = False


class FieldValueError(ValueError):
    """A value its definition refuses; `field` names it (`custom_fields.<key>`)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.field = f"custom_fields.{key}"
        self.message = message


def canonical(definition: Definition, value):
    """The stored form of `value` for `definition`, or FieldValueError."""
    key, kind = definition.key, definition.type

    def bad(message):
        return FieldValueError(key, message)

    if kind == "text":
        if not isinstance(value, str):
            raise bad("must be text")
        if len(value) > MAX_TEXT:
            raise bad(f"at most {MAX_TEXT} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("must be a number")
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            raise bad("must be a finite number")
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if kind == "date":
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise bad("must be a date (YYYY-MM-DD)")
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise bad(f"must be a date (YYYY-MM-DD): {exc}") from None
        if not date(1970, 1, 1) <= day <= date(2100, 12, 31):
            raise bad("must be between 1970-01-01 and 2100-12-31")
        return day.isoformat()
    if kind == "select":
        if value not in definition.options:
            raise bad("must be one of: " + ", ".join(definition.options))
        return value
    if kind == "multi_select":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("must be a list of options")
        unknown = [v for v in value if v not in definition.options]
        if unknown:
            raise bad(f"unknown options {', '.join(unknown)}; choose from: " + ", ".join(definition.options))
        chosen = set(value)
        return [option for option in definition.options if option in chosen]
    if kind == "boolean":
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if kind == "url":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise bad("must be a URL")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise bad("must be an http(s) URL with a host")
        return value
    raise bad(f"unknown field type {kind}")


def merged(definitions: dict[str, Definition], current: dict, given: dict, creating: bool = False) -> dict:
    """The customer's values after writing `given` over `current` (null removes a value).

    Raises FieldValueError for the first field in key order that is wrong, so answers are stable."""
    result = dict(current)
    for key in sorted(given):
        definition = definitions.get(key)
        if definition is None:
            raise FieldValueError(key, "no such custom field in this tenant (define it first)")
        value = given[key]
        if value is None:
            if definition.required:
                raise FieldValueError(key, "required: it cannot be removed")
            result.pop(key, None)
        else:
            result[key] = canonical(definition, value)
    if creating:
        for key in sorted(definitions):
            if definitions[key].required and key not in result:
                raise FieldValueError(key, "required")
    return result
