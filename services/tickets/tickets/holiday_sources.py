"""Holidays from outside the calendar (pure: no I/O): an iCalendar file, or a region's public
holidays by code. Both give plain local dates that the service merges into the calendar's holidays.

iCalendar (RFC 5545) is parsed by the `icalendar` package and recurring events are expanded by
`recurring-ical-events`; the dates an event covers are every local date from DTSTART up to its end
(DTEND is exclusive for all-day events and for timed events ending at 00:00; a lone all-day DTSTART
is one day; DURATION is honoured), timed events counting by the wall-clock dates as written.
Cancelled events and occurrences are skipped.

The input is a tenant's, so everything is bounded (documented in docs/sla.md):
- the file: at most ``MAX_ICS_CHARS`` characters and ``MAX_ICS_EVENTS`` VEVENTs, of which at most
  ``MAX_RECURRING_EVENTS`` recur; one event covers at most ``MAX_EVENT_DAYS`` days;
- one-off events: dates outside the holiday window (`business_hours.holiday_window`, this year - 10
  .. this year + 10) are ignored and counted, so a feed that lists decades still imports;
- recurring events: ``FREQ=YEARLY`` rules only (holidays recur yearly; a weekly pattern is a working
  slot), expanded from 1 January of this year through 31 December ``RECURRENCE_YEARS_AHEAD`` years
  on -- re-import (or load public holidays) later to extend them. Only the rule parts that cannot
  describe an impossible date are accepted (INTERVAL 1, BYMONTH, BYMONTHDAY that exists in one of
  those months, or BYDAY with an ordinal within +-4), because the expansion library searches up to
  year 9999 for a rule that never matches (seconds of CPU per event);
- public holidays: a code ``CC`` or ``CC-SUB`` known to the `holidays` package, for at most
  ``MAX_REGION_YEARS`` years within the holiday window.
Anything else is a ``HolidaySourceError`` naming the input field; nothing is half-imported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from tickets.business_hours import MAX_HOLIDAYS, holiday_window

MAX_ICS_CHARS = 100_000
MAX_ICS_EVENTS = 1_000
MAX_RECURRING_EVENTS = 50
MAX_EVENT_DAYS = 31
RECURRENCE_YEARS_AHEAD = 5
MAX_REGION_YEARS = 10
_EARLIEST_SERIES_START = date(1970, 1, 1)  # the library walks each series from its start: ~1 ms per 15 years
_RULE_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYMONTHDAY", "BYDAY", "WKST"}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # Feb 29 exists in leap years
_REGION = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")


class HolidaySourceError(ValueError):
    """An unusable holiday source; ``field`` names the input that is wrong."""

    def __init__(self, message: str, field: str = "ics"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class IcsHolidays:
    dates: frozenset[date]  # inside the holiday window
    ignored: int  # dates of one-off events outside the window
    events: int  # VEVENTs in the file


def parse_ics_holidays(text: str, today: date) -> IcsHolidays:
    """The holiday dates of an iCalendar file (see the module doc for the rules and bounds)."""
    import icalendar
    import recurring_ical_events

    if not isinstance(text, str):
        raise HolidaySourceError("an iCalendar text is required")
    if len(text) > MAX_ICS_CHARS:
        raise HolidaySourceError(f"the iCalendar file is longer than {MAX_ICS_CHARS:,} characters")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise HolidaySourceError(f"not an iCalendar file: {_short(exc)}") from None
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise HolidaySourceError("not an iCalendar file: it must be one VCALENDAR")
    events = calendar.walk("VEVENT")
    if not events:
        raise HolidaySourceError("the iCalendar file contains no event (VEVENT)")
    if len(events) > MAX_ICS_EVENTS:
        raise HolidaySourceError(f"at most {MAX_ICS_EVENTS:,} events per file (got {len(events):,})")
    first, last = holiday_window(today)
    dates: set[date] = set()
    ignored: set[date] = set()
    series: set[str] = set()  # the UIDs of the recurring events
    occurrences = 0
    for event in events:
        _check_parsed(event)
        if "RRULE" in event or "RDATE" in event:
            series.add(str(event.get("UID", "")))
            occurrences += _check_series(event)
            continue
        if "RECURRENCE-ID" in event:  # an edited occurrence: expanded with its series below
            continue
        if _cancelled(event):
            continue
        for day in _event_dates(event):
            (dates if first <= day <= last else ignored).add(day)
    recurring = [e for e in events if str(e.get("UID", "")) in series]  # with their edited occurrences
    if len([e for e in recurring if "RRULE" in e or "RDATE" in e]) > MAX_RECURRING_EVENTS:
        raise HolidaySourceError(f"at most {MAX_RECURRING_EVENTS} recurring events per file")
    if occurrences > MAX_HOLIDAYS:
        raise HolidaySourceError(f"the recurring events give more than {MAX_HOLIDAYS:,} holidays")
    if recurring:
        dates |= _expand_series(recurring, today, icalendar, recurring_ical_events)
    return IcsHolidays(frozenset(dates), len(ignored - dates), len(events))


def public_holidays(region: str, years: list[int], today: date) -> dict[date, str]:
    """The public holidays (date -> name) of a country (``FR``) or one of its subdivisions
    (``DE-BY``, ``US-NY``) in ``years``, from the `holidays` package."""
    import holidays

    if not isinstance(region, str) or not _REGION.match(region.strip().upper()):
        raise HolidaySourceError("a region is a country code (FR) or country-subdivision code (DE-BY)", "region")
    country, subdivision = _REGION.match(region.strip().upper()).groups()
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise HolidaySourceError(f"no public holidays are known for the country {country!r}", "region")
    if subdivision is not None and subdivision not in supported[country]:
        codes = ", ".join(s for s in supported[country] if _REGION.match(f"{country}-{s}"))
        raise HolidaySourceError(f"{country} has no subdivision {subdivision!r} (known: {codes or 'none'})", "region")
    first, last = holiday_window(today)
    if not isinstance(years, list) or not 1 <= len(years) <= MAX_REGION_YEARS:
        raise HolidaySourceError(f"give 1 to {MAX_REGION_YEARS} years", "years")
    if any(isinstance(y, bool) or not isinstance(y, int) or not first.year <= y <= last.year for y in years):
        raise HolidaySourceError(f"years must lie within {first.year}..{last.year}", "years")
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=sorted(set(years)))
    except NotImplementedError as exc:  # the package's "unknown country/subdivision"
        raise HolidaySourceError(str(exc), "region") from None
    return {day: name for day, name in sorted(found.items())}


# --- internals ---------------------------------------------------------------------------------------

def _check_parsed(event) -> None:
    # icalendar is lenient: a value it could not read is kept aside in `errors`, not raised
    for prop, message in getattr(event, "errors", ()):
        raise HolidaySourceError(f"event {_label(event)}: {prop}: {_short(message)}")
    if "DTSTART" not in event:
        raise HolidaySourceError(f"event {_label(event)} has no DTSTART")
    if "EXRULE" in event:
        raise HolidaySourceError(f"event {_label(event)}: EXRULE is not supported (use EXDATE)")


def _check_series(event) -> int:
    """Only yearly rules whose every part names dates that exist (see the module doc); returns an
    upper bound on the series' occurrences in the expansion window, so that a rule naming every day
    is refused before it is expanded."""
    per_year = 0
    rules = event.get("RRULE")
    for rule in rules if isinstance(rules, list) else ([rules] if rules is not None else []):
        parts = {key.upper(): value for key, value in rule.items()}
        unknown = set(parts) - _RULE_PARTS
        if parts.get("FREQ") != ["YEARLY"]:
            raise HolidaySourceError(f"event {_label(event)}: only yearly rules (FREQ=YEARLY) are supported")
        if unknown:
            raise HolidaySourceError(f"event {_label(event)}: unsupported rule parts {', '.join(sorted(unknown))}")
        if parts.get("INTERVAL", [1]) != [1]:
            raise HolidaySourceError(f"event {_label(event)}: a holiday rule recurs every year (INTERVAL=1)")
        if "BYMONTHDAY" in parts and "BYDAY" in parts:
            raise HolidaySourceError(f"event {_label(event)}: give BYMONTHDAY or BYDAY, not both")
        months = parts.get("BYMONTH") or range(1, 13)
        if not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
            raise HolidaySourceError(f"event {_label(event)}: BYMONTH must be 1..12")
        for day in parts.get("BYMONTHDAY", ()):
            if not any(isinstance(day, int) and 1 <= abs(day) <= _DAYS_IN_MONTH[m - 1] for m in months):
                raise HolidaySourceError(f"event {_label(event)}: BYMONTHDAY={day} exists in none of its months")
        for weekday in parts.get("BYDAY", ()):
            ordinal = getattr(weekday, "relative", None)
            if ordinal is None:
                match = re.match(r"^([+-]?\d+)?[A-Z]{2}$", str(weekday).upper())
                ordinal = int(match.group(1)) if match and match.group(1) else 0
            if abs(ordinal) > 4:
                raise HolidaySourceError(f"event {_label(event)}: BYDAY ordinals lie within -4..4")
        per_year += _yearly_bound(parts)
    start = event.decoded("DTSTART")
    if (start.date() if isinstance(start, datetime) else start) < _EARLIEST_SERIES_START:
        raise HolidaySourceError(
            f"event {_label(event)}: a recurring event starts in {_EARLIEST_SERIES_START.year} or later")
    rdates = event.get("RDATE")
    extra = sum(len(r.dts) for r in (rdates if isinstance(rdates, list) else [rdates])) if rdates is not None else 0
    return 1 + per_year * (RECURRENCE_YEARS_AHEAD + 1) + extra


def _yearly_bound(parts: dict) -> int:
    """At most how many dates one year of a (checked) yearly rule names."""
    months = len(parts.get("BYMONTH", ())) or 12
    if "BYMONTHDAY" in parts:
        return months * len(parts["BYMONTHDAY"])
    if "BYDAY" in parts:
        ordinal = [bool(re.match(r"^[+-]?\d", str(d))) for d in parts["BYDAY"]]
        if "BYMONTH" in parts:
            return months * sum(1 if o else 5 for o in ordinal)
        return sum(1 if o else 53 for o in ordinal)
    return len(parts.get("BYMONTH", ())) or 1


def _expand_series(events: list, today: date, icalendar, recurring_ical_events) -> set[date]:
    first, last = date(today.year, 1, 1), date(today.year + RECURRENCE_YEARS_AHEAD, 12, 31)
    calendar = icalendar.Calendar()  # only the series: the library's cost grows with every event
    for event in events:
        calendar.add_component(event)
    try:
        occurrences = recurring_ical_events.of(calendar).between(first, last + timedelta(days=1))
    except Exception as exc:  # noqa: BLE001 - the library's errors for series it cannot expand
        raise HolidaySourceError(f"cannot expand the recurring events: {_short(exc)}") from None
    dates: set[date] = set()
    for occurrence in occurrences:
        if not _cancelled(occurrence):  # a cancelled occurrence is no holiday
            dates |= {d for d in _event_dates(occurrence) if first <= d <= last}
    return dates


def _event_dates(event) -> set[date]:
    first, first_time = _day_and_time(event.decoded("DTSTART"))
    if "DTEND" in event:
        end, end_time = _day_and_time(event.decoded("DTEND"))
        # DTEND is exclusive for all-day events, and for timed events ending at midnight
        last = end - timedelta(days=1) if end_time in (None, time(0)) else end
    elif "DURATION" in event:
        duration = event.decoded("DURATION")
        if not isinstance(duration, timedelta):
            raise HolidaySourceError(f"event {_label(event)}: unsupported DURATION")
        if first_time is None:  # all-day: whole days
            last = first + timedelta(days=max(duration.days, 1) - 1)
        else:
            end = datetime.combine(first, first_time) + duration
            last = end.date() - timedelta(days=1) if end.time() == time(0) and end.date() > first else end.date()
    else:
        last = first  # RFC 5545 3.6.1: an all-day DTSTART alone lasts one day
    last = max(last, first)
    days = (last - first).days + 1
    if days > MAX_EVENT_DAYS:
        raise HolidaySourceError(f"event {_label(event)} covers {days} days (at most {MAX_EVENT_DAYS})")
    return {first + timedelta(days=i) for i in range(days)}


def _day_and_time(value) -> tuple[date, time | None]:
    if isinstance(value, datetime):  # its wall-clock date as written, in its own zone
        return value.date(), value.time()
    if isinstance(value, date):
        return value, None
    raise HolidaySourceError(f"unsupported iCalendar date {value!r}")


def _cancelled(event) -> bool:
    return str(event.get("STATUS", "")).upper() == "CANCELLED"


def _label(event) -> str:
    summary, uid = event.get("SUMMARY"), event.get("UID")
    return repr(str(summary or uid or "?")[:80])


def _short(exc) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
