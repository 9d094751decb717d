"""Keyset pagination over (timestamp, id), newest first. Cursors are opaque to clients."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

from sqlalchemy import tuple_

from custops.errors import InvalidInput

MAX_LIMIT = 200


def encode(ts: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([ts.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ts, id_ = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(ts), uuid.UUID(id_)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise InvalidInput("invalid cursor", [{"field": "cursor", "message": "not a cursor from this API"}]) from None


def clamp(limit) -> int:
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise InvalidInput("invalid limit", [{"field": "limit", "message": "must be an integer"}]) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("invalid limit", [{"field": "limit", "message": f"must be 1..{MAX_LIMIT}"}])
    return limit


def page(stmt, ts_col, id_col, cursor: str | None, limit: int):
    """Apply newest-first keyset ordering and the cursor to a select; fetch one extra row."""
    if cursor:
        ts, id_ = decode(cursor)
        stmt = stmt.where(tuple_(ts_col, id_col) < tuple_(ts, id_))
    return stmt.order_by(ts_col.desc(), id_col.desc()).limit(limit + 1)


def result(rows, limit: int, ts_key: str, shape) -> dict:
    """`{items, next_cursor}` from the rows of `page()`."""
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode(last[ts_key], last["id"])
    return {"items": [shape(r) for r in items], "next_cursor": next_cursor}


__all__ = ["encode", "decode", "clamp", "page", "result"]
