"""SLA policies, pause rules and timer computation (pure: no I/O, no events).

A ticket runs up to three timers: first response, next response (restarted by each customer
message) and resolution. Each counts business minutes of the tenant's calendar from its start,
minus the intervals during which the ticket sat in a pausing status. The service stores what
``compute_timer`` returns (deadline, warning time, met/breached, breach minutes, pauses) together
with the policy and calendar versions it used, and emits ``ticket.sla_warning`` /
``ticket.sla_breached`` itself.

When a response counts (issue 8): an agent's public reply meets the running response timer (first
or next) when the customer can read it.
- A reply on a ticket with a mail thread leaves by mail (stored with delivery `queued`): its timer
  stops at `mail.sent`'s `sent_at`, when the customer's mail server accepted it — not when the agent
  pressed send (a reply stuck in a retrying SMTP queue has not reached the customer).
- `mail.send_failed` (the final failure, after the retries) leaves the timer running: the customer
  got nothing, and a breach is real; a later reply, once sent, stops it. A bounce after `mail.sent`
  changes nothing (the reply did leave; the bounce shows on the message).
- A reply on a ticket without a mail thread (opened by API or portal, read there) stops it when it
  is made, as does a reply that goes by mail only as a copy to the ticket's contact.
- A `mail.sent` stops only the timers that were running when its reply was made (never a
  next-response timer a later customer message started), and once: the inbox drops a redelivered
  event, and a reply already `sent` stops nothing again.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from custops.contracts.customers import TIERS
from custops.contracts.tickets import PRIORITIES, STATUSES

from .business_hours import UTC, BeyondHorizon, Calendar, add_business_minutes, business_time_between

# The largest target a tenant may set: a year of business minutes. With the calendar's minimum of
# business time a week (business_hours.MIN_WEEK_MINUTES) it keeps every deadline within ~170 years.
MAX_TARGET_MINUTES = 525_600
# The smallest warning lead: a share of a target that rounds to nothing is no warning.
MIN_WARNING_FRACTION = 0.01
TimerName = Literal["first_response", "next_response", "resolution"]
TIMER_NAMES: tuple[TimerName, ...] = ("first_response", "next_response", "resolution")
DEFAULT_WARNING_FRACTION = 0.8
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Targets:
    """Business minutes allowed per timer; None means the policy sets no target for that timer."""

    first_response: int | None = None
    next_response: int | None = None
    resolution: int | None = None

    def __post_init__(self) -> None:
        for name in TIMER_NAMES:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or not 0 < value <= MAX_TARGET_MINUTES):
                raise ValueError(f"{name} target must be 1..{MAX_TARGET_MINUTES:,} minutes or None")

    def for_timer(self, name: TimerName) -> int | None:
        if name not in TIMER_NAMES:
            raise ValueError(f"unknown timer {name!r}")
        return getattr(self, name)


@dataclass(frozen=True)
class Policy:
    """Targets for tickets of a customer tier and/or ticket priority; neither set = tenant default."""

    targets: Targets
    tier: str | None = None
    priority: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if self.tier is not None and self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise ValueError(f"unknown priority {self.priority!r}")
        if not isinstance(self.version, int) or self.version < 1:
            raise ValueError("version must be a positive integer")

    @property
    def key(self) -> tuple[str | None, str | None]:
        return self.tier, self.priority

    @property
    def precedence(self) -> int:
        """0 = tier+priority, 1 = tier, 2 = priority, 3 = tenant default (lower wins)."""
        if self.tier is not None:
            return 0 if self.priority is not None else 1
        return 2 if self.priority is not None else 3


def validate_policies(policies: Iterable[Policy]) -> None:
    """A tenant's policy set: at most one policy per (tier, priority) and a tenant default, so
    every ticket matches exactly one policy."""
    seen: set[tuple[str | None, str | None]] = set()
    for policy in policies:
        if policy.key in seen:
            raise ValueError(f"two policies for tier={policy.tier!r} priority={policy.priority!r}")
        seen.add(policy.key)
    if (None, None) not in seen:
        raise ValueError("a policy set needs a tenant default (no tier, no priority)")


def select_policy(policies: Iterable[Policy], tier: str | None, priority: str | None) -> Policy:
    """The policy for a ticket: tier+priority, then tier, then priority, then the tenant default.
    A policy matches when each of its tier/priority is unset or equal to the ticket's."""
    matching = [p for p in policies
                if (p.tier is None or p.tier == tier) and (p.priority is None or p.priority == priority)]
    if not matching:
        raise LookupError(f"no SLA policy matches tier={tier!r} priority={priority!r} (no tenant default)")
    best = min(p.precedence for p in matching)
    winners = [p for p in matching if p.precedence == best]
    if len(winners) > 1:
        raise ValueError(f"ambiguous SLA policies for tier={tier!r} priority={priority!r}")
    return winners[0]


