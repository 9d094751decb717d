"""Business-hours calendars and business-time arithmetic (pure: no I/O).

A calendar says when a tenant's team works: an IANA timezone, working slots per weekday in local
wall-clock time (several per day, e.g. 09:00-12:30 and 13:30-18:00; a slot may end at 24:00),
holidays by local date, or "always open" (24/7). All instants going in and out are aware
datetimes; results are in UTC.

Wall-clock slot boundaries on DST days: a boundary is *the first instant at which the local clock
shows that time or later*.
- An ambiguous time (the repeated hour when clocks go back) is its first occurrence (fold=0), so a
  slot spanning the repeated hour really lasts one hour longer that night.
- A non-existent time (the skipped hour when clocks go forward) is the instant of the jump, so a
  slot 02:30-05:00 in Berlin on 2026-03-29 opens at 03:00 CEST and lasts two hours; a slot lying
  wholly inside the skipped hour is empty that day.
Business time is therefore real elapsed time inside the slots, and the mapping from wall clock to
UTC never runs backwards, so one day's intervals never overlap.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
MIDNIGHT = time(0, 0)
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)
_MINUTE = timedelta(minutes=1)


class Slot(NamedTuple):
    """A working slot in local wall-clock time; ``end == 00:00`` means the slot runs to midnight (24:00)."""

    start: time
    end: time

    @property
    def ends_at_midnight(self) -> bool:
        return self.end == MIDNIGHT

    @property
    def start_seconds(self) -> int:
        return _seconds(self.start)

    @property
    def end_seconds(self) -> int:
        return 86_400 if self.ends_at_midnight else _seconds(self.end)


SlotInput = Slot | tuple[time | str, time | str] | str


@dataclass(frozen=True)
class Calendar:
    """A tenant's working calendar. ``weekly`` takes a mapping of weekday (0 = Monday, or "mon")
    to slots and is normalised to a 7-tuple indexed by weekday, so calendars stay hashable."""

    timezone: str = "UTC"
    weekly: Mapping[int | str, Sequence[SlotInput]] | tuple[tuple[Slot, ...], ...] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    always_open: bool = False
    version: int = 1

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        if not isinstance(self.version, int) or self.version < 1:
            raise ValueError("version must be a positive integer")
        object.__setattr__(self, "weekly", _normalise_weekly(self.weekly))
        object.__setattr__(self, "holidays", frozenset(_as_date(d) for d in self.holidays))
        has_slots = any(self.weekly)
        if self.always_open and (has_slots or self.holidays):
            # 24/7 with exceptions is expressed as 00:00-24:00 slots every day plus holidays.
            raise ValueError("an always-open calendar has no slots or holidays")
        if not self.always_open and not has_slots:
            raise ValueError("a calendar needs at least one working slot (or always_open)")

    @classmethod
    def always(cls, version: int = 1, timezone: str = "UTC") -> Calendar:
        """24/7: every instant is business time."""
        return cls(timezone=timezone, always_open=True, version=version)

    @classmethod
    def workweek(cls, timezone: str, slots: Sequence[SlotInput], holidays: Iterable[date] = (),
                 version: int = 1) -> Calendar:
        """The same slots Monday to Friday."""
        return cls(timezone=timezone, weekly={d: slots for d in range(5)},
                   holidays=frozenset(holidays), version=version)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key

    @property
    def week_seconds(self) -> int:
        """Business seconds in a week with no holiday and no UTC-offset change."""
        return sum(s.end_seconds - s.start_seconds for day in self.weekly for s in day)


# --- public arithmetic ------------------------------------------------------------------------

def add_business_minutes(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The instant (UTC) at which ``minutes`` of business time have elapsed since ``start``.

    Closed time before the first slot is skipped, so a ticket created on Friday 20:00 with a
    60-minute target is due at Monday 10:00. A deadline that lands exactly on the end of a slot
    is that end (not the next opening). ``minutes == 0`` returns ``start`` unchanged.
    """
    start = _require_aware(start, "start")
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    remaining = timedelta(minutes=minutes)
    if calendar.always_open or not remaining:
        return start + remaining
    day = start.astimezone(calendar.zone).date()
    for opens, closes in _day_intervals(calendar, day):  # the partial first day
        opens = max(opens, start)
        if closes <= opens:
            continue
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    day += _DAY
    while True:
        plain_week = _plain_week(calendar, day)
        if plain_week is not None and remaining > plain_week:
            remaining -= plain_week
            day += _WEEK
            continue
        for opens, closes in _day_intervals(calendar, day):
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens
        day += _DAY


