"""Business-hours calendars and business-time arithmetic (pure): validation, iCalendar import and
property tests over random calendars in timezones with DST (incl. Lord Howe's 30-minute shift)."""
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tickets.business_hours import (
    Calendar,
    add_business_minutes,
    business_minutes_between,
    business_time_between,
    is_business_time,
    local_day_bounds,
    open_intervals,
    parse_ics_holidays,
)

UTC = timezone.utc
BOUNDED = settings(max_examples=200, deadline=None)
ZONES = ["Europe/Berlin", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata"]
# DST switches of 2026 (UTC instants) so random starts land near them often.
DST_SWITCHES = [
    datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),   # Europe/Berlin
    datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC),    # America/New_York
    datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, tzinfo=UTC),   # Australia/Lord_Howe
]


def quarter_time(quarters: int) -> str:
    return "24:00" if quarters == 96 else f"{quarters // 4:02d}:{quarters % 4 * 15:02d}"


@st.composite
def day_slots(draw):
    """0-3 non-overlapping slots on a quarter-hour grid, possibly starting at 00:00 or ending at 24:00."""
    bounds = sorted(draw(st.lists(st.integers(0, 96), unique=True, max_size=6)))
    return [f"{quarter_time(a)}-{quarter_time(b)}" for a, b in zip(bounds[::2], bounds[1::2])]


@st.composite
def calendars(draw, holidays=True):
    zone = draw(st.sampled_from(ZONES))
    weekly = {day: draw(day_slots()) for day in range(7)}
    assume(any(weekly.values()))
    days = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2027, 3, 31)), max_size=25)) if holidays else frozenset()
    return Calendar(zone, weekly, holidays=days)


instants = st.one_of(
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC)),
    st.builds(lambda base, minutes: base + timedelta(minutes=minutes),
              st.sampled_from(DST_SWITCHES), st.integers(-4 * 1440, 4 * 1440)),
)
minutes = st.integers(1, 20_000)


# --- validation ---------------------------------------------------------------------------------

def test_slots_must_start_before_they_end():
    with pytest.raises(ValueError, match="start before"):
        Calendar.workweek("UTC", ["12:00-09:00"])
    with pytest.raises(ValueError, match="start before"):
        Calendar.workweek("UTC", ["09:00-09:00"])


def test_slots_must_not_overlap_but_may_touch():
    with pytest.raises(ValueError, match="overlapping"):
        Calendar.workweek("UTC", ["09:00-12:30", "12:00-18:00"])
    touching = Calendar.workweek("UTC", ["09:00-12:30", "12:30-18:00"])
    assert touching.week_seconds == 5 * 9 * 3600


def test_midnight_end_is_24_00_and_24_00_cannot_start_a_slot():
    evening = Calendar("UTC", {"mon": ["18:00-24:00"]})
    assert evening.weekly[0][0].ends_at_midnight and evening.week_seconds == 6 * 3600
    assert Calendar("UTC", {0: [(time(18), time(0))]}) == evening
    with pytest.raises(ValueError):
        Calendar("UTC", {"mon": ["24:00-24:00"]})


@pytest.mark.parametrize("kwargs", [
    {"timezone": "Mars/Olympus", "weekly": {0: ["09:00-17:00"]}},
    {"timezone": "UTC", "weekly": {}},
    {"timezone": "UTC", "weekly": {7: ["09:00-17:00"]}},
    {"timezone": "UTC", "weekly": {"funday": ["09:00-17:00"]}},
    {"timezone": "UTC", "weekly": {0: ["9am-5pm"]}},
    {"timezone": "UTC", "always_open": True, "weekly": {0: ["09:00-17:00"]}},
    {"timezone": "UTC", "always_open": True, "holidays": frozenset({date(2026, 12, 25)})},
    {"timezone": "UTC", "weekly": {0: ["09:00-17:00"]}, "version": 0},
])
def test_invalid_calendars_are_refused(kwargs):
    with pytest.raises(ValueError):
        Calendar(**kwargs)


def test_calendars_are_hashable_values():
    a = Calendar.workweek("Europe/Berlin", ["09:00-17:00"], holidays=[date(2026, 12, 25)])
    b = Calendar("Europe/Berlin", {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                 holidays=frozenset({date(2026, 12, 25)}))
    assert a == b and hash(a) == hash(b)


@pytest.mark.parametrize("call", [
    lambda c: add_business_minutes(c, datetime(2026, 6, 1, 9), 10),
    lambda c: business_minutes_between(c, datetime(2026, 6, 1, 9), datetime(2026, 6, 2, 9, tzinfo=UTC)),
    lambda c: business_minutes_between(c, datetime(2026, 6, 1, 9, tzinfo=UTC), datetime(2026, 6, 2, 9)),
    lambda c: is_business_time(c, datetime(2026, 6, 1, 9)),
])
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="aware"):
        call(Calendar.workweek("UTC", ["09:00-17:00"]))


