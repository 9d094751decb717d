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

Cost. A tenant controls the calendar and the targets, so the arithmetic must not let one tenant
stall the service: it costs O(UTC-offset changes crossed) once per calendar and two bisections
after that, never O(days or weeks crossed). A local day is *regular* when its midnight and the next
one have the same UTC offset (tzdata has no change that is undone within a day); its business time
is then the nominal length of its weekday's slots, or 0 on a holiday. A run of regular days is
summed arithmetically (whole weeks x `week_seconds`, the rest of the weekday cycle, less the
holidays' nominal time from a prefix sum); the day before each offset change is walked slot by
slot. Each calendar keeps those sums as a timeline of cumulative business seconds (extended lazily,
shared by all of the tenant's tickets), so a deadline is the day whose cumulative total reaches the
target -- a bisection over the timeline, then within the run -- and a measurement is a difference of
two totals. The first days of a deadline and short measurements are still walked directly (the
common case is cheapest that way). The results are exactly those of walking every day (the tests
keep that walk as the reference and compare the two over random calendars). The offset changes come
from the zone's transitions (each confirmed by ``ZoneInfo``); the memo is not guarded against OS
threads (the services run green threads).

Horizon. Nothing is computed at or after ``HORIZON`` (the local date 9999-01-01; instants going in
must also lie before it): an answer that would lie there raises ``BeyondHorizon`` (a ValueError),
never an OverflowError.

Input bounds (``check_bounds``) are what a tenant may store; the arithmetic itself accepts any
valid calendar.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc
MIDNIGHT = time(0, 0)
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON = datetime(9999, 1, 1, tzinfo=UTC)
_HORIZON_DAY = HORIZON.date()
_EARLIEST = datetime(1, 1, 3, tzinfo=UTC)  # so that every local date of an instant is representable
_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
_WALK_DAYS = 7  # days walked slot by slot before the cumulative sums take over
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# --- input bounds (what a tenant may store; see docs/sla.md) --------------------------------------
MIN_WEEK_MINUTES = 60  # business time per week: with 525,600-minute targets, deadlines < 170 years out
MAX_SLOTS_PER_DAY = 12
MAX_HOLIDAYS = 2_000  # dates in one calendar
HOLIDAY_YEARS_BACK = 10  # holiday dates lie within this year - 10 .. this year + 10
HOLIDAY_YEARS_AHEAD = 10


class BeyondHorizon(ValueError):
    """The answer (or an instant given) lies at or after ``HORIZON`` (or before year 1)."""


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
    # derived once (not compared): the prefix sums the arithmetic uses, and the hash (every
    # memoised per-day lookup hashes the calendar)
    _derived: tuple = field(init=False, repr=False, compare=False, default=())

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
        nominal = tuple(sum(s.end_seconds - s.start_seconds for s in day) for day in self.weekly)
        cycle = [0]  # business seconds of the first i days of two weeks from a Monday
        for i in range(14):
            cycle.append(cycle[-1] + nominal[i % 7])
        holidays = tuple(sorted(self.holidays))
        lost = [0]  # nominal seconds lost to the first i holidays
        for day in holidays:
            lost.append(lost[-1] + nominal[day.weekday()])
        object.__setattr__(self, "_derived", (
            hash((self.timezone, self.weekly, self.holidays, self.always_open, self.version)),
            sum(nominal), tuple(cycle), holidays, tuple(lost)))

    def __hash__(self) -> int:
        return self._derived[0]

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
        return self._derived[1]


def check_bounds(calendar: Calendar, today: date, existing: Iterable[date] = ()) -> None:
    """The bounds on what a tenant may store (ValueError naming the rule): at least
    ``MIN_WEEK_MINUTES`` of business time a week, at most ``MAX_SLOTS_PER_DAY`` slots a day, at most
    ``MAX_HOLIDAYS`` holidays, each within ``holiday_window(today)`` unless among the ``existing``
    ones (stored before: a date that aged out of the window does not block the next change)."""
    if calendar.always_open:
        return
    if calendar.week_seconds < MIN_WEEK_MINUTES * 60:
        raise ValueError(f"the working slots must add up to at least {MIN_WEEK_MINUTES} minutes a week "
                         f"(these add up to {calendar.week_seconds / 60:g})")
    for index, slots in enumerate(calendar.weekly):
        if len(slots) > MAX_SLOTS_PER_DAY:
            raise ValueError(f"at most {MAX_SLOTS_PER_DAY} working slots a day "
                             f"({WEEKDAY_NAMES[index]} has {len(slots)})")
    if len(calendar.holidays) > MAX_HOLIDAYS:
        raise ValueError(f"at most {MAX_HOLIDAYS} holidays (got {len(calendar.holidays)})")
    first, last = holiday_window(today)
    outside = sorted(d for d in calendar.holidays - frozenset(existing) if not first <= d <= last)
    if outside:
        raise ValueError(f"holidays must lie within {first.isoformat()}..{last.isoformat()} "
                         f"(got {outside[0].isoformat()})")


def holiday_window(today: date) -> tuple[date, date]:
    """The first and last date a holiday may have: this year - 10 .. this year + 10."""
    return date(today.year - HOLIDAY_YEARS_BACK, 1, 1), date(today.year + HOLIDAY_YEARS_AHEAD, 12, 31)


# --- public arithmetic ------------------------------------------------------------------------

def add_business_minutes(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The instant (UTC) at which ``minutes`` of business time have elapsed since ``start``.

    Closed time before the first slot is skipped, so a ticket created on Friday 20:00 with a
    60-minute target is due at Monday 10:00. A deadline that lands exactly on the end of a slot
    is that end (not the next opening). ``minutes == 0`` returns ``start`` unchanged. An answer at
    or after the horizon raises ``BeyondHorizon``.
    """
    start = _require_aware(start, "start")
    remaining = _duration(minutes, start)
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
    for _ in range(_WALK_DAYS):  # most deadlines are days away: walking them is cheapest
        day += _DAY
        for opens, closes in _day_intervals(calendar, day):
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens
    # further: find the day the deadline falls in from the cumulative business seconds, then walk
    # that day's slots
    day += _DAY
    timeline = _timeline(calendar, day)
    base = timeline.total_at(day)
    wanted = remaining // _MICROSECOND
    deadline_day, before = timeline.day_reaching(base + -(-wanted // 1_000_000))
    remaining = timedelta(microseconds=wanted - (before - base) * 1_000_000)
    for opens, closes in _day_intervals(calendar, deadline_day):
        if remaining <= closes - opens:
            if opens + remaining >= HORIZON:
                break
            return opens + remaining
        remaining -= closes - opens
    raise BeyondHorizon(f"{minutes} business minutes from {start.isoformat()} end after the horizon "
                        f"({_HORIZON_DAY.isoformat()})")


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
    first_day = a.astimezone(zone).date()
    last_day = b.astimezone(zone).date()
    total = _clipped(calendar, first_day, a, b)
    if (last_day - first_day).days <= _WALK_DAYS:
        for offset in range(1, (last_day - first_day).days + 1):
            total += _clipped(calendar, first_day + timedelta(days=offset), a, b)
        return total
    # the days strictly between lie wholly inside [a, b)
    timeline = _timeline(calendar, first_day + _DAY)
    whole = timeline.total_at(last_day) - timeline.total_at(first_day + _DAY)
    return total + timedelta(seconds=whole) + _clipped(calendar, last_day, a, b)


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
    if not date.min < day < _HORIZON_DAY:
        raise BeyondHorizon(f"{day.isoformat()} is outside the horizon")
    return _wall_to_utc(calendar.zone, day, MIDNIGHT), _wall_to_utc(calendar.zone, day + _DAY, MIDNIGHT)


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
        closes = (_wall_to_utc(zone, day + _DAY, MIDNIGHT) if slot.ends_at_midnight
                  else _wall_to_utc(zone, day, slot.end))
        if closes > opens:  # a slot inside a skipped DST hour is empty that day
            intervals.append((opens, closes))
    return tuple(intervals)


def _clipped(calendar: Calendar, day: date, a: datetime, b: datetime) -> timedelta:
    total = timedelta(0)
    for opens, closes in _day_intervals(calendar, day):
        opens, closes = max(opens, a), min(closes, b)
        if closes > opens:
            total += closes - opens
    return total


class _Timeline:
    """Cumulative business seconds of one calendar's whole local days from ``origin`` on, kept as
    checkpoints between segments that are either a run of regular days (summed arithmetically) or
    one irregular day (its slots walked), extended lazily as far as asked. Memoised per calendar
    (``_timeline``): every open ticket of a tenant shares it, so after the first deadline each one
    costs two bisections."""

    __slots__ = ("calendar", "days", "totals", "regular")

    def __init__(self, calendar: Calendar, origin: date):
        self.calendar = calendar
        self.days = [origin]  # checkpoint days; segment i is [days[i], days[i + 1])
        self.totals = [0]  # business seconds in [origin, days[i])
        self.regular: list[bool] = []  # whether segment i is a run of regular days

    @property
    def origin(self) -> date:
        return self.days[0]

    def _extend(self) -> None:
        end = self.days[-1]
        if end >= _HORIZON_DAY:
            raise BeyondHorizon(f"the answer lies beyond the horizon ({_HORIZON_DAY.isoformat()})")
        change = _next_offset_change(self.calendar.timezone, end + _DAY)
        run_end = _HORIZON_DAY if change is None else min(change - _DAY, _HORIZON_DAY)
        if run_end > end:
            seconds, regular = _regular_seconds(self.calendar, end, run_end), True
        else:  # ``end`` is the day of an offset change
            run_end, regular = end + _DAY, False
            seconds = sum(((c - o) // _SECOND for o, c in _day_intervals(self.calendar, end)), 0)
        self.days.append(run_end)
        self.totals.append(self.totals[-1] + seconds)
        self.regular.append(regular)

    def total_at(self, day: date) -> int:
        """Business seconds in the local days [origin, day)."""
        while self.days[-1] < day:
            self._extend()
        i = bisect_right(self.days, day) - 1
        if self.days[i] == day:
            return self.totals[i]
        return self.totals[i] + _regular_seconds(self.calendar, self.days[i], day)  # inside a regular run

    def day_reaching(self, target: int) -> tuple[date, int]:
        """The day ``e`` with total_at(e) < target <= total_at(e + 1), and total_at(e)."""
        while self.totals[-1] < target:
            self._extend()
        i = bisect_left(self.totals, target)  # >= 1: target is above the first checkpoint's total
        first, before = self.days[i - 1], self.totals[i - 1]
        if not self.regular[i - 1]:
            return first, before
        day, used = _regular_day_reaching(self.calendar, first, self.days[i], target - before)
        return day, before + used


_TIMELINES: OrderedDict[Calendar, _Timeline] = OrderedDict()
_MAX_TIMELINES = 512


def _timeline(calendar: Calendar, day: date) -> _Timeline:
    """The calendar's timeline, reaching back to ``day`` at least (a fresh one starts a year earlier,
    so that older tickets of the tenant rarely make it start again)."""
    timeline = _TIMELINES.get(calendar)
    if timeline is None or timeline.origin > day:
        timeline = _Timeline(calendar, max(day - timedelta(days=366), _EARLIEST.date() + _DAY))
        _TIMELINES[calendar] = timeline
        if len(_TIMELINES) > _MAX_TIMELINES:
            _TIMELINES.popitem(last=False)
    else:
        _TIMELINES.move_to_end(calendar)
    return timeline


def _regular_seconds(calendar: Calendar, first: date, end: date) -> int:
    """Business seconds of the regular local days ``[first, end)``: their weekdays' nominal slot
    time less that of the holidays among them."""
    _, week, cycle, holidays, lost = calendar._derived
    weeks, rest = divmod((end - first).days, 7)
    weekday = first.weekday()
    nominal = weeks * week + cycle[weekday + rest] - cycle[weekday]
    return nominal - (lost[bisect_left(holidays, end)] - lost[bisect_left(holidays, first)])


def _regular_day_reaching(calendar: Calendar, first: date, end: date, wanted: int) -> tuple[date, int]:
    """In the regular run [first, end) holding at least ``wanted`` business seconds: the day ``e``
    whose own slots complete them, and the seconds of [first, e)."""
    week = calendar.week_seconds
    day, used = first, 0
    # whole weeks that surely fit (holidays only make a week shorter), until less than a week is left
    while wanted - used > week:
        ahead = day + timedelta(days=7 * ((wanted - used - 1) // week))
        used += _regular_seconds(calendar, day, ahead)
        day = ahead
    # then day by day for a week or two; past a long run of holidays, by bisection
    cycle = calendar._derived[2]
    for _ in range(14):
        own = 0 if day in calendar.holidays else cycle[day.weekday() + 1] - cycle[day.weekday()]
        if used + own >= wanted:
            return day, used
        used += own
        day += _DAY
    lo, hi = 0, (end - day).days  # seconds(day, day + lo) < wanted - used <= seconds(day, day + hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _regular_seconds(calendar, day, day + timedelta(days=mid)) < wanted - used:
            lo = mid
        else:
            hi = mid
    return day + timedelta(days=lo), used + _regular_seconds(calendar, day, day + timedelta(days=lo))


def _next_offset_change(key: str, day: date) -> date | None:
    """The first local date on or after ``day`` whose midnight has another UTC offset than the
    midnight before; None if there is none before the horizon."""
    hints = _transition_hints(key)
    last_year = _HORIZON_DAY.year
    if hints is not None and hints[1] is None:  # the offset stays fixed after the last transition
        last_year = min(last_year, _year_of(hints[0][-1]) + 1) if hints[0] else day.year - 1
    for year in range(day.year, last_year + 1):
        changes = _offset_changes(key, year)
        index = bisect_left(changes, day)
        if index < len(changes):
            return changes[index]
    return None


@lru_cache(maxsize=65536)
def _offset_changes(key: str, year: int) -> tuple[date, ...]:
    """The local dates of ``year`` whose midnight has another UTC offset than the midnight before
    (what makes the day before them irregular). Each is confirmed with ``ZoneInfo`` itself; the
    zone's transition instants only say where to look (every midnight is probed without them)."""
    zone = ZoneInfo(key)
    first, last = date(year, 1, 1), date(year, 12, 31)
    offsets: dict[date, timedelta | None] = {}

    def changes_at(day: date) -> bool:
        if not first <= day <= last or day <= date.min:
            return False
        for d in (day, day - _DAY):
            if d not in offsets:
                offsets[d] = _midnight_offset(zone, d)
        return offsets[day] != offsets[day - _DAY]

    hints = _transition_hints(key)
    if hints is None:
        return tuple(d for d in (first + timedelta(days=i) for i in range((last - first).days + 1)) if changes_at(d))
    transitions, rule = hints
    lo, hi = _timestamp(first) - 3 * 86_400, _timestamp(last) + 4 * 86_400
    instants = list(transitions[bisect_left(transitions, lo):bisect_left(transitions, hi)])
    if rule is not None and (not transitions or transitions[-1] < hi):
        instants += [t for y in (year - 1, year, year + 1) if 1 <= y < 9999 for t in _rule_transitions(rule, y)]
    found = set()
    for instant in instants:
        if not lo <= instant < hi:
            continue
        # the first midnight after a transition shows the new offset: the day after the transition's
        # local date (in the new offset)
        day = datetime.fromtimestamp(instant, zone).date() + _DAY
        if changes_at(day):
            found.add(day)
        elif _offset_moves(zone, instant):  # a real change, not where expected: look around it
            found.update(d for d in (day + timedelta(days=k) for k in range(-3, 3)) if changes_at(d))
    return tuple(sorted(found))


@lru_cache(maxsize=65536)
def _rule_transitions(rule, year: int) -> tuple[int, ...]:
    """The rule's two transitions of ``year`` as UTC epoch seconds (the rule gives the start in
    standard and the end in daylight-saving local time, as the reader's own ``fromutc`` reads them)."""
    start, end = rule.transitions(year)
    return int(start - rule.std.utcoff.total_seconds()), int(end - rule.dst.utcoff.total_seconds())


def _offset_moves(zone: ZoneInfo, instant: int) -> bool:
    """Whether the UTC offset differs just before and at ``instant`` (tzdata also lists transitions
    that only rename the zone's abbreviation)."""
    at = datetime.fromtimestamp(instant, UTC)
    return (at - _SECOND).astimezone(zone).utcoffset() != at.astimezone(zone).utcoffset()


@lru_cache(maxsize=1024)
def _transition_hints(key: str):
    """(the zone's transition instants as UTC epoch seconds, the yearly rule continuing them or
    None when the offset stays fixed after the last one), read by the standard library's pure-Python
    TZif reader -- the same file and algorithm as the C implementation behind ``ZoneInfo``; None when
    that private reader is unavailable (the caller then probes every midnight)."""
    try:
        from zoneinfo import _zoneinfo

        info = _zoneinfo.ZoneInfo.no_cache(key)
        transitions, after = tuple(info._trans_utc), info._tz_after
    except Exception:  # noqa: BLE001 - a private interface: fall back to probing
        return None
    rule = after if callable(getattr(after, "transitions", None)) else None
    return transitions, rule


def _midnight_offset(zone: ZoneInfo, day: date) -> timedelta | None:
    return datetime.combine(day, MIDNIGHT, tzinfo=zone).utcoffset()


def _timestamp(day: date) -> int:
    return (day - _EPOCH.date()).days * 86_400


def _date_of(timestamp: int) -> date:
    return _EPOCH.date() + timedelta(days=timestamp // 86_400)


def _year_of(timestamp: int) -> int:
    try:
        return _date_of(timestamp).year
    except OverflowError:
        return _HORIZON_DAY.year if timestamp > 0 else 1


def _duration(minutes: float, start: datetime) -> timedelta:
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or math.isnan(minutes):
        raise ValueError("minutes must be a number")
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    # business time never exceeds elapsed time, so more than is left before the horizon cannot fit
    if minutes > (HORIZON - start) / _MINUTE:
        raise BeyondHorizon(f"{minutes} minutes from {start.isoformat()} end after the horizon")
    return timedelta(minutes=minutes)


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
    jump = _transition_within(zone, lo, hi, after_offset)  # the zone's own transition, when known
    if jump is not None:
        return jump
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=((hi - lo) // timedelta(seconds=1)) // 2)
        if mid.astimezone(zone).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi


def _transition_within(zone: ZoneInfo, lo: datetime, hi: datetime, after: timedelta) -> datetime | None:
    """The transition instant in ``(lo, hi]`` into the offset ``after``, from the zone's transitions
    and confirmed by ``ZoneInfo``; None when there is no such hint."""
    hints = _transition_hints(zone.key)
    if hints is None:
        return None
    transitions, rule = hints
    first, last = int(lo.timestamp()), int(hi.timestamp())
    candidates = list(transitions[bisect_right(transitions, first):bisect_right(transitions, last)])
    if rule is not None and (not transitions or transitions[-1] < last):
        candidates += [t for y in (lo.year, hi.year) for t in _rule_transitions(rule, y) if first < t <= last]
    for t in candidates:
        at = datetime.fromtimestamp(t, UTC)
        if at.astimezone(zone).utcoffset() == after and (at - _SECOND).astimezone(zone).utcoffset() != after:
            return at
    return None


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
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = None
    if value is None or not _EARLIEST <= value < HORIZON:
        raise BeyondHorizon(f"{name} must lie between {_EARLIEST.date().isoformat()} and {HORIZON.date().isoformat()}")
    return value