# Starter defaults for a new tenant, the common support tiering (minutes of business time):
# - first response by customer tier: enterprise 1 h, mid market 8 h (one working day), smb 24 h;
#   next response (after each customer message) uses the same figure as the first response;
# - resolution by ticket priority: urgent 4 h, high 8 h, normal 24 h, low 48 h.
# Both depend on different keys while the precedence picks one policy per ticket, so the starter
# set spells out every tier x priority pair, plus a tenant default (smb / normal figures) for
# tickets whose customer tier is unknown.
STARTER_RESPONSE_MINUTES = {"enterprise": 60, "mid_market": 480, "smb": 1440}
STARTER_RESOLUTION_MINUTES = {"urgent": 240, "high": 480, "normal": 1440, "low": 2880}


def starter_policies() -> list[Policy]:
    policies = [
        Policy(Targets(first_response=response, next_response=response, resolution=resolution),
               tier=tier, priority=priority)
        for tier, response in STARTER_RESPONSE_MINUTES.items()
        for priority, resolution in STARTER_RESOLUTION_MINUTES.items()
    ]
    policies.append(Policy(Targets(first_response=STARTER_RESPONSE_MINUTES["smb"],
                                   next_response=STARTER_RESPONSE_MINUTES["smb"],
                                   resolution=STARTER_RESOLUTION_MINUTES["normal"])))
    return policies


