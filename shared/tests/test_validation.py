"""`custops.validation.parse`: services trust no caller, so the hostile-input bounds the gateway applies
hold at every service's door too (NUL text, nesting, the date window), and pydantic's failures come
back as named field errors."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from custops.errors import InvalidInput
from custops.validation import Date, Instant, field_errors, input_errors, malformed, parse


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    tags: list[str] = []
    meta: dict = {}


class Entry(BaseModel):  # plain date types, as a service's command may declare them
    work_date: date | None = None
    at: AwareDatetime | None = None
    days: list[date] = []


class Bounded(BaseModel):
    day: Date | None = None
    at: Instant | None = None


def _fields(exc: InvalidInput) -> list[str]:
    return [e["field"] for e in exc.errors]


@pytest.mark.parametrize("data, field", [
    ({"text": "a\x00b"}, "text"),
    ({"text": "ok", "tags": ["fine", "\x00"]}, "tags.1"),
    ({"text": "ok", "meta": {"k\x00": 1}}, "meta.k\\u0000"),
    ({"text": "ok", "meta": {"deep": [{"x": "\x00"}]}}, "meta.deep.0.x"),
    ({"text": "\ud800"}, "text"),  # an unpaired surrogate cannot be stored as UTF-8 either
])
def test_hostile_text_is_refused_naming_the_field(data, field):
    with pytest.raises(InvalidInput) as caught:
        parse(Note, data)
    assert field in _fields(caught.value)


def test_deep_nesting_is_refused_without_recursing():
    deep: list = []
    for _ in range(100_000):  # far past Python's recursion limit
        deep = [deep]
    with pytest.raises(InvalidInput) as caught:
        parse(Note, {"text": "ok", "meta": {"x": deep}})
    assert "nested deeper than 32" in caught.value.errors[0]["message"]


@pytest.mark.parametrize("data, field", [
    ({"work_date": "0001-01-01"}, "work_date"),
    ({"work_date": "9999-12-31"}, "work_date"),
    ({"at": "2101-01-01T00:00:00+00:00"}, "at"),
    ({"at": "1969-12-31T23:59:59Z"}, "at"),
    ({"days": ["2026-01-01", "0200-01-01"]}, "days.1"),
])
def test_every_date_outside_the_window_is_refused_even_when_the_model_says_plain_date(data, field):
    with pytest.raises(InvalidInput) as caught:
        parse(Entry, data)
    assert _fields(caught.value) == [field]


def test_dates_within_the_window_pass():
    parsed = parse(Entry, {"work_date": "1970-01-01", "at": "2100-12-31T23:59:59+14:00", "days": ["2026-06-30"]})
    assert parsed.work_date == date(1970, 1, 1) and isinstance(parsed.at, datetime)


def test_the_annotated_types_bound_a_model_on_their_own():
    with pytest.raises(ValidationError):
        Bounded(day="9999-01-01")
    with pytest.raises(ValidationError):
        Bounded(at="0001-01-01T00:00:00Z")
    assert Bounded.model_json_schema()["properties"]["day"]["anyOf"][0]["formatMinimum"] == "1970-01-01"


def test_input_errors_are_bounded_in_number():
    assert len(input_errors({"x": ["\x00"] * 10_000})) == 20


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    who: uuid.UUID | None = None
    n: int = 0


def _errors(data) -> list[dict]:
    with pytest.raises(ValidationError) as caught:
        Choice.model_validate_json(data)
    return field_errors(caught.value)


def test_malformed_tells_shape_failures_from_value_failures():
    assert malformed(_errors('{"n": "1"}'))  # wrong JSON type
    assert malformed(_errors('{"x": 1}'))  # unknown field
    assert not malformed(_errors('{"who": "nope"}'))  # a string, in the wrong format


def test_a_union_failure_is_one_error_for_the_field():
    class Assignee(BaseModel):
        assignee: uuid.UUID | int | None = None

    with pytest.raises(ValidationError) as caught:
        Assignee.model_validate({"assignee": "somebody"})
    errors = field_errors(caught.value)
    assert [e["field"] for e in errors] == ["assignee"]


@pytest.mark.parametrize("data", [{"day": "0"}, {"day": "20260101"}, {"at": "0.5"}, {"at": "1700000000"},
                                  {"at": "2026-01-01T00:00:00"}, {"day": "2026-02-30"}])
def test_dates_are_iso_text_only_never_timestamps(data):
    with pytest.raises(ValidationError):
        Bounded.model_validate(data)  # lax, as query strings are read: numbers were Unix timestamps


def test_iso_text_is_read_in_every_spelling_rfc_3339_has():
    strict = ConfigDict(strict=True)

    class Body(Bounded):
        model_config = strict

    parsed = Body.model_validate_json('{"day": "2026-01-31", "at": "2026-01-01t09:30:00.123456789z"}')
    assert parsed.day == date(2026, 1, 31) and parsed.at.hour == 9 and parsed.at.utcoffset().total_seconds() == 0