def test_negative_minutes_are_refused_and_zero_is_the_start():
    cal = Calendar.workweek("UTC", ["09:00-17:00"])
    start = datetime(2026, 6, 6, 20, tzinfo=UTC)  # a Saturday evening: closed
    with pytest.raises(ValueError):
        add_business_minutes(cal, start, -1)
    assert add_business_minutes(cal, start, 0) == start


def test_measuring_backwards_is_zero():
    cal = Calendar.workweek("UTC", ["09:00-17:00"])
    a = datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert business_minutes_between(cal, a, a) == 0
    assert business_minutes_between(cal, a, a - timedelta(hours=3)) == 0


def test_results_are_utc_whatever_the_input_zone():
    cal = Calendar.workweek("Europe/Berlin", ["09:00-17:00"])
    start = datetime(2026, 6, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    deadline = add_business_minutes(cal, start, 30)
    assert deadline.tzinfo == UTC and deadline == datetime(2026, 6, 1, 7, 30, tzinfo=UTC)


def test_long_additions_skip_whole_weeks_quickly():
    import time as clock
    cal = Calendar.workweek("Europe/Berlin", ["09:00-12:30", "13:30-18:00"])
    started = clock.perf_counter()
    deadline = add_business_minutes(cal, datetime(2026, 1, 5, 8, tzinfo=UTC), 2_000_000)
    assert clock.perf_counter() - started < 2
    assert business_minutes_between(cal, datetime(2026, 1, 5, 8, tzinfo=UTC), deadline) == 2_000_000


def test_open_intervals_lists_the_clipped_slots():
    cal = Calendar.workweek("UTC", ["09:00-12:30", "13:30-18:00"])
    got = list(open_intervals(cal, datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 14, tzinfo=UTC)))
    assert got == [(datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 12, 30, tzinfo=UTC)),
                   (datetime(2026, 6, 1, 13, 30, tzinfo=UTC), datetime(2026, 6, 1, 14, tzinfo=UTC))]


# --- iCalendar holidays ------------------------------------------------------------------------

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//holidays//EN\r\n"
    "BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\n"
    "SUMMARY:Christmas Day and the day\r\n  after, a folded summary\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:2\r\nDTST\r\n ART;VALUE=DATE:20260101\r\nEND:VEVENT\r\n"          # folded name, lone all-day DTSTART
    "BEGIN:VEVENT\r\nUID:3\r\nDTSTART;VALUE=DATE:20260525\r\nDURATION:P2D\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:4\r\nDTSTART;TZID=\"Europe/Berlin: HQ\":20261003T000000\r\n"
    "DTEND;TZID=\"Europe/Berlin: HQ\":20261004T000000\r\nEND:VEVENT\r\n"                  # quoted ':' in a parameter
    "BEGIN:VEVENT\r\nUID:5\r\nDTSTART;VALUE=DATE:20260501\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_ics_holidays_cover_every_day_of_each_event():
    assert parse_ics_holidays(ICS) == {
        date(2026, 12, 25), date(2026, 12, 26),   # DTEND is exclusive
        date(2026, 1, 1),                         # lone DTSTART: one day
        date(2026, 5, 25), date(2026, 5, 26),     # DURATION:P2D
        date(2026, 10, 3),                        # date-time event ending at midnight
    }


def test_ics_parsing_accepts_bare_lf_and_tab_folding():
    text = "BEGIN:VEVENT\nDTSTART;VALUE=DATE:2026\n\t1224\nDTEND;VALUE=DATE:20261225\nEND:VEVENT\n"
    assert parse_ics_holidays(text) == {date(2026, 12, 24)}


def test_ics_recurring_events_are_refused_not_truncated_to_one_year():
    text = "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=YEARLY\nEND:VEVENT\n"
    with pytest.raises(ValueError, match="RRULE"):
        parse_ics_holidays(text)


@pytest.mark.parametrize("text", [
    "BEGIN:VEVENT\nDTSTART;VALUE=DATE:20261225\n",                  # unterminated
    "BEGIN:VEVENT\nSUMMARY:no date\nEND:VEVENT\n",
    "BEGIN:VEVENT\nDTSTART;VALUE=DATE:2026-12-25\nEND:VEVENT\n",
    "BEGIN:VEVENT\nthis line has no colon\nEND:VEVENT\n",
])
def test_malformed_ics_is_refused(text):
    with pytest.raises(ValueError):
        parse_ics_holidays(text)


def test_ics_holidays_feed_a_calendar():
    cal = Calendar.workweek("Europe/Berlin", ["09:00-17:00"], holidays=parse_ics_holidays(ICS))
    opens, closes = local_day_bounds(cal, date(2026, 12, 25))
    assert business_minutes_between(cal, opens, closes) == 0


# --- properties ------------------------------------------------------------------------------------

