"""SLA attainment's rules (pure): a timer's outcome and the rates."""
from datetime import datetime, timedelta, timezone

from reports.sla_report import BREACHED, MET, outcome, rates, roll_up

DEADLINE = datetime(2026, 3, 4, 12, tzinfo=timezone.utc)


def test_a_timer_counts_where_it_was_met_or_breached():
    early = DEADLINE - timedelta(minutes=5)
    assert outcome(DEADLINE, None, early) == (MET, early)
    assert outcome(None, None, early) == (MET, early)  # no deadline told: nothing to miss
    assert outcome(DEADLINE, DEADLINE, early - timedelta(hours=1)) == (BREACHED, DEADLINE)  # the breach was told
    assert outcome(DEADLINE, None, DEADLINE + timedelta(minutes=1)) == (BREACHED, DEADLINE)  # its breach in flight
    assert outcome(DEADLINE, None, None) is None  # still running
    assert outcome(DEADLINE, None, DEADLINE) == (MET, DEADLINE)  # on the deadline is in time


def test_rates_and_the_roll_up_by_priority_and_tier():
    assert rates(3, 1) == {"met": 3, "breached": 1, "total": 4, "attainment_pct": 75.0, "breach_rate_pct": 25.0}
    assert rates(0, 0)["attainment_pct"] is None
    report = roll_up([("first_response", "high", "enterprise", 1, 1), ("first_response", "low", "smb", 2, 0),
                      ("first_response", "high", None, 0, 2), ("resolution", "low", "smb", 1, 0)])
    fr = report["first_response"]
    assert (fr["met"], fr["breached"], fr["attainment_pct"]) == (3, 3, 50.0)
    assert [(g["key"], g["met"], g["breached"]) for g in fr["by_priority"]] == [("high", 1, 3), ("low", 2, 0)]
    assert [(g["key"], g["breach_rate_pct"]) for g in fr["by_tier"]] == [("enterprise", 50.0), ("smb", 0.0),
                                                                          (None, 100.0)]
    assert report["resolution"]["attainment_pct"] == 100.0
