"""SLA attainment's rules (pure): a timer's outcome, the rates, the groups and the trend."""
from datetime import datetime, timedelta, timezone

from reports.sla_report import BREACHED, MET, outcome, rates, roll_up, trend

DEADLINE = datetime(2026, 3, 4, 12, tzinfo=timezone.utc)


def test_a_timer_counts_where_it_was_met_or_breached():
    early = DEADLINE - timedelta(minutes=5)
    assert outcome(DEADLINE, None, early) == (MET, early)
    assert outcome(None, None, early) == (MET, early)  # no deadline told: nothing to miss
    assert outcome(DEADLINE, DEADLINE, DEADLINE + timedelta(hours=1)) == (BREACHED, DEADLINE)  # breached, then met
    assert outcome(DEADLINE, None, DEADLINE + timedelta(minutes=1)) == (BREACHED, DEADLINE)  # its breach in flight
    assert outcome(DEADLINE, None, None) is None  # still running
    assert outcome(DEADLINE, None, DEADLINE) == (MET, DEADLINE)  # on the deadline is in time
    assert outcome(DEADLINE, DEADLINE, None) == (BREACHED, DEADLINE)  # breached, still running


def test_the_first_run_counts_and_the_tickets_services_word_on_lateness_wins():
    early = DEADLINE - timedelta(minutes=5)
    # met in time, reopened, its second run breached later: the first run counts
    assert outcome(DEADLINE, DEADLINE + timedelta(hours=3), early) == (MET, early)
    # a pause moved the deadline past the one a warning told: in time, as the tickets service says
    assert outcome(DEADLINE, None, DEADLINE + timedelta(minutes=9), met_late=False) == (MET, DEADLINE + timedelta(
        minutes=9))
    assert outcome(DEADLINE, None, early, met_late=True) == (BREACHED, DEADLINE)


def test_rates_and_the_roll_up_by_every_dimension():
    assert rates(3, 1) == {"met": 3, "breached": 1, "total": 4, "attainment_pct": 75.0, "breach_rate_pct": 25.0}
    assert rates(0, 0)["attainment_pct"] is None
    report = roll_up([("first_response", None, None, 3, 3, 4, 30.0, 90.44),
                      ("first_response", "priority", "low", 2, 0, 2, 10.0, 12.0),
                      ("first_response", "priority", "high", 1, 3, 2, 50.0, 95.0),
                      ("first_response", "tier", None, 1, 1, 0, None, None),
                      ("first_response", "assignee", "a1", 3, 3, 4, 30.0, 90.0),
                      ("resolution", None, None, 1, 0, 1, 5.0, 5.0)])
    fr = report["first_response"]
    assert (fr["met"], fr["breached"], fr["attainment_pct"], fr["median_business_minutes"],
            fr["p90_business_minutes"], fr["timed"]) == (3, 3, 50.0, 30.0, 90.4, 4)
    assert [(g["key"], g["met"], g["breached"]) for g in fr["by_priority"]] == [("high", 1, 3), ("low", 2, 0)]
    assert [(g["key"], g["median_business_minutes"]) for g in fr["by_tier"]] == [(None, None)]
    assert [g["key"] for g in fr["by_assignee"]] == ["a1"] and fr["by_team"] == []
    assert report["resolution"]["attainment_pct"] == 100.0 and report["resolution"]["by_priority"] == []


def test_the_trend_is_this_period_minus_the_one_before():
    now = roll_up([("first_response", None, None, 9, 1, 10, 20.0, 40.0), ("resolution", None, None, 0, 0, 0, None,
                                                                            None)])
    before = roll_up([("first_response", None, None, 6, 4, 10, 30.0, 45.5), ("resolution", None, None, 1, 1, 2,
                                                                               100.0, 200.0)])
    fr = trend(now, before)["first_response"]
    assert fr["delta"] == {"total": 0, "attainment_pct": 30.0, "breach_rate_pct": -30.0,
                           "median_business_minutes": -10.0, "p90_business_minutes": -5.5}
    assert fr["previous"]["attainment_pct"] == 60.0
    assert trend(now, before)["resolution"]["delta"]["attainment_pct"] is None  # nothing this period