def business_minutes_between(calendar: Calendar, a: datetime, b: datetime) -> float:
    """Business minutes in ``[a, b)``; 0 when ``b <= a``."""
    return business_time_between(calendar, a, b) / _MINUTE


def business_time_between(calendar: Calendar, a: datetime, b: datetime) -> timedelta:
    """Business time in ``[a, b)`` as an exact timedelta (sums stay exact; minutes are derived)."""
    a = _require_aware(a, "a")
    b = _require_aware(b, "b")
    if b <= a:
        return timedelta(0)
    if calendar.always_open:
        return b - a
    zone = calendar.zone
    first_day = day = a.astimezone(zone).date()
    last_day = b.astimezone(zone).date()
    total = timedelta(0)
    while day <= last_day:
        # whole weeks strictly between the first and the last day need no clipping
        if day > first_day and day + _WEEK <= last_day:
            plain_week = _plain_week(calendar, day)
            if plain_week is not None:
                total += plain_week
                day += _WEEK
                continue
        for opens, closes in _day_intervals(calendar, day):
            opens, closes = max(opens, a), min(closes, b)
            if closes > opens:
                total += closes - opens
        day += _DAY
    return total


def is_business_time(calendar: Calendar, at: datetime) -> bool:
    """Whether ``at`` lies inside a working slot (slot start inclusive, end exclusive)."""
    at = _require_aware(at, "at")
    if calendar.always_open:
        return True
    day = at.astimezone(calendar.zone).date()
    return any(opens <= at < closes for opens, closes in _day_intervals(calendar, day))


def open_intervals(calendar: Calendar, a: datetime, b: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working intervals (UTC) within ``[a, b)``, clipped, in order (day by day: for audit
    views and tests, not for long ranges)."""
    a = _require_aware(a, "a")
    b = _require_aware(b, "b")
    if b <= a:
        return
    if calendar.always_open:
        yield a.astimezone(UTC), b.astimezone(UTC)
        return
    zone = calendar.zone
    day, last_day = a.astimezone(zone).date(), b.astimezone(zone).date()
    while day <= last_day:
        for opens, closes in _day_intervals(calendar, day):
            opens, closes = max(opens, a), min(closes, b)
            if closes > opens:
                yield opens.astimezone(UTC), closes.astimezone(UTC)
        day += _DAY


def local_day_bounds(calendar: Calendar, day: date) -> tuple[datetime, datetime]:
    """First instant of ``day`` and of the day after in the calendar's timezone, in UTC."""
    return _wall_to_utc(calendar.zone, day, MIDNIGHT), _wall_to_utc(calendar.zone, day + _DAY, MIDNIGHT)


# --- iCalendar holidays -----------------------------------------------------------------------

_DATE_VALUE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$")
_DURATION_DAYS = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T.*)?$")


