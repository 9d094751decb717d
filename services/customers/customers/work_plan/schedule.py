"""Relative dates of onboarding plans and their re-planning — pure rules (no I/O).

A template step sits at a Day offset from the customer's start date (Day 0 = the start date) and
lasts `duration` days (a milestone lasts 0: it starts and is due the same day). Decisions:

- Calendar days or business days, per template. In business days Day 0 is the start date if that
  day is open, else the next open day; Day N is the N-th open day after Day 0; a step's N days are
  N consecutive open days. Closed days are the tenant calendar's closed weekdays and its holidays
  (`OpenDays`, a copy of the tickets service's calendar); in business mode no date lands on a closed day.
  Negative offsets count back the same way (a kickoff prep 2 business days before the start).
- Finish-to-start dependencies win over offsets: a step starts no earlier than the day after each
  predecessor is due (in business mode, the next open day after it); its due date moves with it,
  keeping its duration. Steps are planned in dependency order, so a chain never inverts.
- Re-planning a running plan (a new start date, a new template version) recomputes every not-done
  task from its step's offset and the new start date — never from its current dates — so
  re-planning twice gives the same dates as once (idempotent), and a task whose dates were planned
  is put back on plan. A done task never moves; its stored dates are what its successors follow.
- A task added by hand (no step) keeps its dates: they are the team's own, and re-planning never
  moves them; a step's task that depends on one follows its due date (an undated one constrains nothing).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable

from customers.work_plan import graph

MAX_OFFSET = 3650
MAX_DURATION = 365


@dataclass(frozen=True)
class OpenDays:
    """Which days are open: weekdays (0 = Monday) and holidays closed; `always_open`: every day."""

    closed_weekdays: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()
    always_open: bool = False

    def is_open(self, day: date) -> bool:
        if self.always_open:
            return True
        return day.weekday() not in self.closed_weekdays and day not in self.holidays

    @property
    def never_open(self) -> bool:
        return not self.always_open and len(self.closed_weekdays) >= 7


CALENDAR_DAYS = OpenDays(closed_weekdays=frozenset(), always_open=True)


def _step(day: date, direction: int) -> date:
    return day + timedelta(days=direction)


def next_open(day: date, days: OpenDays) -> date:
    """`day` itself when open, else the first open day after it."""
    if days.never_open:
        raise ValueError("the calendar has no open day")
    while not days.is_open(day):
        day = _step(day, 1)
    return day


def add_open_days(day: date, count: int, days: OpenDays) -> date:
    """The `count`-th open day after (count < 0: before) open day `day`."""
    direction = 1 if count >= 0 else -1
    for _ in range(abs(count)):
        day = _step(day, direction)
        while not days.is_open(day):
            day = _step(day, direction)
    return day


@dataclass(frozen=True)
class Step:
    key: str
    offset: int = 0
    duration: int = 1
    depends_on: tuple[str, ...] = ()
    milestone: bool = False

    @property
    def span(self) -> int:
        """Days after its start that it is due (a one-day step is due on its start day)."""
        return 0 if self.milestone else max(self.duration, 1) - 1


@dataclass(frozen=True)
class Dates:
    start: date
    due: date


def day_zero(start: date, days: OpenDays) -> date:
    return next_open(start, days)


def _after(due: date, days: OpenDays) -> date:
    return next_open(due + timedelta(days=1), days)


def plan(steps: Iterable[Step], start: date, days: OpenDays = CALENDAR_DAYS,
         fixed: dict[str, Dates] | None = None) -> dict[str, Dates]:
    """Dates for every step from the start date (see the module's rules).

    `fixed`: steps whose dates are kept as they are (done tasks); their successors follow them.
    Raises graph.CycleError for cyclic dependencies and ValueError for a dependency on no step."""
    steps = list(steps)
    by_key = {s.key: s for s in steps}
    for s in steps:
        missing = [d for d in s.depends_on if d not in by_key]
        if missing:
            raise ValueError(f"step {s.key} depends on unknown steps {', '.join(missing)}")
    order = graph.topological_order({s.key: list(s.depends_on) for s in steps})
    fixed = fixed or {}
    zero = day_zero(start, days)
    planned: dict[str, Dates] = {}
    for key in order:
        s = by_key[key]
        if key in fixed:
            planned[key] = fixed[key]
            continue
        begin = add_open_days(zero, s.offset, days)
        for pred in s.depends_on:
            begin = max(begin, _after(planned[pred].due, days))
        planned[key] = Dates(begin, add_open_days(begin, s.span, days))
    return planned


@dataclass(frozen=True)
class PlannedTask:
    """A task of a running plan as re-planning sees it."""

    id: str
    step: Step | None  # None: added by hand, never moved
    dates: Dates | None
    done: bool = False
    depends_on: tuple[str, ...] = field(default=())  # task ids


@dataclass(frozen=True)
class Move:
    task_id: str
    before: Dates | None
    after: Dates


def replan(tasks: list[PlannedTask], start: date, days: OpenDays = CALENDAR_DAYS) -> list[Move]:
    """What moves when the plan is re-planned from `start`: every not-done task of a step, to the dates
    its step gives from `start` (done tasks fixed); nothing else. Dependencies are the tasks'
    (the plan's own, which may have been edited), so a step's task follows its task predecessors."""
    undated = {t.id for t in tasks if (t.step is None or t.done) and t.dates is None}
    known = {t.id for t in tasks} - undated
    steps, fixed = [], {}
    for t in tasks:
        if t.id in undated:
            continue
        deps = tuple(d for d in t.depends_on if d in known)
        if t.step is None or t.done:
            fixed[t.id] = t.dates
            steps.append(Step(t.id, depends_on=deps))
        else:
            steps.append(Step(t.id, t.step.offset, t.step.duration, deps, t.step.milestone))
    planned = plan(steps, start, days, fixed)
    return [Move(t.id, t.dates, planned[t.id]) for t in tasks
            if t.step is not None and not t.done and planned[t.id] != t.dates]
