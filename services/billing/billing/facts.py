"""The events billing tells about time entries, timers and timesheets, built from the rows as
stored. Pure."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from custops.contracts import billing as contracts
from custops.contracts.billing import FieldChange, TimeDeleted, TimeLogged, TimeUpdated

_ENTRY_FIELDS = ("member_id", "customer_id", "ticket_id", "minutes", "billable", "work_date", "project_id",
                 "task_id", "activity_id", "category", "billable_source", "tags", "started_at", "ended_at",
                 "timer_id")


def _entry(row: dict, week_start: date | None) -> dict:
    unconfirmed = row.get("needs_confirmation") if row.get("confirmed_at") is None else None
    return {"entry_id": row["id"], "revision": row["revision"], "week_start": week_start,
            "needs_confirmation": unconfirmed, **{f: row.get(f) for f in _ENTRY_FIELDS},
            "tags": list(row.get("tags") or [])}


def logged(row: dict, week_start: date | None = None) -> TimeLogged:
    return TimeLogged(**_entry(row, week_start), note=row["note"], entered_by_member_id=row["entered_by_member_id"])


def updated(after: dict, diff: dict, by: uuid.UUID, at: datetime, week_start: date | None = None) -> TimeUpdated:
    changes = {field: FieldChange(old=old, new=new) for field, (old, new) in diff.items()}
    return TimeUpdated(**_entry(after, week_start), note=after["note"], changes=changes, updated_by_member_id=by,
                       updated_at=at)


def deleted(row: dict, by: uuid.UUID, at: datetime, week_start: date | None = None) -> TimeDeleted:
    return TimeDeleted(**_entry(row, week_start), deleted_by_member_id=by, deleted_at=at)


def _timer(row: dict, elapsed: int) -> dict:
    return {"timer_id": row["id"], "member_id": row["member_id"], "customer_id": row["customer_id"],
            "project_id": row.get("project_id"), "ticket_id": row.get("ticket_id"), "task_id": row.get("task_id"),
            "activity_id": row.get("activity_id"), "category": row.get("category"), "state": row["state"],
            "started_at": row["started_at"], "elapsed_seconds": elapsed, "revision": row["revision"]}


def timer_event(kind: str, row: dict, elapsed: int, **extra):
    cls = {"started": contracts.TimerStarted, "paused": contracts.TimerPaused, "resumed": contracts.TimerResumed,
           "stopped": contracts.TimerStopped, "discarded": contracts.TimerDiscarded,
           "flagged": contracts.TimerFlagged}[kind]
    return cls(**_timer(row, elapsed), **extra)


def timesheet_event(kind: str, sheet: dict, totals: dict, **extra):
    cls = {"submitted": contracts.TimesheetSubmitted, "approved": contracts.TimesheetApproved,
           "rejected": contracts.TimesheetRejected, "reopened": contracts.TimesheetReopened,
           "reminder": contracts.TimesheetReminder}[kind]
    return cls(timesheet_id=sheet["id"], member_id=sheet["member_id"], week_start=sheet["week_start"],
               timezone=sheet["timezone"], status=sheet["status"], revision=sheet["revision"], **totals, **extra)