def parse_ics_holidays(text: str) -> set[date]:
    """Holiday dates from an iCalendar (RFC 5545) file: every date each VEVENT covers.

    Handles folded lines (CRLF or LF followed by a space or tab), all-day events
    (``DTSTART;VALUE=DATE``) with an exclusive ``DTEND`` or a ``DURATION`` spanning several days
    (a lone all-day DTSTART is one day), and date-time events (their wall-clock dates as written;
    an end at 00:00:00 excludes that day). Cancelled events are skipped. Recurring events (RRULE)
    are refused with ValueError rather than imported as a single day, which would silently drop
    every later year.
    """
    holidays: set[date] = set()
    event: dict[str, str] | None = None
    for line in _unfold(text):
        if not line.strip():
            continue
        name, _params, value = _split_content_line(line)
        if name == "BEGIN" and value.upper() == "VEVENT":
            event = {}
        elif name == "END" and value.upper() == "VEVENT":
            if event is None:
                raise ValueError("END:VEVENT without BEGIN:VEVENT")
            holidays |= _event_dates(event)
            event = None
        elif event is not None and name not in event:
            event[name] = value
    if event is not None:
        raise ValueError("VEVENT without END:VEVENT")
    return holidays


def _unfold(text: str) -> list[str]:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"\n[ \t]", "", text).split("\n")


def _split_content_line(line: str) -> tuple[str, str, str]:
    """``NAME;PARAM=..:VALUE`` -> (NAME upper-cased, params, value); a ':' inside a quoted
    parameter value does not end the name part."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            head, value = line[:i], line[i + 1:]
            name, _, params = head.partition(";")
            return name.strip().upper(), params, value.strip()
    raise ValueError(f"not an iCalendar content line: {line!r}")


def _event_dates(event: Mapping[str, str]) -> set[date]:
    if event.get("STATUS", "").upper() == "CANCELLED":
        return set()
    if "RRULE" in event or "RDATE" in event:
        raise ValueError("recurring events (RRULE/RDATE) are not supported; list each holiday")
    if "DTSTART" not in event:
        raise ValueError("VEVENT without DTSTART")
    first, _ = _ics_date_and_time(event["DTSTART"])
    if "DTEND" in event:
        end, end_time = _ics_date_and_time(event["DTEND"])
        # DTEND is exclusive for all-day events, and for timed events ending at midnight.
        last = end - _DAY if (end_time is None or end_time == MIDNIGHT) else end
    elif "DURATION" in event:
        match = _DURATION_DAYS.match(event["DURATION"].strip().upper())
        if not match:
            raise ValueError(f"unsupported DURATION {event['DURATION']!r}")
        days = int(match.group(1) or 0) * 7 + int(match.group(2) or 0)
        last = first + timedelta(days=max(days, 1) - 1)
    else:
        last = first  # RFC 5545 3.6.1: an all-day DTSTART alone lasts one day
    if last < first:
        last = first
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def _ics_date_and_time(value: str) -> tuple[date, time | None]:
    match = _DATE_VALUE.match(value.strip())
    if not match:
        raise ValueError(f"unsupported iCalendar date {value!r}")
    y, m, d, hh, mm, ss = match.groups()
    day = date(int(y), int(m), int(d))
    return day, (time(int(hh), int(mm), int(ss)) if hh is not None else None)


# --- internals --------------------------------------------------------------------------------

# Calendars are frozen and hashable, and deadline maths asks for the same days over and over
# (every open ticket of a tenant shares its calendar): memoise the per-day work.
@lru_cache(maxsize=16384)
def _day_intervals(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The working intervals (UTC) of one local date; none on a holiday."""
    slots = calendar.weekly[day.weekday()]
    if not slots or day in calendar.holidays:
        return ()
    zone = calendar.zone
    intervals = []
    for slot in slots:
        opens = _wall_to_utc(zone, day, slot.start)
        closes = _wall_to_utc(zone, day + _DAY, MIDNIGHT) if slot.ends_at_midnight else _wall_to_utc(zone, day, slot.end)
        if closes > opens:  # a slot inside a skipped DST hour is empty that day
            intervals.append((opens, closes))
    return tuple(intervals)