# --- pauses ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PauseRules:
    """Statuses that stop every timer. Default: waiting on the customer stops the clock;
    ``pending`` (our own team is the blocker) does not."""

    statuses: frozenset[str] = frozenset({"waiting_on_customer"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        unknown = self.statuses - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown statuses {sorted(unknown)}")


@dataclass(frozen=True)
class PauseInterval:
    """The clock stood still from ``start`` until ``end`` (None: still paused) because of ``status``."""

    start: datetime
    end: datetime | None
    status: str | None = None


def pause_intervals(history: Sequence[tuple[datetime, str]], rules: PauseRules = PauseRules()) -> list[PauseInterval]:
    """Pause intervals from a ticket's status history ``[(at, status), ...]`` (the creation status
    first). Each stay in a pausing status is its own interval, kept for the audit trail, even when
    two pausing statuses follow each other."""
    ordered = sorted(((_utc(at, "history time"), status) for at, status in history), key=lambda e: e[0])
    intervals: list[PauseInterval] = []
    open_since: tuple[datetime, str] | None = None
    for at, status in ordered:
        if open_since is not None:
            if status == open_since[1]:
                continue  # a repeated status is not a new stay
            if at > open_since[0]:
                intervals.append(PauseInterval(open_since[0], at, open_since[1]))
            open_since = None
        if status in rules.statuses:
            open_since = (at, status)
    if open_since is not None:
        intervals.append(PauseInterval(open_since[0], None, open_since[1]))
    return intervals


# --- timers ----------------------------------------------------------------------------------

TimerStateName = Literal["running", "warning", "paused", "met", "breached"]


@dataclass(frozen=True)
class TimerState:
    """One timer, evaluated at its ``met_at`` if met, else at ``now``.

    ``deadline`` / ``warning_at`` are None while an open pause began before they were reached (the
    clock is stopped; they are known again when it resumes), and when they lie beyond the horizon
    of the arithmetic (year 9999: never due; only a calendar stored before the input bounds can be
    that sparse). ``pauses`` are the pauses that
    overlapped the timer (merged, from its start on; ending at met_at when met), with the business
    minutes each one added to the deadline.
    """

    target_minutes: int
    started_at: datetime
    deadline: datetime | None
    warning_at: datetime | None
    state: TimerStateName
    met_at: datetime | None
    breached: bool
    breach_minutes: float
    elapsed_minutes: float
    paused_minutes: float
    pauses: tuple[tuple[PauseInterval, float], ...]
    calendar_version: int


def compute_timer(calendar: Calendar, started_at: datetime, target_minutes: int,
                  pauses: Iterable[PauseInterval | tuple[datetime, datetime | None]] = (), *,
                  now: datetime, met_at: datetime | None = None,
                  warning_fraction: float = DEFAULT_WARNING_FRACTION) -> TimerState:
    """Deadline, warning time and met/breached state of one timer.

    The deadline is the instant at which ``target_minutes`` of business time, not counting paused
    time, have elapsed since ``started_at``. Unmet, the timer breaches *at* the deadline; met at or
    before the deadline it is met in time. Breach minutes are business minutes, not counting
    paused time, past the target up to ``met_at`` (or ``now``).
    """
    started_at = _utc(started_at, "started_at")
    now = _utc(now, "now")
    met_at = _utc(met_at, "met_at") if met_at is not None else None
    if not isinstance(target_minutes, int) or isinstance(target_minutes, bool) or target_minutes <= 0:
        raise ValueError("target_minutes must be a positive integer")
    if not MIN_WARNING_FRACTION <= warning_fraction <= 1:
        raise ValueError(f"warning_fraction must be in [{MIN_WARNING_FRACTION}, 1]")
    if met_at is not None and met_at < started_at:
        raise ValueError("met_at is before the timer started")
    evaluated_at = met_at if met_at is not None else now
    # A met timer is over: later pauses cannot move it, and a pause still open when it was met
    # ends there. An unmet timer takes the pauses as recorded.
    merged = _merge_pauses(_as_intervals(pauses), started_at, until=met_at)
    target = timedelta(minutes=target_minutes)
    deadline = _within_horizon(deadline_with_pauses, calendar, started_at, target, merged)
    # a warning announces its deadline: none while the deadline is unknown (a tiny lead on a timer
    # that starts paused would otherwise fall due at its start, with no deadline to tell)
    warning_at = None if deadline is None else _within_horizon(
        deadline_with_pauses, calendar, started_at, target * warning_fraction, merged)
    paused_each = [business_time_between(calendar, p.start, p.end or evaluated_at) for p in merged]
    paused_so_far = sum((business_time_between(calendar, p.start, min(p.end or evaluated_at, evaluated_at))
                         for p in merged), timedelta(0))
    elapsed = business_time_between(calendar, started_at, evaluated_at) - paused_so_far
    # Breached at the deadline itself when unmet (that is when the breach is announced); a
    # response at the deadline is in time. Breach minutes can be 0 when the deadline fell at the
    # end of a slot and the timer was evaluated in closed time after it.
    if deadline is None:
        breached = False
    else:
        breached = met_at > deadline if met_at is not None else now >= deadline
    if met_at is not None:
        state: TimerStateName = "breached" if breached else "met"
    elif breached:
        state = "breached"
    elif merged and merged[-1].end is None and merged[-1].start <= now:
        state = "paused"
    elif warning_at is not None and now >= warning_at:
        state = "warning"
    else:
        state = "running"
    return TimerState(
        target_minutes=target_minutes, started_at=started_at, deadline=deadline, warning_at=warning_at,
        state=state, met_at=met_at, breached=breached,
        breach_minutes=max(elapsed - target, timedelta(0)) / _MINUTE if breached else 0.0,
        elapsed_minutes=elapsed / _MINUTE, paused_minutes=paused_so_far / _MINUTE,
        pauses=tuple((p, each / _MINUTE) for p, each in zip(merged, paused_each)),
        calendar_version=calendar.version,
    )


def deadline_with_pauses(calendar: Calendar, start: datetime, allowed: timedelta,
                         pauses: Sequence[PauseInterval]) -> datetime | None:
    """The instant at which ``allowed`` business time outside ``pauses`` has elapsed since
    ``start``; None when an open pause starts before it is reached. ``pauses`` must be sorted,
    non-overlapping and start at or after ``start`` (as ``_merge_pauses`` makes them)."""
    cursor, remaining = _utc(start, "start"), allowed
    for pause in pauses:
        candidate = add_business_minutes(calendar, cursor, remaining / _MINUTE)
        if candidate <= pause.start:
            return candidate
        remaining -= business_time_between(calendar, cursor, pause.start)
        if pause.end is None:
            return None
        cursor = max(cursor, pause.end)
    return add_business_minutes(calendar, cursor, remaining / _MINUTE)


def _within_horizon(compute, *args) -> datetime | None:
    try:
        return compute(*args)
    except BeyondHorizon:
        return None


def _as_intervals(pauses: Iterable[PauseInterval | tuple[datetime, datetime | None]]) -> list[PauseInterval]:
    intervals = []
    for pause in pauses:
        if not isinstance(pause, PauseInterval):
            pause = PauseInterval(*pause)
        start = _utc(pause.start, "pause start")
        end = _utc(pause.end, "pause end") if pause.end is not None else None
        if end is not None and end < start:
            raise ValueError("a pause ends before it starts")
        intervals.append(PauseInterval(start, end, pause.status))
    return sorted(intervals, key=lambda p: p.start)


def _merge_pauses(pauses: list[PauseInterval], start: datetime, until: datetime | None) -> list[PauseInterval]:
    """Pauses from ``start`` on (up to ``until`` when given, where an open pause then ends), with
    overlaps merged so that no paused time counts twice."""
    merged: list[PauseInterval] = []
    for pause in pauses:
        if (until is not None and pause.start >= until) or (pause.end is not None and pause.end <= start):
            continue
        begin, end = max(pause.start, start), pause.end
        if until is not None:
            end = until if end is None else min(end, until)
        if merged and (merged[-1].end is None or merged[-1].end >= begin):
            last = merged[-1]
            merged_end = None if last.end is None or end is None else max(last.end, end)
            merged[-1] = PauseInterval(last.start, merged_end, last.status)
            continue
        merged.append(PauseInterval(begin, end, pause.status))
    return merged


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)
