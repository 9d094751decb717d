"""Forms: the definition model, per-type validation of a submission, conditional visibility, the
scores of CSAT/NPS fields and the link token (pure, no I/O).

Decisions:
- A form is sections of fields; every field has a `key` unique in the whole form (answers are one
  flat `{key: value}` object, so moving a field between sections never changes its answers).
- `section_heading` is display only: it takes no answer (one given is an error, so a client bug is
  seen). `hidden` carries a value the sender prefills (a campaign, an account id): a string, never
  required.
- Visibility: `visible_when = {field, equals}` (or `in: [...]`) shows the field only when the
  earlier field `field` has that answer (for a multi-select or a checkbox list: when it contains it).
  The condition may name only a field placed *before* it, so there are no cycles and one pass in
  form order decides everything; a field whose condition names a field that is itself hidden is
  hidden. A hidden field is neither required nor kept: an answer sent for it is dropped silently
  (the respondent may have filled it before changing the answer it depends on).
- An empty answer (None, "", [], whitespace only) is no answer; a required visible field without
  an answer is an error ("required"). `checkbox` is a single tick box (consent): required means
  ticked. `yes_no` is a boolean: required means answered (no is an answer).
- `rating` is 1–5 stars, `nps` 0–10 (detractor 0–6, passive 7–8, promoter 9–10), `csat` 1–5
  (satisfied: 4 or 5). Booleans are never numbers.
- `currency` answers are an amount (a number or a decimal string, at most 2 places, ≥ 0 unless the
  field allows negatives) in the field's `currency` (ISO 4217, default USD); kept as a string
  ("12.50") so no float rounding reaches storage.
- `file_upload` holds a reference and its metadata only (`{file_id | url, name, content_type,
  size}`), never the bytes: the upload goes to file storage elsewhere.
- `address` is `{line1, line2?, city, region?, postal_code?, country}` with an ISO 3166 alpha-2
  country; `date_time` must carry a UTC offset and is kept in UTC.
- An answer for a key the form does not have is an error naming that key (a stale client).
"""
from __future__ import annotations

import math
import re
import secrets
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from customers import tokens

FIELD_TYPES = ("short_text", "long_text", "number", "currency", "email", "phone", "url", "date", "date_time",
               "single_select", "multi_select", "radio", "checkbox", "yes_no", "rating", "nps", "csat",
               "file_upload", "address", "hidden", "section_heading")
FieldType = Literal["short_text", "long_text", "number", "currency", "email", "phone", "url", "date", "date_time",
                    "single_select", "multi_select", "radio", "checkbox", "yes_no", "rating", "nps", "csat",
                    "file_upload", "address", "hidden", "section_heading"]
CHOICE_TYPES = frozenset({"single_select", "multi_select", "radio"})
MULTI_TYPES = frozenset({"multi_select"})
SCORE_TYPES = frozenset({"nps", "csat"})
NO_ANSWER_TYPES = frozenset({"section_heading"})
MAX_SECTIONS = 50
MAX_FIELDS = 300
MAX_FILE_BYTES = 100 * 1024 * 1024
TEXT_LIMITS = {"short_text": 500, "long_text": 20_000, "hidden": 1_000}
SCALES = {"rating": (1, 5), "nps": (0, 10), "csat": (1, 5)}

Key = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
                    r"[A-Za-z0-9])?)+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,30}$")
_URL = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", re.IGNORECASE)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Condition(_Shape):
    """Show the field when the earlier field `field` has the answer `equals` (or one of `in`)."""

    field: Key
    equals: Any = None
    in_: Annotated[list[Any], Field(alias="in", min_length=1, max_length=100)] = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one(self):
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of equals and in")
        return self

    def wanted(self) -> list:
        return list(self.in_) if self.in_ is not None else [self.equals]


