"""Row-to-document shaping: how stored values travel in RPC answers (one place for every service).

RPC answers are JSON (nameko serialises with kombu's json): ids become strings, instants and dates
ISO 8601 strings (instants are stored timezone-aware in UTC, so they keep their `+00:00`), absent
values `None`. `doc(row, fields)` shapes the listed columns of a row by their values' types, so a
service writes its field list once and nothing else.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal


def utc_now() -> datetime:
    """The current instant, timezone-aware, in UTC (DESIGN §3.5: time is stored in UTC)."""
    return datetime.now(timezone.utc)


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def id_text(value) -> str | None:
    """An id (UUID or anything printable) as a string; None stays None."""
    return str(value) if value is not None else None


def jsonable(value):
    """A stored value as it travels in an RPC answer (see the module doc)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exact: money and rates never pass through a float
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    raise TypeError(f"no RPC shape for {type(value).__name__}")


def doc(row: Mapping, fields: Iterable[str]) -> dict:
    """`{field: jsonable(row[field])}` for each of `fields`, in that order."""
    return {field: jsonable(row[field]) for field in fields}
