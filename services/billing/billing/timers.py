"""The stopwatch's rules: a member's timer, its states, the time it has run, the limit and the idle
stop. Pure: a timer (a row as a dict) and an instant in, the changes or a refusal out.

States: `running` -> `paused` -> `running` ... -> `stopped` (it made a time entry) or `discarded`
(thrown away). `elapsed_seconds` is what ran before the current run (`resumed_at`); a paused timer
has no current run, so its time stands still. The state is in PostgreSQL, not in a process: a
restart of the service (or of the member's browser) loses nothing, the clock goes on.

Decisions:
- **One per member** (the tenant's `one_timer_per_member`, on by default): starting a timer stops
  the member's live one (running or paused) first, which becomes its entry (`reason: replaced`).
  Two starts at the same instant are serialised on the member (a transaction-scoped lock in
  `billing.timer_store`): exactly one timer is left running.
- **Minutes**: the seconds run, rounded half up to whole minutes, at least 1 (a started stopwatch is
  work) and at most 1440 (an entry's bound; a timer that long is over any limit anyway). Raw time:
  the tenant's rounding (6/15/30 min) is applied at invoicing, never here.
- **The limit** (`timer_limit_minutes`, 600 by default): a timer that has run longer is flagged
  (`timer.flagged`, once). Stopping a timer that ran past the limit makes an entry marked
  `needs_confirmation = 'over_limit'`, which blocks its week's approval until a person confirms
  or corrects it: an over-long timer is never billed silently.
- **Idle stop** (`idle_stop_minutes`, off by default): a running timer with no sign of activity
  (start, resume, or a touch from the client) for that long is stopped; its time counts up to its
  last activity only (the idle span is not work). A paused timer is never idle-stopped.
- The day of the entry is the member's local day of the timer's start (`billing.weeks`).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from custops.errors import Conflict

LIVE = ("running", "paused")
MAX_ENTRY_MINUTES = 1440
DEFAULT_LIMIT_MINUTES = 600


def elapsed_seconds(timer: dict, at: datetime) -> int:
    """Seconds the timer has run up to `at` (pauses excluded)."""
    run = 0
    if timer["state"] == "running" and timer["resumed_at"] is not None:
        run = max(0, int((at - timer["resumed_at"]).total_seconds()))
    return timer["elapsed_seconds"] + run


def minutes_of(seconds: int) -> int:
    return min(MAX_ENTRY_MINUTES, max(1, (seconds + 30) // 60))


def check_live(timer: dict, action: str) -> None:
    if timer["state"] not in LIVE:
        raise Conflict(f"timer {timer['id']} is {timer['state']}: it cannot {action}")


def pause(timer: dict, at: datetime) -> dict:
    """The changes that pause a running timer."""
    if timer["state"] != "running":
        raise Conflict(f"timer {timer['id']} is {timer['state']}: only a running timer pauses")
    return {"state": "paused", "elapsed_seconds": elapsed_seconds(timer, at), "resumed_at": None}


def resume(timer: dict, at: datetime) -> dict:
    if timer["state"] != "paused":
        raise Conflict(f"timer {timer['id']} is {timer['state']}: only a paused timer resumes")
    return {"state": "running", "resumed_at": at, "last_activity_at": at}


def touch(timer: dict, at: datetime) -> dict:
    """A sign of activity from the member's client: the idle clock starts again."""
    check_live(timer, "be touched")
    return {"last_activity_at": at}


def over_limit(timer: dict, at: datetime, limit_minutes: int) -> bool:
    return elapsed_seconds(timer, at) > limit_minutes * 60


def idle_until(timer: dict, at: datetime, idle_stop_minutes: int | None) -> datetime | None:
    """When an idle running timer's time ends (its last activity), or None when it is not idle."""
    if idle_stop_minutes is None or timer["state"] != "running":
        return None
    last = max(timer["last_activity_at"], timer["resumed_at"] or timer["last_activity_at"])
    return last if at - last >= timedelta(minutes=idle_stop_minutes) else None


def stop(timer: dict, at: datetime, limit_minutes: int, reason: str = "stopped") -> dict:
    """The changes that stop a live timer at `at`, with what its entry needs:
    `{"changes": ..., "seconds": .., "minutes": .., "flagged": bool}`."""
    check_live(timer, "stop")
    seconds = elapsed_seconds(timer, at)
    flagged = seconds > limit_minutes * 60 or timer.get("flagged_at") is not None
    changes = {"state": "stopped", "elapsed_seconds": seconds, "resumed_at": None, "stopped_at": at,
               "stop_reason": reason}
    return {"changes": changes, "seconds": seconds, "minutes": minutes_of(seconds), "flagged": flagged}


def discard(timer: dict, at: datetime) -> dict:
    check_live(timer, "be discarded")
    return {"state": "discarded", "elapsed_seconds": elapsed_seconds(timer, at), "resumed_at": None,
            "stopped_at": at, "stop_reason": "discarded"}
