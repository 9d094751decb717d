"""Holidays from iCalendar files (icalendar + recurring-ical-events) and public holidays by region
code (holidays), with their bounds (pure)."""
from datetime import date

import pytest

from tickets.business_hours import Calendar, business_minutes_between, local_day_bounds
from tickets.holiday_sources import (
    MAX_EVENT_DAYS,
    MAX_ICS_CHARS,
    MAX_ICS_EVENTS,
    MAX_RECURRING_EVENTS,
    HolidaySourceError,
    parse_ics_holidays,
    public_holidays,
)

TODAY = date(2026, 6, 1)  # holiday window 2016..2036, recurring events expanded over 2026..2031


def ics(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//holidays//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def event(*lines: str) -> str:
    return "BEGIN:VEVENT\r\n" + "".join(f"{line}\r\n" for line in lines) + "END:VEVENT\r\n"


def dates(text: str) -> set[date]:
    return set(parse_ics_holidays(text, TODAY).dates)


ICS = ics(
    event("UID:1", "DTSTART;VALUE=DATE:20261225", "DTEND;VALUE=DATE:20261227",
          "SUMMARY:Christmas Day and the day\r\n  after, a folded summary"),
    "BEGIN:VEVENT\r\nUID:2\r\nDTST\r\n ART;VALUE=DATE:20260101\r\nEND:VEVENT\r\n",  # folded name, lone DTSTART
    event("UID:3", "DTSTART;VALUE=DATE:20260525", "DURATION:P2D"),
    event("UID:4", "DTSTART;TZID=Europe/Berlin:20261003T000000", "DTEND;TZID=Europe/Berlin:20261004T000000"),
    event("UID:5", "DTSTART;VALUE=DATE:20260501", "STATUS:CANCELLED"),
)


def test_ics_holidays_cover_every_day_of_each_event():
    assert dates(ICS) == {
        date(2026, 12, 25), date(2026, 12, 26),   # DTEND is exclusive
        date(2026, 1, 1),                         # lone DTSTART: one day
        date(2026, 5, 25), date(2026, 5, 26),     # DURATION:P2D
        date(2026, 10, 3),                        # date-time event ending at midnight
    }


def test_ics_parsing_accepts_bare_lf_and_tab_folding():
    text = ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:2026\n\t1224\nDTEND;VALUE=DATE:20261225\n"
            "END:VEVENT\nEND:VCALENDAR\n")
    assert dates(text) == {date(2026, 12, 24)}


