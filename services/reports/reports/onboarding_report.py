"""Onboarding velocity's rules, over the plans applied from onboarding templates. Pure.

Each plan (`onboarding.applied`, re-planned by `onboarding.replanned`) has a start date (Day 0), a
target date (its latest due date) and, when its template marks one, a first-value milestone (the
step flagged `first_value`). A task is done when it counts as completed (`reports.facts`'s rule:
completed and not reopened since; deleted tasks count nowhere), on the tenant-local day of its
latest completion. For a period (the tenant's quarter, `reports.periods`) and `as_of` (the first day
not yet over: today, or the day after the period):

- **Days to first value**: of the plans whose first-value milestone was done in the period, the
  days from the start date to that day; average and median (None when there are none).
- **Completion within target**: of the plans whose target date fell in the period and is over
  (before `as_of`) — or that are already complete — the share with every task done on or before the
  target date.
- **Slowest step**: of the template steps' tasks due in the period and before `as_of`, the days each
  was late (done day, or `as_of` while still open, past its due date; 0 when in time), averaged per
  template step key; the step with the largest average delay (None when no step was late).

Segments are the customer's tier (None: not known). The trend is this quarter vs the one before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median


@dataclass(frozen=True)
class Plan:
    tier: str | None
    start_date: date | None
    target_date: date | None
    first_value_day: date | None  # the day its first-value milestone was done (None: not done / none)
    tasks: int
    done: int
    last_done_day: date | None


@dataclass(frozen=True)
class StepTask:
    step_key: str
    due_date: date
    done_day: date | None


def _round(value):
    return None if value is None else round(value, 1)


def days_to_first_value(plans: list[Plan], first: date, last: date) -> dict:
    days = [(p.first_value_day - p.start_date).days for p in plans
            if p.first_value_day is not None and p.start_date is not None and first <= p.first_value_day <= last]
    return {"plans": len(days), "average_days": _round(sum(days) / len(days)) if days else None,
            "median_days": _round(float(median(days))) if days else None}


def completed_within_target(plan: Plan) -> bool:
    return (plan.tasks > 0 and plan.done == plan.tasks and plan.last_done_day is not None
            and plan.target_date is not None and plan.last_done_day <= plan.target_date)


def completion(plans: list[Plan], first: date, last: date, as_of: date) -> dict:
    due = [p for p in plans if p.target_date is not None and first <= p.target_date <= last
           and (p.target_date < as_of or (p.tasks > 0 and p.done == p.tasks))]
    within = sum(1 for p in due if completed_within_target(p))
    return {"plans_due": len(due), "completed_within_target": within,
            "completion_rate_pct": round(100.0 * within / len(due), 1) if due else None}


def step_delays(tasks: list[StepTask], first: date, last: date, as_of: date) -> list[dict]:
    """Per template step: tasks counted and their average delay in days, the slowest first."""
    delays: dict[str, list[int]] = {}
    for task in tasks:
        if first <= task.due_date <= last and task.due_date < as_of:
            end = task.done_day or as_of
            delays.setdefault(task.step_key, []).append(max((end - task.due_date).days, 0))
    steps = [{"step_key": key, "tasks": len(d), "average_delay_days": round(sum(d) / len(d), 1)}
             for key, d in delays.items()]
    return sorted(steps, key=lambda s: (-s["average_delay_days"], s["step_key"]))


def figures(plans: list[Plan], tasks: list[StepTask], first: date, last: date, as_of: date) -> dict:
    steps = step_delays(tasks, first, last, as_of)
    slowest = steps[0] if steps and steps[0]["average_delay_days"] > 0 else None
    return {"date_from": first.isoformat(), "date_to": last.isoformat(),
            **days_to_first_value(plans, first, last), **completion(plans, first, last, as_of),
            "slowest_step": slowest, "steps": steps}


def by_tier(plans: list[Plan], first: date, last: date, as_of: date) -> list[dict]:
    tiers = sorted({p.tier for p in plans}, key=lambda t: (t is None, t or ""))
    out = []
    for tier in tiers:
        mine = [p for p in plans if p.tier == tier]
        row = {"tier": tier, **days_to_first_value(mine, first, last), **completion(mine, first, last, as_of)}
        if row["plans"] or row["plans_due"]:
            out.append(row)
    return out


def _delta(now, before):
    return None if now is None or before is None else round(now - before, 1)


def as_of_day(last: date, today: date) -> date:
    """The first day not yet over for a period ending on `last`: the day after it, or today."""
    return min(last + timedelta(days=1), today)


def report(plans: list[Plan], tasks: list[StepTask], current: tuple[date, date], before: tuple[date, date],
           today: date) -> dict:
    """This quarter (up to today) vs the one before — Δ of each headline figure — and this quarter by tier."""
    this_as_of, before_as_of = as_of_day(current[1], today), as_of_day(before[1], today)
    this = figures(plans, tasks, *current, this_as_of)
    previous = figures(plans, tasks, *before, before_as_of)
    headline = ("average_days", "median_days", "completion_rate_pct")
    return {**this, "as_of": this_as_of.isoformat(), "by_tier": by_tier(plans, *current, this_as_of),
            "previous": {k: previous[k] for k in ("date_from", "date_to", "plans", "plans_due",
                                                  "completed_within_target", *headline, "slowest_step")},
            "delta": {k: _delta(this[k], previous[k]) for k in headline}}
