"""The customers service's copy of each tenant's business calendar (owned by tickets, told by
`business_calendar.changed`), reduced to what business-day offsets need: which days are open.

The event carries the full new value of each changed field (`changes`: weekly_slots, holidays,
always_open); the copy takes an event only when its calendar `version` is newer than the stored one,
so a redelivered or late event never rolls it back. Until a tenant's calendar is told, the default
week of the tickets service applies (Monday–Friday open, no holidays).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from customers.models import business_calendar_copies
from customers.work_plan.schedule import OpenDays

DEFAULT_OPEN_WEEKDAYS = [0, 1, 2, 3, 4]


def open_days(session: Session, tenant_id) -> OpenDays:
    row = session.execute(select(business_calendar_copies).where(
        business_calendar_copies.c.tenant_id == tenant_id)).mappings().first()
    if row is None:
        return OpenDays()
    return OpenDays(closed_weekdays=frozenset(set(range(7)) - set(row["open_weekdays"])),
                    holidays=frozenset(date.fromisoformat(d) for d in row["holidays"]),
                    always_open=row["always_open"])


def take_change(session: Session, tenant_id, data) -> bool:
    """Apply a `business_calendar.changed` payload; False when it is not newer than the copy."""
    row = session.execute(select(business_calendar_copies).where(
        business_calendar_copies.c.tenant_id == tenant_id).with_for_update()).mappings().first()
    if row is not None and row["version"] >= data.version:
        return False
    current = dict(row) if row is not None else {"open_weekdays": DEFAULT_OPEN_WEEKDAYS, "holidays": [],
                                                  "always_open": False}
    changes = data.changes or {}
    if "weekly_slots" in changes:
        slots = changes["weekly_slots"] or {}
        current["open_weekdays"] = sorted(int(day) for day, day_slots in slots.items() if day_slots)
    if "holidays" in changes:
        current["holidays"] = sorted(changes["holidays"] or [])
    else:
        holidays = (set(current["holidays"]) | set(data.holidays_added)) - set(data.holidays_removed)
        current["holidays"] = sorted(holidays)
    if "always_open" in changes:
        current["always_open"] = bool(changes["always_open"])
    values = {"version": data.version, "open_weekdays": current["open_weekdays"],
              "holidays": current["holidays"], "always_open": current["always_open"]}
    session.execute(insert(business_calendar_copies).values(tenant_id=tenant_id, **values)
                    .on_conflict_do_update(index_elements=[business_calendar_copies.c.tenant_id], set_=values))
    return True
