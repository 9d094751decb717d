"""ISO weeks in a tenant's timezone ("this week" is the tenant's week, not UTC's). Pure."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; raises ValueError for a name that is not one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc


def _local_date(instant: datetime, tz: str | ZoneInfo) -> date:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(tz if isinstance(tz, ZoneInfo) else zone(tz)).date()


def iso_week_of(instant: datetime, tz: str | ZoneInfo) -> tuple[int, int, date]:
    """(ISO year, ISO week, that week's Monday) of the calendar day `instant` falls on in `tz`."""
    day = _local_date(instant, tz)
    year, week, weekday = day.isocalendar()
    return year, week, day - timedelta(days=weekday - 1)


def window_start(now: datetime, tz: str | ZoneInfo, weeks: int) -> date:
    """The Monday that opens the last `weeks` ISO weeks, the week of `now` included."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    _, _, monday = iso_week_of(now, tz)
    return monday - timedelta(weeks=weeks - 1)
