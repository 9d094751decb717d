"""Business-hours calendars and business-time arithmetic (pure): validation, input bounds, the
horizon, property tests over random calendars in timezones with DST (incl. Lord Howe's 30-minute
shift), and the fast arithmetic against the day-by-day walk it replaced (kept here as the reference)."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tickets import business_hours
from tickets.business_hours import (
    HORIZON,
    BeyondHorizon,
    Calendar,
    add_business_minutes,
    business_minutes_between,
    business_time_between,
    check_bounds,
    is_business_time,
    local_day_bounds,
    open_intervals,
)

UTC = timezone.utc
BOUNDED = settings(max_examples=100, deadline=None)
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


def test_open_intervals_lists_the_clipped_slots():
    cal = Calendar.workweek("UTC", ["09:00-12:30", "13:30-18:00"])
    got = list(open_intervals(cal, datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 14, tzinfo=UTC)))
    assert got == [(datetime(2026, 6, 1, 10, tzinfo=UTC), datetime(2026, 6, 1, 12, 30, tzinfo=UTC)),
                   (datetime(2026, 6, 1, 13, 30, tzinfo=UTC), datetime(2026, 6, 1, 14, tzinfo=UTC))]


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


# --- the fast arithmetic against the day-by-day walk ------------------------------------------------

def walk_add(cal: Calendar, start: datetime, minutes: int) -> datetime:
    """The reference: add business time by walking every local day's slots (what the service did
    before it skipped runs of days arithmetically)."""
    start = start.astimezone(UTC)
    remaining = timedelta(minutes=minutes)
    if cal.always_open or not remaining:
        return start + remaining
    day = start.astimezone(cal.zone).date()
    while True:
        for opens, closes in business_hours._day_intervals(cal, day):
            opens = max(opens, start)
            if closes <= opens:
                continue
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens
        day += timedelta(days=1)


def walk_between(cal: Calendar, a: datetime, b: datetime) -> timedelta:
    """The reference measurement: every day's slots clipped to [a, b)."""
    if b <= a:
        return timedelta(0)
    if cal.always_open:
        return b - a
    total, day, last = timedelta(0), a.astimezone(cal.zone).date(), b.astimezone(cal.zone).date()
    while day <= last:
        for opens, closes in business_hours._day_intervals(cal, day):
            opens, closes = max(opens, a), min(closes, b)
            if closes > opens:
                total += closes - opens
        day += timedelta(days=1)
    return total


@st.composite
def sla_calendars(draw):
    """Calendars in zones with DST, split slots and holidays spread over years (so the fast path
    jumps over runs that contain them), at least 15 minutes a week."""
    zone = draw(st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]))
    weekly = {day: draw(day_slots()) for day in range(7)}
    cal_days = draw(st.frozensets(st.dates(date(2025, 6, 1), date(2040, 12, 31)), max_size=60))
    weekly_slots = {d: s for d, s in weekly.items() if s}
    assume(weekly_slots)
    # a holiday on every day of some week, and week-long shutdowns across DST switches
    if draw(st.booleans()):
        first = draw(st.sampled_from([date(2026, 3, 23), date(2026, 10, 19), date(2027, 12, 20)]))
        cal_days |= {first + timedelta(days=i) for i in range(draw(st.integers(1, 16)))}
    return Calendar(zone, weekly_slots, holidays=cal_days)


