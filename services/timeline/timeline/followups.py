"""Follow-ups — the promises made to customers — as pure rules: when one is due and overdue, how a
member's list is grouped, where a postponement preset lands, and the analytics (no I/O).

Decisions:

- Two instants per follow-up. `due_at` is when it should be done: `followup.due` is raised then (the
  reminder). `overdue_at` is `due_at` plus the follow-up's grace (`overdue_after_minutes`, default
  `DEFAULT_GRACE_MINUTES`, 0 allowed): `followup.overdue` is raised then, if it is still open. Each
  is raised once per due time; a postponement sets a new due time, and with it a new promise whose
  due and overdue are raised again.
- A member's list (`group_of`) in the member's timezone: *overdue* once `overdue_at` has passed;
  *due today* when it is due already (inside its grace) or its due time falls on the member's local
  today; *upcoming* otherwise. The groups therefore change exactly when the events are raised.
- A member with no timezone of their own lives in the tenant's; a tenant not told yet, in UTC.
- Postponement presets (`postponed_due`) count from *today* in the assignee's timezone, not from the
  old due date (postponing a week-old follow-up "tomorrow" means tomorrow), and keep the local time
  of day of the old due time: `tomorrow` +1 day, `3_days`, `1_week`, `2_weeks`; `next_business_day`
  is the first business day after today in the tenant's business calendar (its timezone, weekly
  working days and holidays; Monday to Friday in the tenant's timezone until a calendar is told),
  at the old due time's local time of day in the calendar's zone. A local time skipped by a DST jump
  lands just after the jump; a repeated one is its first occurrence (zoneinfo's fold=0). A chosen
  instant (`until`) is taken as given. Either way a postponement must land after now and after the
  current due time (moving a promise earlier is not a postponement): `PostponeRefused` otherwise.
- Analytics (`analytics`) over the follow-ups whose (current) due time lies in the range, cancelled
  ones left out of every figure: completion rate = completed / all; on-time rate = completed before
  `overdue_at` / completed; overdue count = those that went overdue (completed after `overdue_at`,
  or open past it); average postponements = postponements / all. A rate with nothing to divide by is
  None, not 0.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
DEFAULT_GRACE_MINUTES = 60
MAX_GRACE_MINUTES = 7 * 24 * 60

Preset = Literal["tomorrow", "3_days", "1_week", "2_weeks", "next_business_day"]
PRESETS: tuple[str, ...] = get_args(Preset)
PRESET_DAYS = {"tomorrow": 1, "3_days": 3, "1_week": 7, "2_weeks": 14}

Group = Literal["overdue", "due_today", "upcoming"]
GROUPS: tuple[str, ...] = get_args(Group)

Status = Literal["open", "completed", "cancelled"]

# Monday..Friday: the tickets service's default calendar (09:00-17:00 on these days)
DEFAULT_WORKDAYS = frozenset(range(5))
# the most days a search for a business day walks (a calendar has at most 2,000 holidays and at
# least one working day a week, so one is always found well within this)
MAX_SEARCH_DAYS = 3_000


class PostponeRefused(ValueError):
    """A postponement that would not move the promise later (the message says why)."""


def zone(name: str | None, fallback: str | None = None) -> ZoneInfo:
    """The IANA zone `name`, else `fallback`, else UTC (an unknown name counts as none)."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the clock in `tz` shows `day` `at` (fold=0: a repeated time is its
    first occurrence; a skipped time is read with the offset before the jump, i.e. just after it)."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def overdue_at(due_at: datetime, grace_minutes: int) -> datetime:
    return due_at + timedelta(minutes=grace_minutes)


# --- the business calendar (a copy of what the tickets service tells) ---

@dataclass(frozen=True)
class BusinessDays:
    """Which local dates the tenant works: the calendar's zone, working weekdays (0 = Monday),
    holidays, or always open."""

    timezone: str
    workdays: frozenset[int] = DEFAULT_WORKDAYS
    holidays: frozenset[date] = frozenset()
    always_open: bool = False

    @classmethod
    def from_copy(cls, fields: Mapping, tenant_timezone: str | None) -> BusinessDays:
        """From the fields told by `business_calendar.changed` (`timezone`, `weekly_slots` keyed
        "0".."6", `holidays` as ISO dates, `always_open`); a field never told keeps the default
        calendar's (Monday to Friday in the tenant's timezone)."""
        slots = fields.get("weekly_slots")
        workdays = DEFAULT_WORKDAYS if slots is None else frozenset(
            int(day) for day, day_slots in slots.items() if day_slots)
        return cls(timezone=fields.get("timezone") or tenant_timezone or "UTC", workdays=workdays,
                   holidays=frozenset(date.fromisoformat(d) for d in fields.get("holidays") or ()),
                   always_open=bool(fields.get("always_open", False)))

    def is_business_day(self, day: date) -> bool:
        if self.always_open:
            return True
        return day.weekday() in self.workdays and day not in self.holidays

    def next_business_day(self, after: date) -> date:
        """The first business day after `after`."""
        day = after
        for _ in range(MAX_SEARCH_DAYS):
            day += timedelta(days=1)
            if self.is_business_day(day):
                return day
        raise PostponeRefused("the business calendar has no working day ahead")


