"""Follow-up rows: each command's state change and its event (the audit record) in the caller's
transaction; the pure rules are `timeline.followups`.

A command on a follow-up locks its row (`FOR UPDATE`), so two concurrent commands, or a command and
the clock claiming the row, serialise. A change of the due time (creation, postponement) NOTIFYs the
follow-up clock with the earliest instant it made due (`NOTIFY_CHANNEL`), in the same transaction.
Only open follow-ups change: completing, reassigning, postponing or editing a completed or
cancelled one is a 409.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.orm import Session

from custops import outbox, pagination
from custops.contracts.timeline import (FollowupCancelled, FollowupCompleted, FollowupCreated, FollowupPostponed,
                                        FollowupReassigned, FollowupUpdated)
from custops.errors import Conflict, NotFound
from timeline import followups as rules
from timeline.followup_commands import AnalyticsQuery, CreateFollowup, FollowupFilters
from timeline.followup_models import followup_postponements, followups

NOTIFY_CHANNEL = "custops_followups"
GROUP_LIMIT = 500  # follow-ups one group of a member's list shows at most (the count says how many)

c = followups.c


def shape(row) -> dict:
    def iso(v):
        return v.isoformat() if v is not None else None

    return {
        "id": str(row["id"]), "customer_id": str(row["customer_id"]),
        "subject_type": row["subject_type"], "subject_id": str(row["subject_id"]) if row["subject_id"] else None,
        "assignee_id": str(row["assignee_id"]), "created_by": str(row["created_by"]) if row["created_by"] else None,
        "note": row["note"], "due_at": iso(row["due_at"]), "overdue_after_minutes": row["grace_minutes"],
        "overdue_at": iso(row["overdue_at"]), "status": row["status"], "postponements": row["postponements"],
        "due_raised_at": iso(row["due_raised_at"]), "overdue_raised_at": iso(row["overdue_raised_at"]),
        "resolution": row["resolution"], "completed_at": iso(row["completed_at"]),
        "completed_by": str(row["completed_by"]) if row["completed_by"] else None,
        "cancel_reason": row["cancel_reason"], "cancelled_at": iso(row["cancelled_at"]),
        "created_at": iso(row["created_at"]), "updated_at": iso(row["updated_at"]),
    }


def _facts(row) -> dict:
    """The fields every follow-up event carries."""
    return {"followup_id": row["id"], "customer_id": row["customer_id"], "assignee_id": row["assignee_id"],
            "due_at": row["due_at"], "overdue_at": row["overdue_at"], "postponements": row["postponements"]}


def _notify(session: Session, due_at: datetime) -> None:
    session.execute(text("SELECT pg_notify(:channel, :due)"), {"channel": NOTIFY_CHANNEL, "due": due_at.isoformat()})


def load(session: Session, tenant_id, followup_id, lock: bool = False) -> dict:
    stmt = select(followups).where(c.tenant_id == tenant_id, c.id == followup_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"follow-up {followup_id} not found")
    return dict(row)


def _open(session: Session, tenant_id, followup_id) -> dict:
    row = load(session, tenant_id, followup_id, lock=True)
    if row["status"] != "open":
        raise Conflict(f"follow-up {followup_id} is {row['status']}")
    return row


def _save(session: Session, row: dict, values: dict) -> dict:
    session.execute(update(followups).where(c.id == row["id"]).values(**values))
    return {**row, **values}


def create(session: Session, tenant_id, customer_id, cmd: CreateFollowup, created_by, now: datetime) -> dict:
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "customer_id": customer_id, "subject_type": cmd.subject_type,
           "subject_id": cmd.subject_id, "assignee_id": cmd.assignee_id, "created_by": created_by, "note": cmd.note,
           "due_at": cmd.due_at, "grace_minutes": cmd.overdue_after_minutes,
           "overdue_at": rules.overdue_at(cmd.due_at, cmd.overdue_after_minutes), "status": "open",
           "postponements": 0, "due_raised_at": None, "overdue_raised_at": None, "resolution": None,
           "completed_at": None, "completed_by": None, "cancel_reason": None, "cancelled_at": None,
           "created_at": now, "updated_at": now}
    session.execute(followups.insert().values(**row))
    outbox.add(session, tenant_id, FollowupCreated(**_facts(row), subject_type=row["subject_type"],
                                                   subject_id=row["subject_id"], note=row["note"], created_at=now))
    _notify(session, row["due_at"])
    return row


def update_note(session: Session, tenant_id, followup_id, note: str, now: datetime) -> dict:
    row = _open(session, tenant_id, followup_id)
    if row["note"] == note:
        return row  # a no-op tells nothing
    previous = row["note"]
    row = _save(session, row, {"note": note, "updated_at": now})
    outbox.add(session, tenant_id, FollowupUpdated(**_facts(row), changes={"note": note}, previous={"note": previous},
                                                   updated_at=now))
    return row


def open_row(session: Session, tenant_id, followup_id) -> dict:
    """The follow-up, locked, if it is open (409 otherwise)."""
    return _open(session, tenant_id, followup_id)


def postpone(session: Session, row: dict, target: datetime, preset: str | None, reason: str | None,
             postponed_by, now: datetime) -> dict:
    """Move an open follow-up (`open_row`) to `target` (checked by `rules.check_postponement`)."""
    previous_due = row["due_at"]
    row = _save(session, row, {
        "due_at": target, "overdue_at": rules.overdue_at(target, row["grace_minutes"]),
        "postponements": row["postponements"] + 1, "due_raised_at": None, "overdue_raised_at": None,
        "updated_at": now})
    session.execute(followup_postponements.insert().values(
        id=uuid.uuid4(), followup_id=row["id"], tenant_id=row["tenant_id"], previous_due_at=previous_due,
        due_at=target, preset=preset, reason=reason, postponed_by=postponed_by, postponed_at=now))
    outbox.add(session, row["tenant_id"], FollowupPostponed(
        **_facts(row), previous_due_at=previous_due, preset=preset, reason=reason, postponed_at=now))
    _notify(session, target)
    return row


def complete(session: Session, tenant_id, followup_id, resolution: str, completed_by, now: datetime) -> dict:
    row = _open(session, tenant_id, followup_id)
    row = _save(session, row, {"status": "completed", "resolution": resolution, "completed_at": now,
                               "completed_by": completed_by, "updated_at": now})
    outbox.add(session, tenant_id, FollowupCompleted(**_facts(row), resolution=resolution, completed_at=now,
                                                     on_time=now < row["overdue_at"]))
    return row


def reassign(session: Session, row: dict, assignee_id, now: datetime) -> dict:
    """Give an open follow-up (`open_row`) to another member (a no-op for the same one)."""
    if row["assignee_id"] == assignee_id:
        return row
    previous = row["assignee_id"]
    row = _save(session, row, {"assignee_id": assignee_id, "updated_at": now})
    outbox.add(session, row["tenant_id"], FollowupReassigned(**_facts(row), previous_assignee_id=previous,
                                                             reassigned_at=now))
    return row


def cancel(session: Session, tenant_id, followup_id, reason: str | None, now: datetime) -> dict:
    row = _open(session, tenant_id, followup_id)
    row = _save(session, row, {"status": "cancelled", "cancel_reason": reason, "cancelled_at": now,
                               "updated_at": now})
    outbox.add(session, tenant_id, FollowupCancelled(**_facts(row), reason=reason, cancelled_at=now))
    return row


def postponements(session: Session, followup_id) -> list[dict]:
    p = followup_postponements.c
    rows = session.execute(select(followup_postponements).where(p.followup_id == followup_id)
                           .order_by(p.postponed_at, p.id)).mappings().all()
    return [{"previous_due_at": r["previous_due_at"].isoformat(), "due_at": r["due_at"].isoformat(),
             "preset": r["preset"], "reason": r["reason"],
             "postponed_by": str(r["postponed_by"]) if r["postponed_by"] else None,
             "postponed_at": r["postponed_at"].isoformat()} for r in rows]


# --- queries ---

def _filtered(stmt, tenant_id, f: FollowupFilters | AnalyticsQuery):
    stmt = stmt.where(c.tenant_id == tenant_id)
    if f.assignee_id is not None:
        stmt = stmt.where(c.assignee_id == f.assignee_id)
    if f.customer_id is not None:
        stmt = stmt.where(c.customer_id == f.customer_id)
    if f.customer_ids is not None:
        stmt = stmt.where(c.customer_id.in_(f.customer_ids))
    if f.due_from is not None:
        stmt = stmt.where(c.due_at >= f.due_from)
    if f.due_to is not None:
        stmt = stmt.where(c.due_at < f.due_to)
    return stmt


_KEY = (c.due_at, c.id)


def list_page(session: Session, tenant_id, f: FollowupFilters, limit: int, cursor: str | None) -> dict:
    """Soonest due first, keyset-paged on (due_at, id), with the total of the filter."""
    stmt = _filtered(select(followups), tenant_id, f)
    if f.status:
        stmt = stmt.where(c.status.in_(f.status))
    if f.subject_type is not None:
        stmt = stmt.where(c.subject_type == f.subject_type)
    if f.subject_id is not None:
        stmt = stmt.where(c.subject_id == f.subject_id)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    if cursor:
        stmt = stmt.where(tuple_(*_KEY) > tuple_(*pagination.decode_key(cursor, (datetime, uuid.UUID))))
    rows = session.execute(stmt.order_by(*_KEY).limit(limit + 1)).mappings().all()
    items = rows[:limit]
    next_cursor = pagination.encode_key(items[-1]["due_at"], items[-1]["id"]) if len(rows) > limit else None
    return {"items": [shape(r) for r in items], "next_cursor": next_cursor, "total": total}


def open_for_member(session: Session, tenant_id, member_id, customer_ids) -> list[dict]:
    stmt = select(followups).where(c.tenant_id == tenant_id, c.assignee_id == member_id, c.status == "open")
    if customer_ids is not None:
        stmt = stmt.where(c.customer_id.in_(customer_ids))
    return [dict(r) for r in session.execute(stmt.order_by(*_KEY)).mappings().all()]


def analytics_rows(session: Session, tenant_id, q: AnalyticsQuery) -> list[dict]:
    stmt = _filtered(select(c.assignee_id, c.customer_id, c.status, c.due_at, c.overdue_at, c.completed_at,
                            c.postponements), tenant_id, q)
    return [dict(r) for r in session.execute(stmt).mappings().all()]


__all__ = ["NOTIFY_CHANNEL", "analytics_rows", "cancel", "complete", "create", "list_page", "load",
           "open_for_member", "open_row", "postpone", "postponements", "reassign", "shape", "update_note"]
