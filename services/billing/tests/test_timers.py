"""The stopwatch's rules (billing.timers), without I/O: time run across pauses, minutes, the limit,
the idle stop, and what each state allows."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import timers
from custops.errors import Conflict

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _timer(**over) -> dict:
    return {"id": uuid.uuid4(), "state": "running", "started_at": T0, "resumed_at": T0, "elapsed_seconds": 0,
            "last_activity_at": T0, "flagged_at": None, **over}


def _apply(timer, changes):
    return {**timer, **changes}


@given(st.lists(st.tuples(st.integers(0, 7200), st.integers(0, 7200)), min_size=1, max_size=8))
def test_paused_time_never_counts_and_run_time_always_does(runs):
    """Run r seconds, pause p seconds, repeat: the elapsed time is the sum of the runs exactly."""
    timer, at = _timer(), T0
    for run, pause in runs:
        at += timedelta(seconds=run)
        timer = _apply(timer, timers.pause(timer, at))
        at += timedelta(seconds=pause)
        assert timers.elapsed_seconds(timer, at) == timer["elapsed_seconds"]  # stands still while paused
        timer = _apply(timer, timers.resume(timer, at))
    assert timers.elapsed_seconds(timer, at) == sum(run for run, _ in runs)
    stopped = timers.stop(timer, at + timedelta(seconds=10), limit_minutes=10_000)
    assert stopped["seconds"] == sum(run for run, _ in runs) + 10


@pytest.mark.parametrize("seconds, minutes", [(0, 1), (29, 1), (89, 1), (90, 2), (3600, 60), (10**6, 1440)])
def test_minutes_round_half_up_at_least_one_at_most_a_day(seconds, minutes):
    assert timers.minutes_of(seconds) == minutes


def test_a_timer_past_the_limit_is_flagged_when_stopped():
    timer = _timer()
    assert not timers.stop(timer, T0 + timedelta(minutes=600), 600)["flagged"]
    over = timers.stop(timer, T0 + timedelta(minutes=600, seconds=1), 600)
    assert over["flagged"] and over["changes"]["state"] == "stopped"
    # flagged by the sweep earlier: still flagged even when paused time would keep it under
    assert timers.stop(_timer(flagged_at=T0), T0 + timedelta(minutes=1), 600)["flagged"]


def test_idle_stop_counts_up_to_the_last_activity_and_never_stops_a_paused_timer():
    timer = _timer(last_activity_at=T0 + timedelta(minutes=20))
    assert timers.idle_until(timer, T0 + timedelta(minutes=49), 30) is None
    assert timers.idle_until(timer, T0 + timedelta(minutes=50), 30) == T0 + timedelta(minutes=20)
    assert timers.idle_until(timer, T0 + timedelta(hours=5), None) is None  # the rule is off
    paused = _apply(timer, timers.pause(timer, T0 + timedelta(minutes=21)))
    assert timers.idle_until(paused, T0 + timedelta(hours=5), 30) is None
    # a resume is activity
    resumed = _apply(paused, timers.resume(paused, T0 + timedelta(hours=5)))
    assert timers.idle_until(resumed, T0 + timedelta(hours=5, minutes=10), 30) is None


def test_each_state_allows_only_its_moves():
    running, at = _timer(), T0 + timedelta(minutes=5)
    paused = _apply(running, timers.pause(running, at))
    stopped = _apply(running, timers.stop(running, at, 600)["changes"])
    with pytest.raises(Conflict):
        timers.resume(running, at)
    with pytest.raises(Conflict):
        timers.pause(paused, at)
    for done in (stopped, _apply(running, timers.discard(running, at))):
        for move in (timers.pause, timers.resume, timers.touch, timers.discard):
            with pytest.raises(Conflict):
                move(done, at)
        with pytest.raises(Conflict):
            timers.stop(done, at, 600)
    assert timers.stop(paused, at + timedelta(hours=1), 600)["seconds"] == 300  # stopping a paused one
