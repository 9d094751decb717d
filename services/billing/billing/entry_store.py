"""The SQL over the time entries table, and how an entry is shaped for RPC answers."""
from __future__ import annotations

import uuid

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
        "locked": row["invoiced_at"] is not None,
    }


def insert(session: Session, row: dict) -> dict:
    row = {"revision": 1, "updated_at": None, "invoiced_at": None, **row}
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
    stmt = pagination.page(stmt, time_entries.c.created_at, time_entries.c.id, cursor, limit)
    rows = session.execute(stmt).mappings().all()
    return pagination.result(rows, limit, "created_at", shape)


def subtotals(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, period) -> list[tuple[bool, int]]:
    """(billable, minutes) per flag for the customer's entries in the period."""
    stmt = in_range(
        select(time_entries.c.billable, func.sum(time_entries.c.minutes))
        .where(time_entries.c.tenant_id == tenant_id, time_entries.c.customer_id == customer_id),
        period,
    ).group_by(time_entries.c.billable)
    return [(billable, int(minutes)) for billable, minutes in session.execute(stmt).all()]
