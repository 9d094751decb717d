"""The follow-up rules (timeline.followups), pure: presets, grouping, the calendar copy, analytics."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeline import followups as rules
from timeline.followups import BusinessDays, PostponeRefused

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- presets ---

def test_day_presets_count_from_the_assignees_today_and_keep_the_due_time_of_day():
    now = at("2026-12-01T10:00:00+00:00")  # Tuesday, 11:00 in Berlin
    due = at("2026-11-20T15:30:00+01:00")  # 11 days overdue, 15:30 Berlin
    cal = BusinessDays("Europe/Berlin")
    assert rules.postponed_due("tomorrow", due, now, BERLIN, cal) == at("2026-12-02T15:30:00+01:00")
    assert rules.postponed_due("3_days", due, now, BERLIN, cal) == at("2026-12-04T15:30:00+01:00")
    assert rules.postponed_due("1_week", due, now, BERLIN, cal) == at("2026-12-08T15:30:00+01:00")
    assert rules.postponed_due("2_weeks", due, now, BERLIN, cal) == at("2026-12-15T15:30:00+01:00")


def test_today_is_the_members_today_not_utcs():
    # 23:30 UTC on Dec 1 is already Dec 2 in Tokyo: "tomorrow" there is Dec 3
    now = at("2026-12-01T23:30:00+00:00")
    due = at("2026-12-02T09:00:00+09:00")
    assert rules.postponed_due("tomorrow", due, now, TOKYO, BusinessDays("UTC")) == at("2026-12-03T09:00:00+09:00")


def test_a_week_across_the_dst_change_keeps_the_local_time_not_the_utc_offset():
    now = at("2026-10-22T08:00:00+00:00")
    due = at("2026-10-22T09:00:00+02:00")  # CEST
    moved = rules.postponed_due("1_week", due, now, BERLIN, BusinessDays("Europe/Berlin"))
    assert moved == at("2026-10-29T09:00:00+01:00")  # CET: still 09:00 on the wall clock
    assert moved - due == timedelta(days=7, hours=1)


def test_a_time_skipped_by_the_spring_jump_lands_just_after_it():
    now = at("2026-03-28T12:00:00+00:00")
    due = at("2026-03-28T02:30:00+01:00")
    moved = rules.postponed_due("tomorrow", due, now, BERLIN, BusinessDays("Europe/Berlin"))
    assert moved == at("2026-03-29T03:30:00+02:00")


def test_next_business_day_skips_weekends_and_holidays_in_the_calendars_zone():
    friday = at("2026-12-04T10:00:00+00:00")
    due = at("2026-12-04T09:00:00+01:00")
    cal = BusinessDays("Europe/Berlin", holidays=frozenset({date(2026, 12, 7)}))
    assert rules.postponed_due("next_business_day", due, friday, BERLIN, cal) == at("2026-12-08T09:00:00+01:00")
    weekend_workers = BusinessDays("Europe/Berlin", workdays=frozenset({5, 6}))
    assert rules.postponed_due("next_business_day", due, friday, BERLIN, weekend_workers) == at(
        "2026-12-05T09:00:00+01:00")
    always = BusinessDays("Europe/Berlin", workdays=frozenset(), always_open=True)
    assert rules.postponed_due("next_business_day", due, friday, BERLIN, always) == at("2026-12-05T09:00:00+01:00")


def test_a_postponement_must_move_the_promise_later():
    now = at("2026-12-01T10:00:00+00:00")
    far = at("2026-12-20T10:00:00+00:00")
    with pytest.raises(PostponeRefused, match="after the current due"):
        rules.postponed_due("tomorrow", far, now, ZoneInfo("UTC"), BusinessDays("UTC"))
    with pytest.raises(PostponeRefused, match="future"):
        rules.check_postponement(now - timedelta(minutes=1), now - timedelta(hours=1), now)
    assert rules.check_postponement(far + timedelta(days=1), far, now) == far + timedelta(days=1)


def test_a_calendar_with_no_working_day_ahead_is_refused_not_looped_forever():
    cal = BusinessDays("UTC", workdays=frozenset())
    with pytest.raises(PostponeRefused, match="no working day"):
        cal.next_business_day(date(2026, 12, 1))


@settings(max_examples=200, deadline=None)
@given(now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
       lag=st.integers(min_value=-30 * 24 * 3600, max_value=24 * 3600 - 1),
       preset=st.sampled_from(["tomorrow", "3_days", "1_week", "2_weeks", "next_business_day"]),
       tz=st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", "UTC"]),
       holidays=st.sets(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 2, 1)), max_size=30))
def test_every_preset_lands_in_the_future_on_the_days_it_names(now, lag, preset, tz, holidays):
    zone = ZoneInfo(tz)
    due = now + timedelta(seconds=lag)  # overdue, or due later today
    cal = BusinessDays(tz, holidays=frozenset(holidays))
    try:
        moved = rules.postponed_due(preset, due, now, zone, cal)
    except PostponeRefused:
        assert due >= now  # only a promise due later than where the preset lands is refused
        return
    assert moved > now and moved > due
    local_day = moved.astimezone(zone).date()
    today = now.astimezone(zone).date()
    if preset == "next_business_day":
        assert cal.is_business_day(local_day)
        assert all(not cal.is_business_day(today + timedelta(days=d)) for d in range(1, (local_day - today).days))
    else:
        # the day named, or the next one when the wall time does not exist that day (never earlier)
        assert (local_day - today).days in (rules.PRESET_DAYS[preset], rules.PRESET_DAYS[preset] + 1)


# --- the calendar copy ---

def test_the_calendar_copy_defaults_to_the_workweek_in_the_tenants_zone():
    default = BusinessDays.from_copy({}, "Europe/Berlin")
    assert default == BusinessDays("Europe/Berlin", frozenset(range(5)), frozenset(), False)
    told = BusinessDays.from_copy({"weekly_slots": {"0": [["09:00", "17:00"]], "6": [["10:00", "12:00"]], "3": []},
                                   "holidays": ["2026-12-25"], "timezone": "Asia/Tokyo"}, "Europe/Berlin")
    assert told.workdays == {0, 6} and told.holidays == {date(2026, 12, 25)} and told.timezone == "Asia/Tokyo"
    assert BusinessDays.from_copy({}, None).timezone == "UTC"


def test_an_unknown_zone_falls_back():
    assert rules.zone("Mars/Olympus", "Europe/Berlin").key == "Europe/Berlin"
    assert rules.zone(None, None).key == "UTC"


# --- grouping ---

def test_groups_in_the_members_timezone():
    now = at("2026-12-01T22:30:00+00:00")  # Dec 1 in UTC, Dec 2 07:30 in Tokyo
    rows = [
        {"id": "a", "due_at": now - timedelta(hours=2), "overdue_at": now - timedelta(hours=1)},  # overdue
        {"id": "b", "due_at": now - timedelta(minutes=10), "overdue_at": now + timedelta(minutes=50)},  # in grace
        {"id": "c", "due_at": at("2026-12-02T20:00:00+09:00"), "overdue_at": at("2026-12-02T21:00:00+09:00")},
        {"id": "d", "due_at": at("2026-12-03T08:00:00+09:00"), "overdue_at": at("2026-12-03T09:00:00+09:00")},
    ]
    tokyo = rules.grouped(rows, now, TOKYO)
    assert [[f["id"] for f in tokyo[g]] for g in rules.GROUPS] == [["a"], ["b", "c"], ["d"]]
    # in UTC it is still Dec 1: c (Dec 2 11:00 UTC) is upcoming
    utc = rules.grouped(rows, now, ZoneInfo("UTC"))
    assert [[f["id"] for f in utc[g]] for g in rules.GROUPS] == [["a"], ["b"], ["c", "d"]]


def test_the_group_changes_exactly_at_due_and_overdue():
    due = at("2026-12-03T10:00:00+00:00")
    late = rules.overdue_at(due, 30)
    z = ZoneInfo("UTC")
    assert rules.group_of(due, late, due - timedelta(days=1), z) == "upcoming"
    assert rules.group_of(due, late, due - timedelta(microseconds=1), z) == "due_today"
    assert rules.group_of(due, late, due, z) == "due_today"
    assert rules.group_of(due, late, late - timedelta(microseconds=1), z) == "due_today"
    assert rules.group_of(due, late, late, z) == "overdue"


# --- analytics ---

def _row(member, customer, status, due, grace=60, completed=None, postponements=0):
    return {"assignee_id": member, "customer_id": customer, "status": status, "due_at": due,
            "overdue_at": rules.overdue_at(due, grace), "completed_at": completed, "postponements": postponements}


def test_analytics_by_member_and_customer():
    now = at("2026-12-10T12:00:00+00:00")
    d = at("2026-12-05T10:00:00+00:00")
    rows = [
        _row("m1", "c1", "completed", d, completed=d + timedelta(minutes=30), postponements=1),  # on time
        _row("m1", "c1", "completed", d, completed=d + timedelta(hours=2)),  # late
        _row("m1", "c2", "open", d, postponements=2),  # open, overdue
        _row("m2", "c2", "open", now + timedelta(days=1), postponements=0),  # open, not overdue
        _row("m2", "c2", "cancelled", d, postponements=5),  # counts nowhere
    ]
    out = rules.analytics(rows, now)
    assert out["overall"] == {"total": 4, "completed": 2, "on_time": 1, "open": 2, "overdue_count": 2,
                              "postponements": 3, "completion_rate": 0.5, "on_time_rate": 0.5,
                              "average_postponements": 0.75}
    m1, m2 = out["by_member"]
    assert (m1["member_id"], m1["completion_rate"], m1["on_time_rate"], m1["overdue_count"]) == ("m1", 0.6667, 0.5, 2)
    assert (m2["member_id"], m2["completion_rate"], m2["on_time_rate"], m2["average_postponements"]) == (
        "m2", 0.0, None, 0.0)
    c1, c2 = out["by_customer"]
    assert (c1["customer_id"], c1["total"], c1["on_time_rate"]) == ("c1", 2, 0.5)
    assert (c2["customer_id"], c2["total"], c2["overdue_count"], c2["completion_rate"]) == ("c2", 2, 1, 0.0)


def test_analytics_of_nothing_has_no_rates():
    out = rules.analytics([], datetime.now(UTC))
    assert out["overall"]["completion_rate"] is None and out["by_member"] == [] and out["by_customer"] == []


def test_completed_exactly_at_overdue_is_late():
    d = at("2026-12-05T10:00:00+00:00")
    out = rules.analytics([_row("m", "c", "completed", d, grace=0, completed=d)], d)
    assert out["overall"]["on_time"] == 0 and out["overall"]["overdue_count"] == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), st.sampled_from(["c1", "c2"]),
                          st.sampled_from(["open", "completed", "cancelled"]), st.integers(-100, 100),
                          st.integers(0, 5)), max_size=40))
def test_the_breakdowns_add_up_to_the_whole(specs):
    now = at("2026-12-10T12:00:00+00:00")
    rows = [_row(m, c, s, now + timedelta(hours=h), completed=now if s == "completed" else None, postponements=p)
            for m, c, s, h, p in specs]
    out = rules.analytics(rows, now)
    for part in ("by_member", "by_customer"):
        for key in ("total", "completed", "on_time", "open", "overdue_count", "postponements"):
            assert sum(x[key] for x in out[part]) == out["overall"][key]
    o = out["overall"]
    assert o["on_time"] <= o["completed"] <= o["total"] and o["overdue_count"] <= o["total"]