class FormField(_Shape):
    key: Key
    type: FieldType
    label: Annotated[str, Field(min_length=1, max_length=500)]
    help: Annotated[str, Field(max_length=2000)] = None
    required: bool = False
    options: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=200)] = None
    min: float | None = None  # number: bounds; multi_select: fewest choices
    max: float | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    allow_negative: bool = False
    visible_when: Condition | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.type in CHOICE_TYPES:
            if not self.options:
                raise ValueError(f"a {self.type} field needs options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must be distinct")
        elif self.options is not None:
            raise ValueError(f"a {self.type} field has no options")
        if self.type in ("hidden", "section_heading") and self.required:
            raise ValueError(f"a {self.type} field cannot be required")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class Section(_Shape):
    key: Key
    title: Annotated[str, Field(max_length=300)] = ""
    fields: Annotated[list[FormField], Field(max_length=MAX_FIELDS)] = []


class FormDefinition(_Shape):
    """The sections in order; the fields' keys unique across the form; each condition on an earlier
    field, compared with a value that field can take."""

    sections: Annotated[list[Section], Field(min_length=1, max_length=MAX_SECTIONS)]

    @model_validator(mode="after")
    def _keys_and_conditions(self):
        seen: dict[str, FormField] = {}
        section_keys = set()
        for section in self.sections:
            if section.key in section_keys:
                raise ValueError(f"section key {section.key} appears twice")
            section_keys.add(section.key)
            for f in section.fields:
                if f.key in seen:
                    raise ValueError(f"field key {f.key} appears twice")
                if f.visible_when is not None:
                    source = seen.get(f.visible_when.field)
                    if source is None:
                        raise ValueError(f"field {f.key}: visible_when must name a field placed before it")
                    if source.type in NO_ANSWER_TYPES:
                        raise ValueError(f"field {f.key}: a {source.type} has no answer to depend on")
                    for value in f.visible_when.wanted():
                        probe = [value] if source.type in MULTI_TYPES else value  # "contains" for lists
                        if validate_answer(source, probe)[1] is not None:
                            raise ValueError(f"field {f.key}: {value!r} is not an answer field {source.key} can have")
                seen[f.key] = f
        if len(seen) > MAX_FIELDS:
            raise ValueError(f"a form has at most {MAX_FIELDS} fields")
        return self

    def fields(self) -> list[FormField]:
        return [f for s in self.sections for f in s.fields]


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, (list, dict))
                                                                               and not value)


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(field: FormField, value):
    if not isinstance(value, str):
        return None, "must be text"
    value = value.strip()
    if len(value) > TEXT_LIMITS[field.type]:
        return None, f"at most {TEXT_LIMITS[field.type]} characters"
    return value, None


def _scale(field: FormField, value):
    low, high = SCALES[field.type]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None, f"a whole number from {low} to {high}"
    return value, None


