"""The status report's rules: the tenant's weeks, what counts as completed, Δ and a project's status. Pure.

Items completed per project and week are tasks done plus tickets resolved, each counted once:

- A task counts as completed in the tenant week of its latest completion unless it has been
  reopened since (the same rule as a ticket's resolution, `reports.facts.counts_as`): completed,
  reopened and completed again counts once, in the week of the latest completion; reopened and not
  completed again counts nowhere. A deleted task counts nowhere (its project shows what is left).
- A ticket counts as resolved by the same rule (ticket_facts). Tickets carry no project, so each
  customer's resolved tickets make one row of their own (`project_id` null).
- Weeks are the tenant's: its timezone and its first day of the week (monday, sunday or saturday),
  both told by the customers service. An instant belongs to the week of the calendar day it falls
  on in the tenant's zone.

Status, from the tenant's rules (`StatusRules`; the defaults are the issue's), first match wins:

1. **At Risk** when the project has at least `at_risk_overdue_tasks` overdue tasks (due before the
   report's "as of" day — the day after the week, or today for the current week — and not
   completed by then) or at least `at_risk_missed_milestones` missed milestones (a milestone due in
   the two weeks shown and not completed on or before its due date). 0 turns a rule off.
2. **Delayed** when Δ% ≤ −`delayed_pct` and last week had at least `min_last_week` items.
3. **Ahead** when Δ% ≥ +`ahead_pct`.
4. **On Track** otherwise.

Δ is this week − last week; Δ% is Δ ÷ last week. With nothing last week Δ% is undefined (None): no
baseline, so neither Delayed nor Ahead — On Track unless At Risk. A customer's roll-up sums its
projects (and its tickets row) and takes its status by the same rules over the sums.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from reports.weeks import zone

ON_TRACK, AHEAD, DELAYED, AT_RISK = "On Track", "Ahead", "Delayed", "At Risk"
STATUSES = (ON_TRACK, AHEAD, DELAYED, AT_RISK)
# ISO weekday (Monday 1 … Sunday 7) each week start names
WEEK_START_DAYS = {"monday": 1, "sunday": 7, "saturday": 6}


class StatusRules(BaseModel):
    """A tenant's status rules (percentages are whole percents)."""

    model_config = ConfigDict(extra="forbid")

    delayed_pct: float = Field(default=30, gt=0, le=100)
    ahead_pct: float = Field(default=30, gt=0)
    min_last_week: int = Field(default=3, ge=0)
    at_risk_overdue_tasks: int = Field(default=1, ge=0)
    at_risk_missed_milestones: int = Field(default=1, ge=0)


DEFAULT_RULES = StatusRules()


def week_start_of(day: date, week_start: str = "monday") -> date:
    """The first day of the tenant week `day` is in."""
    first = WEEK_START_DAYS.get(week_start)
    if first is None:
        raise ValueError(f"unknown week start {week_start!r}")
    return day - timedelta(days=(day.isoweekday() - first) % 7)


def week_of(instant: datetime, tz: str | ZoneInfo, week_start: str = "monday") -> date:
    """The first day of the tenant week the instant falls in (its calendar day in `tz`)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be timezone-aware")
    return week_start_of(instant.astimezone(tz if isinstance(tz, ZoneInfo) else zone(tz)).date(), week_start)


def as_of_day(week: date, today: date) -> date:
    """The first day not in the report: the day after the week, or today for the current week
    (a task due today is not overdue yet)."""
    return min(week + timedelta(days=7), today)


def delta(this_week: int, last_week: int) -> tuple[int, float | None]:
    """(Δ, Δ% rounded to one decimal) — Δ% None when last week had nothing."""
    change = this_week - last_week
    return change, (None if last_week == 0 else round(100.0 * change / last_week, 1))


def status_of(this_week: int, last_week: int, overdue_tasks: int = 0, missed_milestones: int = 0,
              rules: StatusRules = DEFAULT_RULES) -> str:
    """The status the rules give (see the module's docstring)."""
    if (rules.at_risk_overdue_tasks and overdue_tasks >= rules.at_risk_overdue_tasks) or (
            rules.at_risk_missed_milestones and missed_milestones >= rules.at_risk_missed_milestones):
        return AT_RISK
    _, pct = delta(this_week, last_week)
    if pct is None:
        return ON_TRACK
    if pct <= -rules.delayed_pct and last_week >= rules.min_last_week:
        return DELAYED
    if pct >= rules.ahead_pct:
        return AHEAD
    return ON_TRACK


def row(base: dict, this_week: int, last_week: int, overdue_tasks: int, missed_milestones: int,
        rules: StatusRules) -> dict:
    """One report row: `base` (ids, name) with the counts, Δ, Δ% and status."""
    change, pct = delta(this_week, last_week)
    return {**base, "this_week": this_week, "last_week": last_week, "delta": change, "delta_pct": pct,
            "status": status_of(this_week, last_week, overdue_tasks, missed_milestones, rules),
            "overdue_tasks": overdue_tasks, "missed_milestones": missed_milestones}


def customer_roll_up(rows: list[dict], rules: StatusRules) -> list[dict]:
    """Per customer: its rows summed, the status by the same rules over the sums; by customer id."""
    sums: dict[str, list[int]] = {}
    for item in rows:
        total = sums.setdefault(item["customer_id"], [0, 0, 0, 0])
        for i, key in enumerate(("this_week", "last_week", "overdue_tasks", "missed_milestones")):
            total[i] += item[key]
    return [row({"customer_id": customer}, *sums[customer], rules) for customer in sorted(sums)]

