"""The events billing tells about a time entry, built from the entry as stored. Pure."""
from __future__ import annotations

import uuid
from datetime import datetime

from custops.contracts.billing import FieldChange, TimeDeleted, TimeLogged, TimeUpdated

_ENTRY_FIELDS = ("member_id", "customer_id", "ticket_id", "minutes", "billable", "work_date")


def _entry(row: dict) -> dict:
    return {"entry_id": row["id"], "revision": row["revision"], **{f: row[f] for f in _ENTRY_FIELDS}}


def logged(row: dict) -> TimeLogged:
    return TimeLogged(**_entry(row), note=row["note"], entered_by_member_id=row["entered_by_member_id"])


def updated(after: dict, diff: dict, by: uuid.UUID, at: datetime) -> TimeUpdated:
    changes = {field: FieldChange(old=old, new=new) for field, (old, new) in diff.items()}
    return TimeUpdated(**_entry(after), note=after["note"], changes=changes, updated_by_member_id=by,
                       updated_at=at)


def deleted(row: dict, by: uuid.UUID, at: datetime) -> TimeDeleted:
    return TimeDeleted(**_entry(row), deleted_by_member_id=by, deleted_at=at)
