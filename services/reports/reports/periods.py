"""Report periods in the tenant's calendar: its weeks (its first day of the week), months and
quarters, the period before each, and the UTC instants bounding a run of its days. Pure.

A period is a run of the tenant's calendar days, [first, last]; an instant belongs to the day it
falls on in the tenant's timezone, so a period's instants are [local midnight of `first`, local
midnight after `last`) — 23 or 25 hours longer or shorter across a DST change, as the days are.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from reports.status_report import week_start_of
from reports.weeks import zone

PERIODS = ("week", "month", "quarter")


def period_of(day: date, period: str, week_start: str = "monday") -> tuple[date, date]:
    """The tenant's week, month or quarter that `day` is in, as (first day, last day)."""
    if period == "week":
        first = week_start_of(day, week_start)
        return first, first + timedelta(days=6)
    if period == "month":
        first = day.replace(day=1)
    elif period == "quarter":
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    else:
        raise ValueError(f"unknown period {period!r}")
    months = 1 if period == "month" else 3
    following = date(first.year + (first.month - 1 + months) // 12, (first.month - 1 + months) % 12 + 1, 1)
    return first, following - timedelta(days=1)


def previous(first: date, last: date, period: str | None, week_start: str = "monday") -> tuple[date, date]:
    """The period before [first, last]: the week, month or quarter before; for a plain range of days
    (`period` None), as many days just before it."""
    if period is None:
        length = (last - first).days + 1
        return first - timedelta(days=length), first - timedelta(days=1)
    return period_of(first - timedelta(days=1), period, week_start)


def back(day: date, period: str, count: int, week_start: str = "monday") -> list[tuple[date, date]]:
    """The `count` periods up to the one `day` is in, newest first."""
    periods = [period_of(day, period, week_start)]
    while len(periods) < count:
        periods.append(period_of(periods[-1][0] - timedelta(days=1), period, week_start))
    return periods


def instants(first: date, last: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of the tenant-local days first..last."""
    where = zone(tz)
    start = datetime.combine(first, time(), where).astimezone(timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(), where).astimezone(timezone.utc)
    return start, end
