"""The SQL over the timers table, and how a timer is shaped for RPC answers."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from billing import timers as rules
from billing.models import timers
from custops import pagination
from custops.errors import NotFound


def lock_member(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> None:
    """Serialise the member's timer starts until the commit (two starts at once: one waits, then
    sees the other's timer and stops it)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"billing.timers:{tenant_id}:{member_id}"})


def shape(row, at: datetime, limit_minutes: int | None = None) -> dict:
    def iso(v):
        return v.isoformat() if v is not None else None

    def text_(v):
        return str(v) if v is not None else None

    elapsed = rules.elapsed_seconds(row, at)
    return {
        "id": str(row["id"]), "member_id": str(row["member_id"]), "customer_id": str(row["customer_id"]),
        "project_id": text_(row["project_id"]), "ticket_id": text_(row["ticket_id"]),
        "task_id": text_(row["task_id"]), "activity_id": text_(row["activity_id"]), "category": row["category"],
        "billable": row["billable"], "billable_reason": row["billable_reason"], "note": row["note"],
        "tags": list(row["tags"] or []), "state": row["state"], "started_at": iso(row["started_at"]),
        "resumed_at": iso(row["resumed_at"]), "elapsed_seconds": elapsed,
        "last_activity_at": iso(row["last_activity_at"]), "stopped_at": iso(row["stopped_at"]),
        "stop_reason": row["stop_reason"], "entry_id": text_(row["entry_id"]),
        "over_limit": row["flagged_at"] is not None or (
            limit_minutes is not None and row["state"] in rules.LIVE and elapsed > limit_minutes * 60),
        "flagged_at": iso(row["flagged_at"]), "revision": row["revision"],
    }


def insert(session: Session, row: dict) -> dict:
    row = {"elapsed_seconds": 0, "stopped_at": None, "stop_reason": None, "flagged_at": None, "entry_id": None,
           "revision": 1, "updated_at": None, **row}
    session.execute(timers.insert().values(**row))
    return row


def load(session: Session, tenant_id: uuid.UUID, timer_id: uuid.UUID, for_update: bool = False) -> dict:
    stmt = select(timers).where(timers.c.tenant_id == tenant_id, timers.c.id == timer_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise NotFound(f"timer {timer_id} not found")
    return dict(row)


def live_of(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> list[dict]:
    stmt = (select(timers).where(timers.c.tenant_id == tenant_id, timers.c.member_id == member_id,
                                 timers.c.state.in_(rules.LIVE))
            .order_by(timers.c.started_at).with_for_update())
    return [dict(r) for r in session.execute(stmt).mappings()]


def save(session: Session, row: dict, values: dict, at: datetime) -> dict:
    values = {**values, "revision": row["revision"] + 1, "updated_at": at}
    session.execute(update(timers).where(timers.c.id == row["id"]).values(**values))
    return {**row, **values}


def page(session: Session, tenant_id: uuid.UUID, member_ids: list[uuid.UUID] | None, live_only: bool,
         limit: int, cursor: str | None, at: datetime, limit_minutes: int) -> dict:
    """Timers newest first; `member_ids` None: everyone's."""
    stmt = select(timers).where(timers.c.tenant_id == tenant_id)
    if member_ids is not None:
        stmt = stmt.where(timers.c.member_id.in_(member_ids))
    if live_only:
        stmt = stmt.where(timers.c.state.in_(rules.LIVE))
    stmt = pagination.page(stmt, timers.c.created_at, timers.c.id, cursor, limit)
    rows = session.execute(stmt).mappings().all()
    return pagination.result(rows, limit, "created_at", lambda r: shape(r, at, limit_minutes))


def running(session: Session, tenant_id: uuid.UUID | None = None, limit: int = 1000) -> list[dict]:
    """Running timers, the longest-running first (what the sweep looks at: at most one per member)."""
    stmt = select(timers).where(timers.c.state == "running")
    if tenant_id is not None:
        stmt = stmt.where(timers.c.tenant_id == tenant_id)
    return [dict(r) for r in session.execute(stmt.order_by(timers.c.resumed_at).limit(limit)).mappings()]
