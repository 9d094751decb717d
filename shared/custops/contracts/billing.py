"""Billing's events: time entries logged, corrected and deleted.

Designed for the read models billing will feed (issue 10: utilization by member, customer, project
and week; invoices): every `time.*` event carries the whole entry as it is (or, for a deletion, as
it was), so a subscriber replaces or removes its copy without asking billing, and a `revision` that
counts the entry's versions (1 when logged), so an update that arrives after a later one is
recognised as stale. References an entry will gain later (project, task, timeline activity) arrive
as new optional fields and as new keys of `changes`: additive, within v1.
"""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from custops.events import EventData, contract


@contract("billing", "time.logged")
class TimeLogged(EventData):
    """A time entry was recorded. `member_id` is whose time it is; `entered_by_member_id` who
    entered it (a manager may log a colleague's time)."""

    entry_id: uuid.UUID
    member_id: uuid.UUID
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    minutes: int
    billable: bool
    work_date: date
    note: str = ""
    # added within v1 (additive)
    entered_by_member_id: uuid.UUID | None = None
    revision: int = 1


class FieldChange(BaseModel):
    """One corrected field: its value before and after (JSON values: ids and dates as strings)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    old: Any = None
    new: Any = None


@contract("billing", "time.updated")
class TimeUpdated(EventData):
    """A time entry was corrected. `changes` maps each changed field (`member_id`, `customer_id`,
    `ticket_id`, `work_date`, `minutes`, `billable`, `note`) to its `old` and `new` value; the other
    fields are the entry as it now is. `updated_by_member_id` is who corrected it."""

    entry_id: uuid.UUID
    member_id: uuid.UUID
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    minutes: int
    billable: bool
    work_date: date
    note: str = ""
    revision: int
    changes: dict[str, FieldChange]
    updated_by_member_id: uuid.UUID | None = None
    updated_at: AwareDatetime


@contract("billing", "time.deleted")
class TimeDeleted(EventData):
    """A time entry was deleted (never an invoiced one); the fields are the entry as it was, so a
    read model can take its minutes back out. `deleted_by_member_id` is who deleted it."""

    entry_id: uuid.UUID
    member_id: uuid.UUID
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    minutes: int
    billable: bool
    work_date: date
    revision: int
    deleted_by_member_id: uuid.UUID | None = None
    deleted_at: AwareDatetime
