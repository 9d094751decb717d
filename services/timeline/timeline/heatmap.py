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


def utc_bounds(first: date, last_bucket: date, unit: str, zone: str) -> tuple[datetime, datetime]:
    """The instants [from, to) the buckets from `first` through `last_bucket` cover in `zone`."""
    tz = ZoneInfo(zone)
    return (datetime.combine(first, time(), tz), datetime.combine(_next(last_bucket, unit), time(), tz))


@dataclass(frozen=True)
class Account:
    customer_id: str
    counts: list[int]
    last_human_at: datetime | None
    quiet: bool

    @property
    def total(self) -> int:
        return sum(self.counts)

    def doc(self, now: datetime) -> dict:
        days = None if self.last_human_at is None else (now - self.last_human_at).days
        return {"customer_id": self.customer_id, "counts": self.counts, "total": self.total,
                "last_human_at": self.last_human_at.isoformat() if self.last_human_at else None,
                "days_since_human": days, "quiet": self.quiet}


def arrange(counts: dict[str, dict[date, int]], last_human: dict[str, datetime | None], columns: list[date],
            now: datetime, quiet_days: int) -> list[Account]:
    """One row per account (every account in `last_human` or `counts`), quiet ones first."""
    threshold = now - timedelta(days=quiet_days)
    rows = []
    for customer_id in set(counts) | set(last_human):
        per = counts.get(customer_id, {})
        touched = last_human.get(customer_id)
        rows.append(Account(customer_id, [per.get(c, 0) for c in columns], touched,
                            touched is None or touched < threshold))
    oldest = datetime.min.replace(tzinfo=now.tzinfo)
    return sorted(rows, key=lambda a: (not a.quiet, a.last_human_at or oldest if a.quiet else oldest,
                                       -a.total, a.customer_id))
