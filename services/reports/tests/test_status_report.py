"""The status report's rules (pure): tenant weeks, Δ, status and the customer roll-up."""
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from reports.status_report import (AHEAD, AT_RISK, DELAYED, ON_TRACK, StatusRules, as_of_day, customer_roll_up,
                                   delta, row, status_of, week_of, week_start_of)

WEDNESDAY = date(2026, 3, 4)


def test_week_starts_on_the_tenants_first_day():
    assert week_start_of(WEDNESDAY, "monday") == date(2026, 3, 2)
    assert week_start_of(WEDNESDAY, "sunday") == date(2026, 3, 1)
    assert week_start_of(WEDNESDAY, "saturday") == date(2026, 2, 28)
    assert week_start_of(date(2026, 3, 1), "sunday") == date(2026, 3, 1)  # a Sunday opens its week
    assert week_start_of(date(2026, 3, 1), "monday") == date(2026, 2, 23)
    with pytest.raises(ValueError):
        week_start_of(WEDNESDAY, "friday")


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)),
       st.sampled_from(["monday", "sunday", "saturday"]))
def test_every_day_is_in_the_seven_days_from_its_week_start(day, first):
    start = week_start_of(day, first)
    assert 0 <= (day - start).days < 7
    assert week_start_of(start, first) == start


def test_an_instant_falls_in_the_week_of_its_day_in_the_tenant_zone():
    saturday_late_utc = datetime(2026, 3, 7, 23, 30, tzinfo=timezone.utc)  # Sunday 00:30 in Berlin
    assert week_of(saturday_late_utc, "UTC", "sunday") == date(2026, 3, 1)
    assert week_of(saturday_late_utc, "Europe/Berlin", "sunday") == date(2026, 3, 8)
    with pytest.raises(ValueError):
        week_of(datetime(2026, 3, 7), "UTC")


def test_delta_and_percent():
    assert delta(7, 10) == (-3, -30.0)
    assert delta(13, 10) == (3, 30.0)
    assert delta(5, 0) == (5, None)
    assert delta(0, 3) == (-3, -100.0)


@pytest.mark.parametrize("this_week,last_week,expected", [
    (7, 10, DELAYED),     # −30 % exactly, with 10 last week
    (8, 10, ON_TRACK),    # −20 %
    (0, 3, DELAYED),      # the smallest baseline that can be Delayed
    (0, 2, ON_TRACK),     # −100 % but under 3 items last week
    (13, 10, AHEAD),      # +30 % exactly
    (4, 3, AHEAD),        # +33 %
    (12, 10, ON_TRACK),
    (5, 0, ON_TRACK),     # no baseline: no percent
    (0, 0, ON_TRACK),
])
def test_default_rules(this_week, last_week, expected):
    assert status_of(this_week, last_week) == expected


def test_overdue_tasks_and_missed_milestones_set_at_risk_first():
    assert status_of(20, 10, overdue_tasks=1) == AT_RISK
    assert status_of(2, 10, missed_milestones=1) == AT_RISK
    off = StatusRules(at_risk_overdue_tasks=0, at_risk_missed_milestones=3)
    assert status_of(20, 10, overdue_tasks=9, missed_milestones=2, rules=off) == AHEAD
    assert status_of(20, 10, missed_milestones=3, rules=off) == AT_RISK


def test_tenant_rules_change_the_thresholds():
    strict = StatusRules(delayed_pct=10, ahead_pct=50, min_last_week=1)
    assert status_of(9, 10, rules=strict) == DELAYED
    assert status_of(0, 1, rules=strict) == DELAYED
    assert status_of(14, 10, rules=strict) == ON_TRACK
    assert status_of(15, 10, rules=strict) == AHEAD
    with pytest.raises(ValueError):
        StatusRules(delayed_pct=0)
    with pytest.raises(ValueError):
        StatusRules(surprise=1)


@given(st.integers(0, 500), st.integers(0, 500))
def test_delayed_needs_a_drop_and_a_baseline_and_ahead_a_rise(this_week, last_week):
    status = status_of(this_week, last_week)
    if status == DELAYED:
        assert last_week >= 3 and this_week <= 0.7 * last_week
    if status == AHEAD:
        assert last_week > 0 and this_week >= 1.3 * last_week
    assert status != AT_RISK


def test_as_of_is_the_day_after_the_week_or_today():
    monday = date(2026, 3, 2)
    assert as_of_day(monday, date(2026, 3, 4)) == date(2026, 3, 4)
    assert as_of_day(monday, date(2026, 5, 1)) == date(2026, 3, 9)


def test_the_customer_roll_up_sums_rows_and_rates_the_sums():
    rules = StatusRules()
    rows = [row({"customer_id": "a", "project_name": "P1"}, 2, 5, 0, 0, rules),
            row({"customer_id": "a", "project_name": "P2"}, 4, 5, 0, 0, rules),
            row({"customer_id": "b", "project_name": "Q"}, 4, 0, 1, 0, rules)]
    assert [r["status"] for r in rows] == [DELAYED, ON_TRACK, AT_RISK]
    a, b = customer_roll_up(rows, rules)
    assert (a["customer_id"], a["this_week"], a["last_week"], a["delta"], a["delta_pct"], a["status"]) == (
        "a", 6, 10, -4, -40.0, DELAYED)
    assert (b["this_week"], b["overdue_tasks"], b["status"]) == (4, 1, AT_RISK)


def test_weeks_a_year_apart_keep_their_weekday():
    start = week_start_of(date(2026, 12, 31), "sunday")
    assert start.isoweekday() == 7 and start + timedelta(days=7) == week_start_of(date(2027, 1, 7), "sunday")
