"""Interaction types: what can be logged by hand on a timeline, and the structured fields each carries.

Pure: definitions and validation, no I/O. Decisions:

- Ten built-in kinds (`BUILT_IN`: call, meeting, email, note, chat, training, check_in, feedback,
  issue_report, handoff), the same for every tenant. A tenant adds its own kinds (`parse_definition`)
  with its own fields; a tenant kind may not take a built-in's name (a `call` means one thing in
  every export), and redefining a tenant kind replaces its field list for later writes only — stored
  activities keep the fields they were written with (they are history).
- Fields are validated on write (`validate_fields`): unknown fields are refused (a typo must not
  vanish silently), required ones must be there, each value must fit its kind. Values are stored
  normalised (a select's choice as given, a date as ISO text, people stripped), so a reader never
  re-validates. Every field is optional unless `required` — a quick note after a call must not be
  blocked by a form.
- Field kinds are few and plain (`FIELD_KINDS`); a tenant kind has at most `MAX_FIELDS` fields.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from custops.errors import InvalidInput

FIELD_KINDS = ("text", "integer", "number", "boolean", "date", "datetime", "select", "multi_select", "people",
               "member")
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
FIELD_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 30
MAX_TEXT = 2000
MAX_ITEMS = 100


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()  # select / multi_select
    minimum: float | None = None  # integer / number
    maximum: float | None = None
    label: str = ""

    def doc(self) -> dict:
        out = {"name": self.name, "kind": self.kind, "required": self.required, "label": self.label or self.name}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


@dataclass(frozen=True)
class InteractionType:
    kind: str
    label: str
    fields: tuple[FieldSpec, ...] = field(default=())
    built_in: bool = True

    def doc(self) -> dict:
        return {"kind": self.kind, "label": self.label, "built_in": self.built_in,
                "fields": [f.doc() for f in self.fields]}


_DIRECTION = ("inbound", "outbound")
_SENTIMENT = ("positive", "neutral", "negative")
_MINUTES = dict(minimum=0, maximum=24 * 60)


def _f(name, kind, **kw) -> FieldSpec:
    return FieldSpec(name, kind, **kw)


BUILT_IN: dict[str, InteractionType] = {t.kind: t for t in (
    InteractionType("call", "Call", (
        _f("direction", "select", choices=_DIRECTION), _f("duration_minutes", "integer", **_MINUTES),
        _f("outcome", "select", choices=("connected", "voicemail", "no_answer", "busy")),
        _f("phone", "text"), _f("participants", "people"))),
    InteractionType("meeting", "Meeting", (
        _f("attendees", "people"), _f("duration_minutes", "integer", **_MINUTES),
        _f("mode", "select", choices=("in_person", "video", "phone")), _f("location", "text"),
        _f("agenda", "text"))),
    InteractionType("email", "Email", (
        _f("direction", "select", choices=_DIRECTION), _f("subject", "text"), _f("to", "people"))),
    InteractionType("note", "Note"),
    InteractionType("chat", "Chat", (
        _f("channel", "text"), _f("direction", "select", choices=_DIRECTION), _f("participants", "people"))),
    InteractionType("training", "Training", (
        _f("topic", "text"), _f("attendees", "people"), _f("duration_minutes", "integer", **_MINUTES))),
    InteractionType("check_in", "Check-in", (
        _f("sentiment", "select", choices=_SENTIMENT), _f("next_step", "text"))),
    InteractionType("feedback", "Feedback", (
        _f("sentiment", "select", choices=_SENTIMENT), _f("score", "integer", minimum=0, maximum=10),
        _f("topic", "text"))),
    InteractionType("issue_report", "Issue report", (
        _f("severity", "select", choices=("low", "medium", "high", "critical")), _f("area", "text"))),
    InteractionType("handoff", "Handoff", (
        _f("from_member_id", "member"), _f("to_member_id", "member"), _f("reason", "text"))),
)}


def _problem(errors: list[dict], detail: str = "invalid interaction fields") -> InvalidInput:
    return InvalidInput(detail, errors)


def _value(spec: FieldSpec, value, where: str):
    """The normalised value, or raises ValueError with the message."""
    kind = spec.kind
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError("must be text")
        value = value.strip()
        if len(value) > MAX_TEXT:
            raise ValueError(f"at most {MAX_TEXT} characters")
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be {'an integer' if kind == 'integer' else 'a number'}")
        if kind == "integer" and isinstance(value, float):
            if not value.is_integer():
                raise ValueError("must be an integer")
            value = int(value)
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(f"must be at least {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(f"must be at most {spec.maximum:g}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise ValueError("must be a date (YYYY-MM-DD)") from None
    if kind == "datetime":
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValueError("must be an ISO 8601 date-time") from None
        if parsed.tzinfo is None:
            raise ValueError("must carry a time zone offset")
        return parsed.isoformat()
    if kind == "select":
        if value not in spec.choices:
            raise ValueError(f"must be one of {', '.join(spec.choices)}")
        return value
    if kind in ("multi_select", "people"):
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise ValueError(f"must be a list of at most {MAX_ITEMS} items")
        out = []
        for item in value:
            if not isinstance(item, str) or not item.strip() or len(item) > 320:
                raise ValueError("every item must be non-empty text of at most 320 characters")
            if kind == "multi_select" and item not in spec.choices:
                raise ValueError(f"every item must be one of {', '.join(spec.choices)}")
            out.append(item.strip())
        return out
    if kind == "member":
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise ValueError("must be a member id (UUID)") from None
    raise ValueError(f"unknown field kind {kind}")  # definitions are validated: cannot happen


def validate_fields(interaction: InteractionType, given: dict | None) -> dict:
    """The fields of an interaction of this type, normalised; InvalidInput naming every bad field
    (`fields.<name>`)."""
    given = given or {}
    if not isinstance(given, dict):
        raise _problem([{"field": "fields", "message": "must be an object"}])
    specs = {s.name: s for s in interaction.fields}
    errors, out = [], {}
    for name in sorted(set(given) - set(specs)):
        errors.append({"field": f"fields.{name}", "message": f"not a field of {interaction.kind}"})
    for name, spec in specs.items():
        value = given.get(name)
        if value is None or value == "" or value == []:
            if spec.required:
                errors.append({"field": f"fields.{name}", "message": "required"})
            continue
        try:
            out[name] = _value(spec, value, f"fields.{name}")
        except ValueError as exc:
            errors.append({"field": f"fields.{name}", "message": str(exc)})
    if errors:
        raise _problem(errors)
    return out


def parse_definition(kind: str, doc: dict) -> InteractionType:
    """A tenant's own interaction type from `{label, fields: [{name, kind, required, choices, minimum,
    maximum, label}]}`; InvalidInput naming what is wrong."""
    errors: list[dict] = []
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        errors.append({"field": "kind", "message": "2-40 characters: a-z, 0-9, _ (starting with a letter)"})
    elif kind in BUILT_IN:
        errors.append({"field": "kind", "message": f"{kind} is a built-in interaction type"})
    label = doc.get("label") if isinstance(doc, dict) else None
    if not isinstance(label, str) or not label.strip() or len(label) > 80:
        errors.append({"field": "label", "message": "1-80 characters"})
    raw_fields = doc.get("fields", []) if isinstance(doc, dict) else None
    specs: list[FieldSpec] = []
    if not isinstance(raw_fields, list) or len(raw_fields) > MAX_FIELDS:
        errors.append({"field": "fields", "message": f"a list of at most {MAX_FIELDS} fields"})
        raw_fields = []
    seen = set()
    for i, raw in enumerate(raw_fields):
        at = f"fields.{i}"
        if not isinstance(raw, dict):
            errors.append({"field": at, "message": "must be an object"})
            continue
        unknown = set(raw) - {"name", "kind", "required", "choices", "minimum", "maximum", "label"}
        if unknown:
            errors.append({"field": f"{at}.{sorted(unknown)[0]}", "message": "unknown property"})
        name, fkind = raw.get("name"), raw.get("kind")
        if not isinstance(name, str) or not FIELD_NAME_PATTERN.match(name):
            errors.append({"field": f"{at}.name", "message": "1-40 characters: a-z, 0-9, _"})
        elif name in seen:
            errors.append({"field": f"{at}.name", "message": f"{name} is defined twice"})
        seen.add(name)
        if fkind not in FIELD_KINDS:
            errors.append({"field": f"{at}.kind", "message": f"one of {', '.join(FIELD_KINDS)}"})
        choices = raw.get("choices", [])
        if fkind in ("select", "multi_select"):
            if (not isinstance(choices, list) or not choices or len(choices) > MAX_ITEMS
                    or not all(isinstance(c, str) and c.strip() and len(c) <= 80 for c in choices)
                    or len(set(choices)) != len(choices)):
                errors.append({"field": f"{at}.choices", "message": "a list of distinct choices (1-80 characters)"})
                choices = []
        elif choices:
            errors.append({"field": f"{at}.choices", "message": "only select and multi_select have choices"})
        bounds = {}
        for bound in ("minimum", "maximum"):
            value = raw.get(bound)
            if value is None:
                continue
            if fkind not in ("integer", "number") or isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append({"field": f"{at}.{bound}", "message": "a number, on integer and number fields only"})
            else:
                bounds[bound] = value
        if bounds.get("minimum") is not None and bounds.get("maximum") is not None \
                and bounds["minimum"] > bounds["maximum"]:
            errors.append({"field": f"{at}.minimum", "message": "must not exceed maximum"})
        required = raw.get("required", False)
        if not isinstance(required, bool):
            errors.append({"field": f"{at}.required", "message": "must be true or false"})
        flabel = raw.get("label", "")
        if not isinstance(flabel, str) or len(flabel) > 80:
            errors.append({"field": f"{at}.label", "message": "at most 80 characters"})
        if not errors:
            specs.append(FieldSpec(name, fkind, required, tuple(choices), bounds.get("minimum"),
                                   bounds.get("maximum"), flabel))
    if errors:
        raise _problem(errors, "invalid interaction type")
    return InteractionType(kind, label.strip(), tuple(specs), built_in=False)


def from_stored(kind: str, label: str, fields: list[dict]) -> InteractionType:
    """A tenant type as stored (its definition was validated when it was written)."""
    return InteractionType(kind, label, tuple(
        FieldSpec(f["name"], f["kind"], f.get("required", False), tuple(f.get("choices", ())), f.get("minimum"),
                  f.get("maximum"), f.get("label", "")) for f in fields), built_in=False)
