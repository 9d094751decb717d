"""Periods in the tenant's calendar, ticket volume's and onboarding velocity's rules (pure)."""
from datetime import date, datetime, timezone

import pytest

from reports import periods
from reports.onboarding_report import Plan, StepTask, completion, days_to_first_value, report, step_delays
from reports.volume_report import assemble, move_of


def test_weeks_months_and_quarters_of_the_tenant_and_the_period_before():
    wednesday = date(2026, 3, 4)
    assert periods.period_of(wednesday, "week", "sunday") == (date(2026, 3, 1), date(2026, 3, 7))
    assert periods.period_of(wednesday, "week", "saturday") == (date(2026, 2, 28), date(2026, 3, 6))
    assert periods.period_of(wednesday, "month") == (date(2026, 3, 1), date(2026, 3, 31))
    assert periods.period_of(date(2026, 12, 31), "quarter") == (date(2026, 10, 1), date(2026, 12, 31))
    assert periods.previous(date(2026, 1, 1), date(2026, 3, 31), "quarter") == (date(2025, 10, 1), date(2025, 12, 31))
    assert periods.previous(date(2026, 3, 1), date(2026, 3, 31), "month") == (date(2026, 2, 1), date(2026, 2, 28))
    assert periods.previous(date(2026, 3, 4), date(2026, 3, 6), None) == (date(2026, 3, 1), date(2026, 3, 3))
    assert [p[0] for p in periods.back(wednesday, "month", 3)] == [date(2026, 3, 1), date(2026, 2, 1), date(2026, 1, 1)]
    with pytest.raises(ValueError):
        periods.period_of(wednesday, "fortnight")


def test_a_periods_instants_are_its_local_days_across_a_dst_change():
    start, end = periods.instants(date(2026, 3, 8), date(2026, 3, 8), "America/New_York")  # spring forward
    assert start == datetime(2026, 3, 8, 5, tzinfo=timezone.utc) and end == datetime(2026, 3, 9, 4, tzinfo=timezone.utc)


def test_moves_change_the_backlog_only_across_open_and_done():
    assert move_of("new", "resolved") == ("done", -1) and move_of("open", "closed") == ("done", -1)
    assert move_of("resolved", "open") == ("reopened", 1)
    assert move_of("resolved", "closed") is None and move_of("new", "in_progress") is None


def test_volume_periods_carry_the_backlog_forward_from_before_the_window():
    spans = [(date(2026, 3, 8), date(2026, 3, 14)), (date(2026, 3, 1), date(2026, 3, 7))]  # newest first
    counts = {(date(2026, 3, 1), "billing"): {"created": 3, "resolved": 1},
              (date(2026, 3, 8), "billing"): {"reopened": 1}, (date(2026, 3, 8), None): {"created": 1}}
    deltas = {(date(2026, 3, 1), "billing"): 2, (date(2026, 3, 8), "billing"): 1, (date(2026, 3, 8), None): 1}
    items = assemble(spans, counts, deltas, {"billing": 4, "general": 0})
    assert [i["period_start"] for i in items] == ["2026-03-08", "2026-03-01"]
    older, newer = items[1], items[0]
    assert older["groups"] == [{"key": "billing", "name": None, "created": 3, "resolved": 1, "reopened": 0,
                                "backlog": 6}]  # general: nothing at all, left out
    assert [(g["key"], g["backlog"], g["reopened"]) for g in newer["groups"]] == [("billing", 7, 1), (None, 1, 0)]
    assert newer["totals"] == {"created": 1, "resolved": 0, "reopened": 1, "backlog": 8}


Q1, Q2 = (date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 6, 30))


def _plan(tier="smb", start=date(2026, 1, 5), target=date(2026, 2, 5), fv=None, tasks=3, done=3,
          last=date(2026, 2, 1)):
    return Plan(tier, start, target, fv, tasks, done, last)


def test_days_to_first_value_and_completion_within_target():
    plans = [_plan(fv=date(2026, 1, 15)), _plan(fv=date(2026, 1, 25)), _plan(fv=date(2026, 2, 4)),
             _plan(fv=date(2026, 4, 2))]  # the last reached first value next quarter
    assert days_to_first_value(plans, *Q1) == {"plans": 3, "average_days": 20.0, "median_days": 20.0}
    due = [_plan(), _plan(last=date(2026, 2, 6)), _plan(done=2, last=None), _plan(target=date(2026, 3, 30), done=1)]
    # the last is not due yet (as of 2026-03-20) and not complete: not counted
    assert completion(due, *Q1, as_of=date(2026, 3, 20)) == {"plans_due": 3, "completed_within_target": 1,
                                                             "completion_rate_pct": 33.3}
    assert completion([], *Q1, as_of=date(2026, 3, 20))["completion_rate_pct"] is None


def test_the_slowest_step_is_the_largest_average_delay_past_its_planned_date():
    tasks = [StepTask("kickoff", date(2026, 1, 5), date(2026, 1, 5)),
             StepTask("setup", date(2026, 1, 10), date(2026, 1, 14)),  # 4 days late
             StepTask("setup", date(2026, 1, 10), date(2026, 1, 8)),  # early: 0
             StepTask("training", date(2026, 3, 10), None),  # open, as of 3-15: 5 days late
             StepTask("golive", date(2026, 3, 20), None)]  # not due yet
    steps = step_delays(tasks, *Q1, as_of=date(2026, 3, 15))
    assert steps == [{"step_key": "training", "tasks": 1, "average_delay_days": 5.0},
                     {"step_key": "setup", "tasks": 2, "average_delay_days": 2.0},
                     {"step_key": "kickoff", "tasks": 1, "average_delay_days": 0.0}]


def test_this_quarter_vs_the_last_by_tier():
    plans = [_plan(fv=date(2026, 1, 15)), _plan("enterprise", start=date(2026, 4, 1), fv=date(2026, 4, 11),
                                               target=date(2026, 5, 1), last=date(2026, 4, 30))]
    out = report(plans, [StepTask("setup", date(2026, 4, 3), date(2026, 4, 6))], Q2, Q1, today=date(2026, 5, 10))
    assert (out["average_days"], out["previous"]["average_days"], out["delta"]["average_days"]) == (10.0, 10.0, 0.0)
    assert out["as_of"] == "2026-05-10" and out["completion_rate_pct"] == 100.0
    assert out["previous"]["completion_rate_pct"] == 100.0
    assert out["slowest_step"] == {"step_key": "setup", "tasks": 1, "average_delay_days": 3.0}
    assert [t["tier"] for t in out["by_tier"]] == ["enterprise"]
