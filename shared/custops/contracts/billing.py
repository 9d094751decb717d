from __future__ import annotations

import uuid
from datetime import date

from custops.events import EventData, contract


@contract("billing", "time.logged")
class TimeLogged(EventData):
    """A time entry was recorded."""

    entry_id: uuid.UUID
    member_id: uuid.UUID
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    minutes: int
    billable: bool
    work_date: date
    note: str = ""