@BOUNDED
@given(calendars(), instants, minutes)
def test_adding_then_measuring_round_trips(cal, start, m):
    # holds from inside or outside business time: measurement skips closed time as addition does
    deadline = add_business_minutes(cal, start, m)
    assert deadline >= start
    assert business_minutes_between(cal, start, deadline) == m


@BOUNDED
@given(calendars(), instants, minutes)
def test_the_deadline_is_the_earliest_such_instant(cal, start, m):
    deadline = add_business_minutes(cal, start, m)
    just_before = deadline - timedelta(microseconds=1)
    assert business_time_between(cal, start, just_before) < timedelta(minutes=m)
    assert is_business_time(cal, just_before)


@BOUNDED
@given(calendars(), instants, minutes, minutes)
def test_more_minutes_never_give_an_earlier_deadline(cal, start, m1, m2):
    small, large = sorted((m1, m2))
    assert add_business_minutes(cal, start, small) <= add_business_minutes(cal, start, large)


@BOUNDED
@given(calendars(), instants, st.integers(1, 5000), st.integers(1, 5000))
def test_adding_in_two_steps_equals_adding_once(cal, start, m1, m2):
    halfway = add_business_minutes(cal, start, m1)
    assert add_business_minutes(cal, halfway, m2) == add_business_minutes(cal, start, m1 + m2)


@BOUNDED
@given(calendars(), instants, st.integers(0, 60 * 24 * 60), st.integers(0, 60 * 24 * 60))
def test_measuring_is_additive_and_week_skipping_matches_day_by_day(cal, a, span1, span2):
    b = a + timedelta(minutes=span1)
    c = b + timedelta(minutes=span2)
    whole = business_time_between(cal, a, c)
    assert whole == business_time_between(cal, a, b) + business_time_between(cal, b, c)
    # chunks of two days never take the whole-week shortcut, so this checks it independently
    chunked, cursor = timedelta(0), a
    while cursor < c:
        nxt = min(cursor + timedelta(days=2), c)
        chunked += business_time_between(cal, cursor, nxt)
        cursor = nxt
    assert whole == chunked
    assert whole == sum((hi - lo for lo, hi in open_intervals(cal, a, c)), timedelta(0))


@BOUNDED
@given(calendars(), st.data())
def test_holidays_contain_no_business_time(cal, data):
    assume(cal.holidays)
    holiday = data.draw(st.sampled_from(sorted(cal.holidays)))
    opens, closes = local_day_bounds(cal, holiday)
    assert business_minutes_between(cal, opens, closes) == 0
    inside = opens + (closes - opens) * data.draw(st.floats(0, 0.999))
    assert not is_business_time(cal, inside)
    deadline = add_business_minutes(cal, opens, data.draw(minutes))
    assert deadline >= closes  # nothing counts until the holiday is over


@BOUNDED
@given(instants, st.integers(0, 100_000), st.integers(-100_000, 100_000))
def test_always_open_is_plain_timedelta_arithmetic(start, m, span):
    cal = Calendar.always()
    assert add_business_minutes(cal, start, m) == start + timedelta(minutes=m)
    end = start + timedelta(minutes=span)
    assert business_minutes_between(cal, start, end) == max(span, 0)
    assert is_business_time(cal, start)


@BOUNDED
@given(st.sampled_from(ZONES), instants, st.integers(0, 20 * 1440))
def test_full_day_slots_count_real_elapsed_time_through_dst(zone, start, span):
    # 00:00-24:00 every day: a 23-hour or 25-hour DST day counts 23 or 25 hours, like 24/7
    cal = Calendar(zone, {d: ["00:00-24:00"] for d in range(7)})
    end = start + timedelta(minutes=span)
    assert business_minutes_between(cal, start, end) == span
    assert add_business_minutes(cal, start, span) == end


@BOUNDED
@given(calendars(holidays=False), instants)
def test_open_intervals_never_overlap_and_stay_in_order(cal, start):
    intervals = list(open_intervals(cal, start, start + timedelta(days=10)))
    for lo, hi in intervals:
        assert lo < hi
    for (_, first_end), (second_start, _) in zip(intervals, intervals[1:]):
        assert first_end <= second_start


def test_a_slot_ending_in_the_skipped_hour_does_not_overlap_the_next_one():
    # Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST. 02:30 never shows on the clock, so the
    # first slot ends at the jump (01:00 UTC) -- reading 02:30 as CET (01:30 UTC) would overlap
    # the slot that opens at 03:00 CEST (01:00 UTC).
    cal = Calendar("Europe/Berlin", {"sun": ["01:00-02:30", "03:00-04:00"]})
    day_start, day_end = local_day_bounds(cal, date(2026, 3, 29))
    assert list(open_intervals(cal, day_start, day_end)) == [
        (datetime(2026, 3, 29, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, tzinfo=UTC)),
        (datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 3, 29, 2, tzinfo=UTC)),
    ]
    assert business_minutes_between(cal, day_start, day_end) == 120
