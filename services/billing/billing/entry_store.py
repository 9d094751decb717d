"""The SQL over the time entries table, and how an entry is shaped for RPC answers."""
from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from billing.models import time_entries
from custops import pagination
from custops.errors import NotFound


def shape(row) -> dict:
    def iso(value):
        return value.isoformat() if value is not None else None

    def text(value):
        return str(value) if value is not None else None

    return {
        "id": str(row["id"]),
        "member_id": str(row["member_id"]),
        "customer_id": str(row["customer_id"]),
        "ticket_id": text(row["ticket_id"]),
        "work_date": row["work_date"].isoformat(),
        "minutes": row["minutes"],
        "billable": row["billable"],
        "note": row["note"],
        "entered_by_member_id": str(row["entered_by_member_id"]),
        "revision": row["revision"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "invoiced_at": iso(row["invoiced_at"]),
        "project_id": text(row.get("project_id")),
        "task_id": text(row.get("task_id")),
        "activity_id": text(row.get("activity_id")),
        "category": row.get("category"),
        "billable_source": row.get("billable_source", "entry"),
        "billable_reason": row.get("billable_reason"),
        "tags": list(row.get("tags") or []),
        "started_at": iso(row.get("started_at")),
        "ended_at": iso(row.get("ended_at")),
        "timer_id": text(row.get("timer_id")),
        "needs_confirmation": row.get("needs_confirmation") if row.get("confirmed_at") is None else None,
        "confirmed_at": iso(row.get("confirmed_at")),
        "approved_at": iso(row.get("approved_at")),
        "invoice_id": text(row.get("invoice_id")),
        # locked: invoiced (for good) or its week approved (until reopened) — billing.corrections
        "locked": row["invoiced_at"] is not None or row.get("invoice_id") is not None
        or row.get("approved_at") is not None,
    }


NEW_ENTRY_DEFAULTS = {"revision": 1, "updated_at": None, "invoiced_at": None, "category": None,
                      "billable_source": "entry", "billable_reason": None, "project_id": None, "task_id": None,
                      "activity_id": None, "tags": [], "started_at": None, "ended_at": None, "timer_id": None,
                      "needs_confirmation": None, "confirmed_at": None, "approved_at": None, "invoice_id": None}


def insert(session: Session, row: dict) -> dict:
    row = {**NEW_ENTRY_DEFAULTS, **row}
    session.execute(time_entries.insert().values(**row))
    return row


def load(session: Session, tenant_id: uuid.UUID, entry_id: uuid.UUID, for_update: bool = False) -> dict:
    stmt = select(time_entries).where(time_entries.c.tenant_id == tenant_id, time_entries.c.id == entry_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise NotFound(f"time entry {entry_id} not found")
    return dict(row)


def save(session: Session, entry: dict, values: dict) -> None:
    session.execute(update(time_entries).where(
        time_entries.c.tenant_id == entry["tenant_id"], time_entries.c.id == entry["id"]).values(**values))


def remove(session: Session, entry: dict) -> None:
    session.execute(delete(time_entries).where(
        time_entries.c.tenant_id == entry["tenant_id"], time_entries.c.id == entry["id"]))


def in_range(stmt, period):
    """Restrict a select to entries whose work date lies in the inclusive range."""
    if period.date_from:
        stmt = stmt.where(time_entries.c.work_date >= period.date_from)
    if period.date_to:
        stmt = stmt.where(time_entries.c.work_date <= period.date_to)
    return stmt


def page(session: Session, tenant_id: uuid.UUID, f, limit: int, cursor: str | None) -> dict:
    stmt = in_range(select(time_entries).where(time_entries.c.tenant_id == tenant_id), f)
    if f.customer_id:
        stmt = stmt.where(time_entries.c.customer_id == f.customer_id)
    if f.customer_ids is not None:
        stmt = stmt.where(time_entries.c.customer_id.in_(f.customer_ids))
    if f.member_id:
        stmt = stmt.where(time_entries.c.member_id == f.member_id)
    if f.project_id:
        stmt = stmt.where(time_entries.c.project_id == f.project_id)
    if f.billable is not None:
        stmt = stmt.where(time_entries.c.billable.is_(f.billable))
    if f.category:
        stmt = stmt.where(time_entries.c.category == f.category)
    stmt = pagination.page(stmt, time_entries.c.created_at, time_entries.c.id, cursor, limit)
    rows = session.execute(stmt).mappings().all()
    return pagination.result(rows, limit, "created_at", shape)


def in_week(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, first: date, last: date,
            for_update: bool = False) -> list[dict]:
    """The member's entries of the days `first`..`last`, oldest day first."""
    c = time_entries.c
    stmt = (select(time_entries).where(c.tenant_id == tenant_id, c.member_id == member_id,
                                       c.work_date >= first, c.work_date <= last)
            .order_by(c.work_date, c.created_at, c.id))
    return [dict(r) for r in session.execute(stmt.with_for_update() if for_update else stmt).mappings()]


def subtotals(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, period) -> list[tuple[bool, int]]:
    """(billable, minutes) per flag for the customer's entries in the period."""
    stmt = in_range(
        select(time_entries.c.billable, func.sum(time_entries.c.minutes))
        .where(time_entries.c.tenant_id == tenant_id, time_entries.c.customer_id == customer_id),
        period,
    ).group_by(time_entries.c.billable)
    return [(billable, int(minutes)) for billable, minutes in session.execute(stmt).all()]