# --- postponement ---

def postponed_due(preset: str, current_due: datetime, now: datetime, member_tz: ZoneInfo,
                  calendar: BusinessDays) -> datetime:
    """Where `preset` moves a follow-up due at `current_due`, asked at `now` (see the module's doc)."""
    if preset == "next_business_day":
        tz = zone(calendar.timezone)
        today = now.astimezone(tz).date()
        target = local_instant(calendar.next_business_day(today), current_due.astimezone(tz).time(), tz)
    elif preset in PRESET_DAYS:
        today = now.astimezone(member_tz).date()
        target = local_instant(today + timedelta(days=PRESET_DAYS[preset]),
                               current_due.astimezone(member_tz).time(), member_tz)
    else:
        raise PostponeRefused(f"unknown preset {preset!r}")
    return check_postponement(target, current_due, now)


def check_postponement(target: datetime, current_due: datetime, now: datetime) -> datetime:
    """`target`, if it moves the promise later than both now and the current due time."""
    if target <= now:
        raise PostponeRefused("a postponement must land in the future")
    if target <= current_due:
        raise PostponeRefused("a postponement must land after the current due time")
    return target


# --- a member's list ---

def group_of(due_at: datetime, overdue: datetime, now: datetime, member_tz: ZoneInfo) -> str:
    """`overdue`, `due_today` or `upcoming` for an open follow-up (see the module's doc)."""
    if now >= overdue:
        return "overdue"
    if now >= due_at or due_at.astimezone(member_tz).date() == now.astimezone(member_tz).date():
        return "due_today"
    return "upcoming"


def grouped(followups: Iterable[Mapping], now: datetime, member_tz: ZoneInfo) -> dict[str, list]:
    """Open follow-ups in their groups, each group by due time (then id)."""
    groups: dict[str, list] = {g: [] for g in GROUPS}
    for f in sorted(followups, key=lambda f: (f["due_at"], str(f["id"]))):
        groups[group_of(f["due_at"], f["overdue_at"], now, member_tz)].append(f)
    return groups


# --- analytics ---

@dataclass
class Figures:
    total: int = 0  # not cancelled
    completed: int = 0
    on_time: int = 0
    overdue: int = 0
    open: int = 0
    postponements: int = 0

    def add(self, f: Mapping, now: datetime) -> None:
        self.total += 1
        self.postponements += f["postponements"]
        if f["status"] == "completed":
            self.completed += 1
            if f["completed_at"] < f["overdue_at"]:
                self.on_time += 1
            else:
                self.overdue += 1
        else:
            self.open += 1
            if now >= f["overdue_at"]:
                self.overdue += 1

    def shape(self) -> dict:
        return {"total": self.total, "completed": self.completed, "on_time": self.on_time, "open": self.open,
                "overdue_count": self.overdue, "postponements": self.postponements,
                "completion_rate": _ratio(self.completed, self.total),
                "on_time_rate": _ratio(self.on_time, self.completed),
                "average_postponements": _ratio(self.postponements, self.total)}


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def analytics(followups: Iterable[Mapping], now: datetime) -> dict:
    """`{overall, by_member: [...], by_customer: [...]}` over follow-up rows (`assignee_id`,
    `customer_id`, `status`, `due_at`, `overdue_at`, `completed_at`, `postponements`) already
    limited to the range; cancelled rows count nowhere. Members and customers sorted by id."""
    overall = Figures()
    by_member: dict = defaultdict(Figures)
    by_customer: dict = defaultdict(Figures)
    for f in followups:
        if f["status"] == "cancelled":
            continue
        for figures in (overall, by_member[str(f["assignee_id"])], by_customer[str(f["customer_id"])]):
            figures.add(f, now)
    return {"overall": overall.shape(),
            "by_member": [{"member_id": k, **v.shape()} for k, v in sorted(by_member.items())],
            "by_customer": [{"customer_id": k, **v.shape()} for k, v in sorted(by_customer.items())]}
