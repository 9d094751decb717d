"""Customer health scoring (`reports.health`), as pure rules with property tests."""
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.health import (DEFAULT_RAMPS, SIGNALS, Ramp, Settings, interaction_drop, score, state_of, trend,
                            weighted_misses)


def _value(signal):
    ramp = DEFAULT_RAMPS[signal]
    low, high = sorted((ramp.ok, ramp.bad))
    return st.floats(low - abs(high - low), high + abs(high - low), allow_nan=False)


signal_values = st.fixed_dictionaries({}, optional={s: st.one_of(st.none(), _value(s)) for s in SIGNALS})
weights = st.fixed_dictionaries({s: st.integers(0, 50) for s in SIGNALS})


def test_a_customer_with_nothing_wrong_is_fully_healthy_and_one_with_everything_wrong_is_critical():
    calm = {"open_tickets": 0, "sla_breaches_30d": 0, "days_since_human_touch": 3, "csat": 4.8, "nps": 60}
    assert (score(calm).score, score(calm).state) == (100, "healthy")
    worst = {s: DEFAULT_RAMPS[s].bad for s in SIGNALS}
    assert (score(worst).score, score(worst).state) == (0, "critical")


def test_the_explanation_names_what_cost_points_costliest_first():
    health = score({"days_since_human_touch": 60, "open_tickets": 6, "sla_breaches_30d": 0})
    assert [c.signal for c in health.contributions] == ["days_since_human_touch", "open_tickets", "sla_breaches_30d"]
    # weights 15, 10, 15 of 40: a full risk costs 37.5, half of open tickets' 25 costs 12.5
    assert [c.points for c in health.contributions] == [Fraction(75, 2), Fraction(25, 2), 0]
    assert health.score == 50 and health.state == "at_risk"


def test_an_unknown_signal_is_left_out_not_counted_healthy():
    only_bad_touch = score({"days_since_human_touch": 90, "csat": None})
    assert only_bad_touch.score == 0  # the one thing we know is bad
    with pytest.raises(ValueError):
        score({"mood": 3})


def test_states_follow_the_tenants_thresholds():
    strict = Settings(healthy=90, at_risk=60)
    assert [state_of(s, strict) for s in (95, 90, 89, 60, 59)] == [
        "healthy", "healthy", "at_risk", "at_risk", "critical"]
    with pytest.raises(ValueError):
        Settings(healthy=30, at_risk=50)


def test_early_onboarding_misses_weigh_double_and_interaction_drop_is_a_fraction():
    start = date(2026, 1, 1)
    assert weighted_misses([date(2026, 1, 20), date(2026, 6, 1)], start) == 3.0
    assert (interaction_drop(5, 20), interaction_drop(30, 20), interaction_drop(0, 0)) == (0.75, 0.0, None)


def test_trend_compares_with_the_score_as_it_stood_then():
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    history = [(now - timedelta(days=40), 90), (now - timedelta(days=8), 80), (now - timedelta(days=1), 60)]
    assert (trend(history, now, 7), trend(history, now, 30), trend(history, now, 60)) == (-20, -30, None)


@given(signal_values, weights, st.sampled_from(SIGNALS), st.floats(0, 1000, allow_nan=False))
def test_the_score_never_rises_when_a_signal_gets_worse(values, w, signal, worse_by):
    settings = Settings(weights=w)
    ramp = DEFAULT_RAMPS[signal]
    base = values.get(signal)
    if base is None:
        base = ramp.ok
    direction = 1 if ramp.bad > ramp.ok else -1
    before = score({**values, signal: base}, settings).score
    after = score({**values, signal: base + direction * worse_by}, settings).score
    assert after <= before


@given(signal_values, weights)
def test_shares_sum_to_100_and_points_to_what_the_score_lost(values, w):
    health = score(values, Settings(weights=w))
    assert 0 <= health.score <= 100
    if health.contributions:
        assert sum(c.weight_share for c in health.contributions) == 100
        lost = sum(c.points for c in health.contributions)
        assert abs((100 - lost) - health.score) <= Fraction(1, 2)
    else:
        assert health.score == 100


@given(signal_values, weights, st.integers(2, 9))
def test_only_the_ratios_of_the_weights_matter(values, w, k):
    assert score(values, Settings(weights=w)).score == score(values, Settings(
        weights={s: n * k for s, n in w.items()})).score


def test_a_ramp_needs_two_ends():
    with pytest.raises(ValueError):
        Ramp(3, 3)
