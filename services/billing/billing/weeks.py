"""Whose week is which: a member's local day and week. Pure.

Decisions:
- A time entry's `work_date` is the day in the member's timezone; its week is the week that
  contains that day, starting on the tenant's week start (`monday` by default, `sunday` or
  `saturday`), as the customers service tells it (`tenant.*`).
- A member's timezone is theirs when set (`member.*`), else the tenant's, else UTC.
- A timer's entry falls on the member's local day of the moment it started (one entry, never split
  at midnight: raw time is kept whole).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Python's weekday(): Monday 0 .. Sunday 6
WEEKDAYS = {"monday": 0, "sunday": 6, "saturday": 5}


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def member_zone(member_timezone: str | None, tenant_timezone: str | None) -> str:
    return member_timezone or tenant_timezone or "UTC"


def local_day(instant: datetime, timezone_name: str) -> date:
    return instant.astimezone(zone(timezone_name)).date()


def week_start(day: date, starts_on: str = "monday") -> date:
    """The first day of the week containing `day`."""
    first = WEEKDAYS.get(starts_on, 0)
    return day - timedelta(days=(day.weekday() - first) % 7)


def week_days(start: date) -> tuple[date, date]:
    """The inclusive first and last day of the week beginning `start`."""
    return start, start + timedelta(days=6)


def week_has_ended(start: date, now: datetime, timezone_name: str) -> bool:
    """Whether the member's local today is past the week's last day."""
    return local_day(now, timezone_name) > start + timedelta(days=6)
