"""The heatmap's calendar and order: pure, no I/O.

Decisions:
- Days, weeks and months are the tenant's (its timezone and week start, copied from
  tenant.created / tenant.updated; UTC and Monday until told). A range is given in the tenant's
  calendar days, both ends inclusive; its first and last buckets are the whole week or month they
  fall in (a week is never cut in two), so every bucket counts like every other.
- Human activity is an activity whose actor is a member or a contact (the system's events —
  SLA clocks, automatic rules — and activities recorded before actors are not human). An account is
  *quiet* when its last human activity is more than `quiet_days` before now (or it has none); quiet
  accounts come first, the longest quiet first (never touched before any), then the busiest.
- Counts are of current versions only: an edited interaction counts once, a retracted one not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def week_offset(week_start: str) -> int:
    """Days from Monday to the tenant's first day of the week (sunday: 6)."""
    return WEEKDAYS.index(week_start)


def bucket_of(day: date, unit: str, week_start: str = "monday") -> date:
    """The first day of the bucket `day` falls in."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=(day.weekday() - week_offset(week_start)) % 7)
    if unit == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown bucket {unit}")


def _next(start: date, unit: str) -> date:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def buckets(start: date, end: date, unit: str, week_start: str = "monday") -> list[date]:
    """Every bucket's first day from the one holding `start` to the one holding `end`."""
    out, at = [], bucket_of(start, unit, week_start)
    while at <= end:
        out.append(at)
        at = _next(at, unit)
    return out


def end_of(columns: list[date], unit: str) -> date:
    """The day after the last bucket."""
    return _next(columns[-1], unit)


def boundaries(columns: list[date], unit: str, zone: str) -> list[datetime]:
    """The instant each bucket starts in `zone`, then the instant the last one ends: an activity at
    `t` is in bucket i when boundaries[i] <= t < boundaries[i + 1] (DST days are 23 or 25 hours)."""
    tz = ZoneInfo(zone)
    return [datetime.combine(c, time(), tz) for c in columns] + [datetime.combine(_next(columns[-1], unit), time(), tz)]


@dataclass(frozen=True)
class Account:
    customer_id: str
    counts: list[int]
    last_human_at: datetime | None
    quiet: bool
    total: int

    def doc(self, now: datetime) -> dict:
        days = None if self.last_human_at is None else (now - self.last_human_at).days
        return {"customer_id": self.customer_id, "counts": self.counts, "total": self.total,
                "last_human_at": self.last_human_at.isoformat() if self.last_human_at else None,
                "days_since_human": days, "quiet": self.quiet}


def arrange(counts: dict[str, list[int]], last_human: dict[str, datetime | None], width: int,
            now: datetime, quiet_days: int) -> list[Account]:
    """One row per account (every account in `last_human` or `counts`; `counts` holds a count per
    bucket, `width` of them), quiet ones first."""
    threshold = now - timedelta(days=quiet_days)
    rows = []
    empty = [0] * width
    for customer_id in set(counts) | set(last_human):
        touched = last_human.get(customer_id)
        per = counts.get(customer_id, empty)
        rows.append(Account(customer_id, per, touched, touched is None or touched < threshold, sum(per)))
    oldest = datetime.min.replace(tzinfo=now.tzinfo)
    return sorted(rows, key=lambda a: (not a.quiet, a.last_human_at or oldest if a.quiet else oldest,
                                       -a.total, a.customer_id))