def test_yearly_rules_are_expanded_over_this_year_and_the_next_five():
    text = ics(event("UID:xmas", "DTSTART;VALUE=DATE:20201225", "RRULE:FREQ=YEARLY", "SUMMARY:Christmas"),
               event("UID:thanks", "DTSTART;VALUE=DATE:20201126", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH"))
    assert dates(text) == {date(y, 12, 25) for y in range(2026, 2032)} | {
        date(2026, 11, 26), date(2027, 11, 25), date(2028, 11, 23), date(2029, 11, 22), date(2030, 11, 28),
        date(2031, 11, 27)}


def test_exceptions_and_cancelled_occurrences_of_a_series_are_no_holidays():
    text = ics(event("UID:may", "DTSTART;VALUE=DATE:20260501", "RRULE:FREQ=YEARLY;COUNT=4",
                     "EXDATE;VALUE=DATE:20270501"),
               event("UID:may", "RECURRENCE-ID;VALUE=DATE:20280501", "DTSTART;VALUE=DATE:20280501",
                     "STATUS:CANCELLED"),
               event("UID:extra", "DTSTART;VALUE=DATE:20260102", "RDATE;VALUE=DATE:20270102"))
    assert dates(text) == {date(2026, 5, 1), date(2029, 5, 1), date(2026, 1, 2), date(2027, 1, 2)}


def test_one_off_dates_outside_the_window_are_ignored_and_counted():
    result = parse_ics_holidays(ics(event("UID:old", "DTSTART;VALUE=DATE:19990101"),
                                    event("UID:new", "DTSTART;VALUE=DATE:20260101")), TODAY)
    assert (set(result.dates), result.ignored, result.events) == ({date(2026, 1, 1)}, 1, 2)


@pytest.mark.parametrize("text, message", [
    ("hello world", "not an iCalendar file"),
    ("", "not an iCalendar file"),
    ("\x00\x01binary", "not an iCalendar file"),
    (event("UID:1", "DTSTART;VALUE=DATE:20261225"), "VCALENDAR"),           # no VCALENDAR around it
    (ics(), "no event"),
    ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\n", "not an iCalendar file"),  # unterminated
    (ics(event("UID:1", "SUMMARY:no date")), "no DTSTART"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:2026-12-25")), "DTSTART"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "DTEND;VALUE=DATE:20260301")), f"at most {MAX_EVENT_DAYS}"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "RRULE:FREQ=DAILY")), "only yearly"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "RRULE:FREQ=YEARLY;INTERVAL=2")), "INTERVAL=1"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")), "exists in none"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "RRULE:FREQ=YEARLY;BYMONTH=2;BYDAY=5MO")), "ordinals"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "RRULE:FREQ=YEARLY;BYSETPOS=1;BYDAY=MO")), "BYSETPOS"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:19000101", "RRULE:FREQ=YEARLY")), "1970 or later"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "RRULE:FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR,SA,SU")),
     "more than 2,000"),
    (ics(*(event(f"UID:{i}", "DTSTART;VALUE=DATE:20260101") for i in range(MAX_ICS_EVENTS + 1))),
     "at most 1,000 events"),
    (ics(*(event(f"UID:{i}", "DTSTART;VALUE=DATE:20260101", "RRULE:FREQ=YEARLY")
           for i in range(MAX_RECURRING_EVENTS + 1))), "recurring events"),
    (ics(event("UID:1", "DTSTART;VALUE=DATE:20260101", "SUMMARY:" + "x" * MAX_ICS_CHARS)), "longer than"),
])
def test_unusable_ics_is_refused_naming_the_reason(text, message):
    with pytest.raises(HolidaySourceError, match=message) as refused:
        parse_ics_holidays(text, TODAY)
    assert refused.value.field == "ics"


def test_ics_holidays_feed_a_calendar():
    cal = Calendar.workweek("Europe/Berlin", ["09:00-17:00"], holidays=parse_ics_holidays(ICS, TODAY).dates)
    opens, closes = local_day_bounds(cal, date(2026, 12, 25))
    assert business_minutes_between(cal, opens, closes) == 0


# --- public holidays by region ----------------------------------------------------------------------

def test_public_holidays_of_a_subdivision_and_of_a_country():
    bavaria = public_holidays("DE-BY", [2026, 2027], TODAY)
    assert date(2026, 1, 6) in bavaria and date(2027, 1, 6) in bavaria  # Epiphany: Bavaria, not Berlin
    assert date(2026, 1, 6) not in public_holidays("de-be", [2026], TODAY)
    assert date(2026, 7, 14) in public_holidays("FR", [2026], TODAY)
    new_york = public_holidays("US-NY", [2026], TODAY)
    assert date(2026, 11, 26) in new_york and all(d.year == 2026 for d in new_york)


@pytest.mark.parametrize("region, years, field, message", [
    ("XX", [2026], "region", "country 'XX'"),
    ("DE-ZZ", [2026], "region", "no subdivision 'ZZ'"),
    ("Bavaria", [2026], "region", "country code"),
    ("", [2026], "region", "country code"),
    (None, [2026], "region", "country code"),
    ("DE-BY", [], "years", "1 to 10"),
    ("DE-BY", list(range(2020, 2031)), "years", "1 to 10"),
    ("DE-BY", [2050], "years", "2016..2036"),
    ("DE-BY", ["2026"], "years", "within"),
])
def test_unknown_regions_and_years_out_of_range_are_refused(region, years, field, message):
    with pytest.raises(HolidaySourceError, match=message) as refused:
        public_holidays(region, years, TODAY)
    assert refused.value.field == field