def _currency(field: FormField, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None, "an amount (a number or a decimal string)"
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None, "an amount (a number or a decimal string)"
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        return None, "an amount with at most 2 decimal places"
    if amount < 0 and not field.allow_negative:
        return None, "must not be negative"
    if abs(amount) >= Decimal("1e15"):
        return None, "too large"
    return str(amount.quantize(Decimal("0.01"))), None


def _number_answer(field: FormField, value):
    n = _number(value)
    if n is None:
        return None, "must be a number"
    if field.min is not None and n < field.min:
        return None, f"at least {field.min:g}"
    if field.max is not None and n > field.max:
        return None, f"at most {field.max:g}"
    return value, None


def _choice(field: FormField, value):
    if value not in field.options:
        return None, "must be one of: " + ", ".join(field.options)
    return value, None


def _choices(field: FormField, value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, "a list of options"
    unknown = [v for v in value if v not in field.options]
    if unknown:
        return None, "not an option: " + ", ".join(unknown)
    if len(set(value)) != len(value):
        return None, "each option at most once"
    if field.min is not None and len(value) < field.min:
        return None, f"choose at least {field.min:g}"
    if field.max is not None and len(value) > field.max:
        return None, f"choose at most {field.max:g}"
    return [o for o in field.options if o in value], None  # in the form's order: the same answer, one shape


def _date(value):
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            pass
    return None, "a date (YYYY-MM-DD)"


def _date_time(value):
    if not isinstance(value, str):
        return None, "a date and time with a UTC offset (ISO 8601)"
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None, "a date and time with a UTC offset (ISO 8601)"
    if at.tzinfo is None:
        return None, "a date and time with a UTC offset (ISO 8601)"
    return at.astimezone(timezone.utc).isoformat(), None


def _matching(pattern, message, max_length=320):
    def check(value):
        if not isinstance(value, str) or len(value.strip()) > max_length or not pattern.match(value.strip()):
            return None, message
        return value.strip(), None
    return check


def _phone(value):
    cleaned, error = _matching(_PHONE, "a phone number (digits, optional +)")(value)
    if error is None and not 5 <= sum(c.isdigit() for c in cleaned) <= 15:
        return None, "a phone number has 5 to 15 digits"
    return cleaned, error


def _file(value):
    message = "a file reference {file_id or url, name, content_type, size}"
    if not isinstance(value, dict) or set(value) - {"file_id", "url", "name", "content_type", "size"}:
        return None, message
    name, size, ctype = value.get("name"), value.get("size"), value.get("content_type")
    ref = value.get("file_id") or value.get("url")
    if not (isinstance(ref, str) and 0 < len(ref) <= 2000 and isinstance(name, str) and 0 < len(name.strip()) <= 300):
        return None, message
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_FILE_BYTES:
        return None, f"size: bytes, at most {MAX_FILE_BYTES}"
    if ctype is not None and not (isinstance(ctype, str) and re.match(r"^[\w.+-]+/[\w.+-]+$", ctype)):
        return None, "content_type: a media type such as application/pdf"
    if value.get("url") is not None and not _URL.match(value["url"]):
        return None, "url: an http(s) address"
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in value.items() if v is not None}, None


ADDRESS_PARTS = {"line1": 200, "line2": 200, "city": 100, "region": 100, "postal_code": 20, "country": 2}


def _address(value):
    if not isinstance(value, dict) or set(value) - set(ADDRESS_PARTS):
        return None, "an address {line1, line2?, city, region?, postal_code?, country}"
    clean = {}
    for part, limit in ADDRESS_PARTS.items():
        v = value.get(part)
        if v is None or (isinstance(v, str) and not v.strip()):
            if part in ("line1", "city", "country"):
                return None, f"{part} is required"
            continue
        if not isinstance(v, str) or len(v.strip()) > limit:
            return None, f"{part}: text of at most {limit} characters"
        clean[part] = v.strip()
    clean["country"] = clean["country"].upper()
    if not _COUNTRY.match(clean["country"]):
        return None, "country: an ISO 3166 two-letter code"
    return clean, None


def _boolean(value):
    if not isinstance(value, bool):
        return None, "true or false"
    return value, None


def validate_answer(field: FormField, value) -> tuple[Any, str | None]:
    """One non-empty answer of one field: `(clean value, None)` or `(None, why not)`."""
    t = field.type
    if t in TEXT_LIMITS:
        return _text(field, value)
    if t in SCALES:
        return _scale(field, value)
    if t in ("single_select", "radio"):
        return _choice(field, value)
    if t in MULTI_TYPES:
        return _choices(field, value)
    simple = {"number": lambda v: _number_answer(field, v), "currency": lambda v: _currency(field, v),
              "email": _matching(_EMAIL, "an email address"), "phone": _phone,
              "url": _matching(_URL, "an http(s) address", 2000), "date": _date, "date_time": _date_time,
              "checkbox": _boolean, "yes_no": _boolean, "file_upload": _file, "address": _address}
    if t in simple:
        return simple[t](value)
    return None, "takes no answer"  # section_heading


def _condition_holds(condition: Condition, answer) -> bool:
    if answer is None:
        return False
    wanted = condition.wanted()
    if isinstance(answer, list):
        return any(w in answer for w in wanted)
    return any(w == answer and type(w) is type(answer) for w in wanted) or (
        _number(answer) is not None and any(_number(w) == _number(answer) for w in wanted))


def visible_fields(definition: FormDefinition, clean: dict) -> set[str]:
    """Keys of the fields shown given the (clean) answers so far, deciding in form order."""
    shown = set()
    for f in definition.fields():
        c = f.visible_when
        if c is None or (c.field in shown and _condition_holds(c, clean.get(c.field))):
            shown.add(f.key)
    return shown


def validate_submission(definition: FormDefinition, answers) -> tuple[dict, list[dict]]:
    """`(clean answers, errors)`: errors `[{field, message}]` one per bad field (unknown keys too);
    the clean answers hold the visible, non-empty, valid answers only."""
    if not isinstance(answers, dict):
        return {}, [{"field": "answers", "message": "an object of answers by field key"}]
    fields = definition.fields()
    known = {f.key for f in fields}
    errors = [{"field": f"answers.{k}", "message": "not a field of this form"} for k in answers if k not in known]
    clean: dict = {}
    shown: set[str] = set()
    for f in fields:
        c = f.visible_when
        if c is not None and not (c.field in shown and _condition_holds(c, clean.get(c.field))):
            continue  # hidden by its condition: neither required nor kept
        shown.add(f.key)
        value = answers.get(f.key)
        if f.type in NO_ANSWER_TYPES:
            if not _empty(value):
                errors.append({"field": f"answers.{f.key}", "message": "a section heading takes no answer"})
            continue
        if f.type == "checkbox" and f.required and value is False:
            errors.append({"field": f"answers.{f.key}", "message": "required: tick it"})
            continue
        if _empty(value):
            if f.required:
                errors.append({"field": f"answers.{f.key}", "message": "required"})
            continue
        cleaned, error = validate_answer(f, value)
        if error is not None:
            errors.append({"field": f"answers.{f.key}", "message": error})
        else:
            clean[f.key] = cleaned
    return clean, errors


def nps_category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def scores(definition: FormDefinition, clean: dict) -> list[dict]:
    """The CSAT and NPS answers of a submission, as the ticket, customer and reports take them:
    `{field, type, score, max, category}` (CSAT: satisfied/neutral/dissatisfied)."""
    out = []
    for f in definition.fields():
        if f.type in SCORE_TYPES and f.key in clean:
            s = clean[f.key]
            category = nps_category(s) if f.type == "nps" else (
                "satisfied" if s >= 4 else "neutral" if s == 3 else "dissatisfied")
            out.append({"field": f.key, "type": f.type, "score": s, "max": SCALES[f.type][1], "category": category})
    return out


SUMMARY_CHARS = 200


def summary(definition: FormDefinition, clean: dict) -> dict[str, str]:
    """A short text per answered field for events and the timeline (long text cut, files by name):
    the full answers stay with the submission."""
    out = {}
    for f in definition.fields():
        if f.key not in clean:
            continue
        v = clean[f.key]
        if f.type == "file_upload":
            text = v["name"]
        elif f.type == "address":
            text = ", ".join(v[p] for p in ("line1", "city", "country"))
        elif isinstance(v, list):
            text = ", ".join(v)
        elif isinstance(v, bool):
            text = "yes" if v else "no"
        else:
            text = str(v)
        out[f.key] = text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS - 1] + "…"
    return out


# --- the link token ---

LINK_SCHEME = "csf_"  # a form link, told apart from an API token (`cst_`) and an invite (`csi_`)
LINK_LENGTH = len(LINK_SCHEME) + 43


def generate_link_token() -> tuple[str, str]:
    """`(token, its hash)`: 32 random bytes (unguessable); only the hash is stored."""
    token = LINK_SCHEME + secrets.token_urlsafe(32)
    return token, tokens.hash_token(token)


def link_token_well_formed(token) -> bool:
    return (isinstance(token, str) and len(token) == LINK_LENGTH and token.startswith(LINK_SCHEME)
            and all(c.isascii() and (c.isalnum() or c in "-_") for c in token[len(LINK_SCHEME):]))


def link_refusal(expires_at: datetime | None, revoked_at: datetime | None, multiple: bool, submission_count: int,
                 at: datetime) -> str | None:
    """Why a found link takes no submission now (a 410), or None when it does."""
    if revoked_at is not None:
        return "this form link was withdrawn"
    if expires_at is not None and expires_at <= at:
        return "this form link has expired"
    if not multiple and submission_count >= 1:
        return "this form link was already used"
    return None