@lru_cache(maxsize=16384)
def _plain_week(calendar: Calendar, day: date) -> timedelta | None:
    """Business time in the 7 local days from ``day`` when it is the nominal weekly total: no
    holiday and the same UTC offset at every local midnight (tzdata has no offset change that is
    undone within the same day). None when the week must be walked day by day."""
    if any(day + timedelta(days=i) in calendar.holidays for i in range(7)):
        return None
    zone = calendar.zone
    offsets = {datetime.combine(day + timedelta(days=i), MIDNIGHT, tzinfo=zone).utcoffset() for i in range(8)}
    if len(offsets) != 1:
        return None
    return timedelta(seconds=calendar.week_seconds)


def _wall_to_utc(zone: ZoneInfo, day: date, at: time) -> datetime:
    """The first instant at which the local clock shows ``day at`` or later (see module doc)."""
    local = datetime.combine(day, at, tzinfo=zone)  # fold=0: first occurrence of a repeated time
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # Non-existent wall time: fold=0 reads it with the offset before the jump (an instant after
    # the jump), fold=1 with the offset after it (an instant before). The jump lies between:
    # bisect on whole seconds (tzdata transitions are whole seconds), ~12 steps for an hour's gap.
    after_offset = instant.astimezone(zone).utcoffset()
    lo = local.replace(fold=1).astimezone(UTC)
    hi = instant
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=((hi - lo) // timedelta(seconds=1)) // 2)
        if mid.astimezone(zone).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi


def _normalise_weekly(weekly) -> tuple[tuple[Slot, ...], ...]:
    if isinstance(weekly, tuple) and len(weekly) == 7 and all(isinstance(d, tuple) for d in weekly):
        items: Iterable = enumerate(weekly)
    elif isinstance(weekly, Mapping):
        items = weekly.items()
    else:
        raise ValueError("weekly must map weekdays to slots")
    days: list[list[Slot]] = [[] for _ in range(7)]
    for key, slots in items:
        days[_weekday(key)].extend(_slot(s) for s in slots)
    normalised = []
    for index, slots in enumerate(days):
        slots.sort(key=lambda s: s.start_seconds)
        for earlier, later in zip(slots, slots[1:]):
            if later.start_seconds < earlier.end_seconds:
                raise ValueError(f"overlapping slots on {WEEKDAY_NAMES[index]}: {_fmt(earlier)} and {_fmt(later)}")
        normalised.append(tuple(slots))
    return tuple(normalised)


def _weekday(key: int | str) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and 0 <= key <= 6:
        return key
    if isinstance(key, str) and key[:3].lower() in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(key[:3].lower())
    raise ValueError(f"unknown weekday {key!r} (0=Monday..6=Sunday or mon..sun)")


def _slot(value: SlotInput) -> Slot:
    if isinstance(value, str):
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f"slot {value!r} is not START-END")
        value = (start, end)
    if len(value) != 2:
        raise ValueError(f"slot {value!r} is not (start, end)")
    start, end = _slot_time(value[0], is_end=False), _slot_time(value[1], is_end=True)
    slot = Slot(start, end)
    if slot.start_seconds >= slot.end_seconds:
        raise ValueError(f"slot {_fmt(slot)} must start before it ends")
    return slot


def _slot_time(value: time | str, is_end: bool) -> time:
    if isinstance(value, str):
        text = value.strip()
        if text in ("24:00", "24:00:00"):
            if not is_end:
                raise ValueError("a slot cannot start at 24:00")
            return MIDNIGHT
        try:
            value = time.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"bad slot time {text!r}") from exc
    if not isinstance(value, time):
        raise ValueError(f"bad slot time {value!r}")
    if value.tzinfo is not None:
        raise ValueError("slot times are wall-clock times without a timezone")
    if value.microsecond:
        raise ValueError("slot times are whole seconds")
    return value


def _fmt(slot: Slot) -> str:
    end = "24:00" if slot.ends_at_midnight else slot.end.isoformat("minutes")
    return f"{slot.start.isoformat('minutes')}-{end}"


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _as_date(value: date) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"holidays are dates, got {value!r}")
    return value


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)
