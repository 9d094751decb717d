"""The pure form rules (customers.work_plan.forms): a valid answer of every type is accepted, a
wrong one names its field, a field hidden by its condition is never required nor kept."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from customers.work_plan import forms

OPTIONS = ["red", "green", "blue"]
VALID = {
    "short_text": "Hello", "long_text": "Many\nlines", "number": 42.5, "currency": "12.5", "email": "a@b.example",
    "phone": "+44 20 7946 0958", "url": "https://example.com/x?y=1", "date": "2026-02-28",
    "date_time": "2026-02-28T10:00:00+02:00", "single_select": "red", "multi_select": ["blue", "red"],
    "radio": "green", "checkbox": True, "yes_no": False, "rating": 5, "nps": 0, "csat": 3,
    "file_upload": {"file_id": "f-1", "name": "contract.pdf", "content_type": "application/pdf", "size": 1200},
    "address": {"line1": "1 Main St", "city": "Leeds", "country": "gb"}, "hidden": "campaign-7",
}
INVALID = {
    "short_text": 5, "long_text": "x" * 20_001, "number": True, "currency": "1.234", "email": "not-an-email",
    "phone": "call me", "url": "ftp://example.com", "date": "28/02/2026", "date_time": "2026-02-28T10:00:00",
    "single_select": "purple", "multi_select": ["red", "red"], "radio": ["green"], "checkbox": "yes",
    "yes_no": "no", "rating": 6, "nps": 11, "csat": 0, "file_upload": {"name": "x.pdf", "size": 3},
    "address": {"line1": "1 Main St", "country": "GB"}, "hidden": {"a": 1},
}


def _field(type_, key=None, **extra):
    f = {"key": key or type_, "type": type_, "label": type_.replace("_", " ")}
    if type_ in forms.CHOICE_TYPES:
        f["options"] = OPTIONS
    return {**f, **extra}


def _form(*fields):
    return forms.FormDefinition.model_validate({"sections": [{"key": "main", "title": "Main", "fields": list(fields)}]})


ANSWERABLE = [t for t in forms.FIELD_TYPES if t not in forms.NO_ANSWER_TYPES]


def test_there_are_twenty_or_more_field_types_and_each_has_examples():
    assert len(forms.FIELD_TYPES) >= 21
    assert set(VALID) == set(INVALID) == set(ANSWERABLE)


@pytest.mark.parametrize("type_", ANSWERABLE)
def test_a_valid_answer_of_each_type_is_accepted(type_):
    definition = _form(_field(type_, required=type_ not in ("hidden",)))
    clean, errors = forms.validate_submission(definition, {type_: VALID[type_]})
    assert errors == [] and type_ in clean


@pytest.mark.parametrize("type_", ANSWERABLE)
def test_a_wrong_answer_names_its_field(type_):
    definition = _form(_field("short_text", "name"), _field(type_))
    clean, errors = forms.validate_submission(definition, {"name": "ok", type_: INVALID[type_]})
    assert [e["field"] for e in errors] == [f"answers.{type_}"] and type_ not in clean and clean["name"] == "ok"


def test_clean_values_are_normalised():
    definition = _form(*[_field(t) for t in ANSWERABLE])
    clean, errors = forms.validate_submission(definition, VALID)
    assert errors == []
    assert clean["currency"] == "12.50" and clean["multi_select"] == ["red", "blue"]
    assert clean["date_time"] == "2026-02-28T08:00:00+00:00" and clean["address"]["country"] == "GB"


def test_required_unknown_and_heading():
    definition = _form(_field("section_heading", "intro"), _field("email", required=True),
                       _field("checkbox", "consent", required=True))
    _, errors = forms.validate_submission(definition, {"intro": "x", "email": "  ", "consent": False, "extra": 1})
    assert {e["field"] for e in errors} == {"answers.intro", "answers.email", "answers.consent", "answers.extra"}
    assert forms.validate_submission(definition, [1])[1][0]["field"] == "answers"


def test_definition_mistakes_are_refused():
    with pytest.raises(ValidationError):
        _form(_field("short_text", "a"), _field("email", "a"))  # duplicate key
    with pytest.raises(ValidationError):
        _form({"key": "c", "type": "single_select", "label": "C"})  # no options
    with pytest.raises(ValidationError):  # a condition on a later field
        _form(_field("short_text", "b", visible_when={"field": "a", "equals": "x"}), _field("short_text", "a"))
    with pytest.raises(ValidationError):  # a value the source cannot take
        _form(_field("single_select", "a"), _field("short_text", "b", visible_when={"field": "a", "equals": "pink"}))
    with pytest.raises(ValidationError):
        _form(_field("hidden", required=True))


def _conditional_form():
    return _form(_field("yes_no", "has_issue", required=True),
                 _field("long_text", "issue", required=True, visible_when={"field": "has_issue", "equals": True}),
                 _field("single_select", "colour", visible_when={"field": "issue", "equals": "x"}),
                 _field("multi_select", "tags"),
                 _field("nps", "score", required=True, visible_when={"field": "tags", "in": ["red", "blue"]}))


@settings(max_examples=150, deadline=None)
@given(has_issue=st.booleans(), issue=st.one_of(st.none(), st.text(max_size=30)),
       tags=st.lists(st.sampled_from(OPTIONS), unique=True), score=st.one_of(st.none(), st.integers(-2, 12)))
def test_a_field_hidden_by_its_condition_is_never_required_nor_kept(has_issue, issue, tags, score):
    answers = {"has_issue": has_issue, "issue": issue, "tags": tags, "score": score}
    clean, errors = forms.validate_submission(_conditional_form(), answers)
    failed = {e["field"] for e in errors}
    shown = forms.visible_fields(_conditional_form(), clean)
    if not has_issue:
        assert "answers.issue" not in failed and "issue" not in clean and "colour" not in shown
    if not set(tags) & {"red", "blue"}:
        assert "answers.score" not in failed and "score" not in clean
    else:
        assert ("answers.score" in failed) == (score is None or not 0 <= score <= 10)
    assert set(clean) <= shown  # only visible answers are kept


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10), st.integers(1, 5))
def test_scores_of_nps_and_csat(nps, csat):
    definition = _form(_field("nps"), _field("csat"), _field("rating"))
    clean, errors = forms.validate_submission(definition, {"nps": nps, "csat": csat, "rating": 3})
    got = {s["type"]: s for s in forms.scores(definition, clean)}
    assert errors == [] and set(got) == {"nps", "csat"}
    assert got["nps"]["category"] == ("promoter" if nps >= 9 else "passive" if nps >= 7 else "detractor")
    assert got["csat"]["score"] == csat and got["csat"]["max"] == 5


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=2000).filter(lambda s: s.strip()))
def test_summary_is_short(text):
    definition = _form(_field("long_text"), _field("file_upload"))
    clean, _ = forms.validate_submission(definition, {"long_text": text, "file_upload": VALID["file_upload"]})
    s = forms.summary(definition, clean)
    assert len(s["long_text"]) <= forms.SUMMARY_CHARS and s["file_upload"] == "contract.pdf"


def test_link_tokens_and_refusals():
    token, digest = forms.generate_link_token()
    assert forms.link_token_well_formed(token) and token not in digest and len(digest) == 64
    assert not forms.link_token_well_formed(token[:-1]) and not forms.link_token_well_formed(None)
    now = datetime.now(timezone.utc)
    assert forms.link_refusal(None, None, False, 0, now) is None
    assert "used" in forms.link_refusal(None, None, False, 1, now)
    assert forms.link_refusal(None, None, True, 9, now) is None
    assert "expired" in forms.link_refusal(now - timedelta(seconds=1), None, True, 0, now)
    assert "withdrawn" in forms.link_refusal(None, now, True, 0, now)
