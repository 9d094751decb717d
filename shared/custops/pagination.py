"""Keyset pagination, newest first, over (timestamp, id) or any longer key. Cursors are opaque to clients.

A cursor is the key of the last row of a page (JSON list, base64url). `page()`/`result()` use the
usual (timestamp, id) key; `keyset_page()`/`keyset_result()` take any key whose columns are
timestamps, integers or UUIDs (e.g. the timeline's (occurred_at, sequence, id), where `sequence`
breaks ties in the order the facts happened). A cursor made for one key does not fit another and
is refused as invalid.
"""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Sequence

from sqlalchemy import tuple_

from custops.errors import InvalidInput

MAX_LIMIT = 200


def _invalid_cursor() -> InvalidInput:
    return InvalidInput("invalid cursor", [{"field": "cursor", "message": "not a cursor from this API"}])


def _to_json(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _from_json(value, kind: type):
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("not an integer")
        return value
    raise TypeError(f"cannot read a {kind.__name__} from a cursor")


def encode_key(*values) -> str:
    raw = json.dumps([_to_json(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_key(cursor: str, kinds: Sequence[type]) -> tuple:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("wrong key length")
        return tuple(_from_json(v, kind) for v, kind in zip(values, kinds))
    except (ValueError, TypeError, AttributeError, json.JSONDecodeError):
        raise _invalid_cursor() from None


def encode(ts: datetime, id_: uuid.UUID) -> str:
    return encode_key(ts, id_)


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    return decode_key(cursor, (datetime, uuid.UUID))


def clamp(limit) -> int:
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise InvalidInput("invalid limit", [{"field": "limit", "message": "must be an integer"}]) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("invalid limit", [{"field": "limit", "message": f"must be 1..{MAX_LIMIT}"}])
    return limit


def _kind(column) -> type:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = None
    if kind is datetime or kind is uuid.UUID or kind is int:
        return kind
    raise TypeError(f"column {column} cannot be a keyset column (timestamp, integer or UUID only)")


def keyset_page(stmt, columns: Sequence, cursor: str | None, limit: int):
    """Newest-first keyset ordering on `columns` (all NOT NULL) and the cursor; fetch one extra row."""
    if cursor:
        key = decode_key(cursor, [_kind(c) for c in columns])
        stmt = stmt.where(tuple_(*columns) < tuple_(*key))
    return stmt.order_by(*(c.desc() for c in columns)).limit(limit + 1)


def keyset_result(rows, limit: int, keys: Sequence[str], shape) -> dict:
    """`{items, next_cursor}` from the rows of `keyset_page()`; `keys` name its columns in the rows."""
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_key(*(last[k] for k in keys))
    return {"items": [shape(r) for r in items], "next_cursor": next_cursor}


def page(stmt, ts_col, id_col, cursor: str | None, limit: int):
    """Apply newest-first (timestamp, id) keyset ordering and the cursor to a select; fetch one extra row."""
    return keyset_page(stmt, (ts_col, id_col), cursor, limit)


def result(rows, limit: int, ts_key: str, shape) -> dict:
    """`{items, next_cursor}` from the rows of `page()`."""
    return keyset_result(rows, limit, (ts_key, "id"), shape)


__all__ = ["encode", "decode", "encode_key", "decode_key", "clamp", "page", "result", "keyset_page",
           "keyset_result"]