def _walkable_minutes(cal: Calendar, draw) -> int:
    # the reference walks every day: keep it to ~15 years of this calendar's time
    return draw(st.integers(1, max(1, cal.week_seconds // 60 * 52 * 15)))


@settings(max_examples=150, deadline=None)
@given(sla_calendars(), instants, st.data())
def test_adding_equals_the_day_by_day_walk(cal, start, data):
    m = _walkable_minutes(cal, data.draw)
    assert add_business_minutes(cal, start, m) == walk_add(cal, start, m)


@settings(max_examples=150, deadline=None)
@given(sla_calendars(), instants, st.integers(0, 15 * 366 * 1440))
def test_measuring_equals_the_day_by_day_walk(cal, a, span):
    b = a + timedelta(minutes=span)
    assert business_time_between(cal, a, b) == walk_between(cal, a, b)


def test_the_worst_bounded_case_matches_the_walk():
    # one hour a week (the minimum a tenant may store), a year of minutes as target (the largest),
    # in a zone with DST and with holidays: ~170 years of deadline, 340 offset changes crossed
    cal = Calendar("Europe/Berlin", {"sun": ["02:00-03:00"]},  # wholly in the skipped hour each spring
                   holidays=frozenset({date(2026, 12, 27), date(2027, 1, 3), date(2030, 6, 2)}))
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    deadline = add_business_minutes(cal, start, 525_600)
    assert deadline == walk_add(cal, start, 525_600)
    assert deadline.year > 2190
    assert business_time_between(cal, start, deadline) == walk_between(cal, start, deadline) \
        == timedelta(minutes=525_600)


def _days_walked(call) -> int:
    before = business_hours._day_intervals.cache_info()
    call()
    after = business_hours._day_intervals.cache_info()
    return (after.hits + after.misses) - (before.hits + before.misses)


def test_the_cost_grows_with_offset_changes_not_with_weeks_or_holidays():
    # 168 years in Berlin cross 336 offset changes: about one day walked for each, plus the ends
    # (the week-by-week walk looked at ~2,400 days here; the day-by-day one at 61,000)
    cal = Calendar("Europe/Berlin", {"mon": ["09:00-10:00"]})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert _days_walked(lambda: add_business_minutes(cal, start, 525_600)) < 2 * 340
    # a holiday every week for 38 years, no DST: the holidays cost nothing (it walked 7 days each)
    holidays = frozenset(date(2026, 1, 5) + timedelta(weeks=i) for i in range(2_000))
    cal = Calendar("UTC", {"mon": ["09:00-10:00"], "tue": ["09:00-10:00"]}, holidays=holidays)
    assert _days_walked(lambda: add_business_minutes(cal, start, 2_100 * 60)) < 20
    deadline = add_business_minutes(cal, start, 2_100 * 60)
    assert _days_walked(lambda: business_time_between(cal, start, deadline)) < 20
    assert deadline == walk_add(cal, start, 2_100 * 60)


def test_an_answer_beyond_the_horizon_is_a_clear_error_not_an_overflow():
    # one minute a week and a year of minutes: 525,600 weeks, past year 9999 (the input bounds
    # refuse such a calendar; the arithmetic still answers clearly and quickly)
    cal = Calendar("Europe/Berlin", {"mon": ["09:00-09:01"]})
    with pytest.raises(BeyondHorizon, match="horizon"):
        add_business_minutes(cal, datetime(2026, 1, 1, tzinfo=UTC), 525_600)
    with pytest.raises(BeyondHorizon):
        add_business_minutes(Calendar.always(), datetime(9998, 12, 31, tzinfo=UTC), 2 * 1440)
    with pytest.raises(BeyondHorizon):
        add_business_minutes(cal, datetime(2026, 1, 1, tzinfo=UTC), 10 ** 12)
    with pytest.raises(BeyondHorizon):
        business_time_between(cal, datetime(2026, 1, 1, tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    with pytest.raises(BeyondHorizon):
        is_business_time(cal, datetime.min.replace(tzinfo=timezone(timedelta(hours=5))))
    with pytest.raises(BeyondHorizon):
        local_day_bounds(cal, date(9999, 12, 31))
    with pytest.raises(ValueError):
        add_business_minutes(cal, datetime(2026, 1, 1, tzinfo=UTC), float("nan"))
    # just inside the horizon still works
    late = datetime(9998, 12, 1, tzinfo=UTC)
    assert add_business_minutes(cal, late, 1) == walk_add(cal, late, 1)


@pytest.mark.parametrize("key", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Africa/Casablanca",
                                 "Pacific/Apia", "Asia/Kolkata", "UTC", "America/Sao_Paulo", "Europe/Moscow"])
@pytest.mark.parametrize("year", [1970, 1996, 2011, 2026, 2037, 2038, 2087, 2200])
def test_offset_changes_found_from_transitions_are_those_of_probing_every_midnight(key, year):
    zone = ZoneInfo(key)
    day, probed = date(year, 1, 1), []
    while day.year == year:
        before = datetime.combine(day - timedelta(days=1), time(0), tzinfo=zone).utcoffset()
        if datetime.combine(day, time(0), tzinfo=zone).utcoffset() != before:
            probed.append(day)
        day += timedelta(days=1)
    assert list(business_hours._offset_changes(key, year)) == probed


# --- input bounds ------------------------------------------------------------------------------------

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize("cal, message", [
    (Calendar("UTC", {"mon": ["09:00-09:01"]}), "at least 60 minutes a week"),
    (Calendar("UTC", {"mon": [f"{h:02d}:00-{h:02d}:30" for h in range(13)]}), "at most 12 working slots"),
    (Calendar.workweek("UTC", ["09:00-17:00"], holidays=[date(2015, 12, 31)]), "within 2016-01-01..2036-12-31"),
    (Calendar.workweek("UTC", ["09:00-17:00"], holidays=[date(2037, 1, 1)]), "within"),
    (Calendar.workweek("UTC", ["09:00-17:00"], holidays=[date(2026, 1, 1) + timedelta(days=i) for i in range(2001)]),
     "at most 2000 holidays"),
])
def test_calendars_out_of_bounds_are_refused(cal, message):
    with pytest.raises(ValueError, match=message):
        check_bounds(cal, TODAY)


def test_calendars_within_bounds_pass():
    check_bounds(Calendar("UTC", {"sun": ["02:00-03:00"]}), TODAY)
    check_bounds(Calendar.always(), TODAY)
    check_bounds(Calendar.workweek("UTC", ["09:00-17:00"], holidays=[date(2016, 1, 1), date(2036, 12, 31)]), TODAY)
    assert HORIZON.year == 9999
