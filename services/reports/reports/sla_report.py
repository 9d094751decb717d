"""SLA attainment's rules: a timer's outcome, the period it counts in, the rates, the times and the
trend. Pure.

One row per ticket and timer (first_response, resolution; next_response is not reported yet):

- **Met** or **met late** as the tickets service tells it when the timer stops (`ticket.sla_met`:
  an agent's public reply stops first_response — when its mail leaves, for a reply sent by mail —
  resolving or closing stops every running timer), with the business minutes it ran; what it tells
  wins over the older events' guess below. Events from before `ticket.sla_met` existed are read the
  old way: first_response stopped by the first public reply typed by an agent (`ticket.replied`,
  automatic replies left out), resolution by the first resolution (`ticket.resolved`), late when
  after a deadline the reports service knows (from `ticket.sla_warning` / `ticket.sla_breached`);
  those have no business minutes.
- **Breached** when the tickets service told `ticket.sla_breached` for the timer before it stopped,
  or when it stopped late: it counts at its deadline.
- Neither yet: counts nowhere (still running).
- A reopened ticket's resolution timer runs again in the tickets service; the report keeps the
  first run (the earliest stop, the earliest breach): a ticket counts once per timer.

A timer counts in the period its timer was met or breached: the tenant-local day of that instant
(`ended_at`). Attainment is met ÷ (met + breached), the breach rate breached ÷ (met + breached); both
None when nothing ended in the period. Median and p90 are of the business minutes of the timers
that count in the period and have stopped (a breached timer still running has no time yet), by
linear interpolation (PostgreSQL's `percentile_cont`). Groups: by priority and customer tier (the
ticket's when it stopped, else its latest known), by team and by assignee (likewise; None: none).

The trend compares the period with the one before it (the week or month before; for a range of
days, as many days before it): Δ of each figure, None where either side has none.
"""
from __future__ import annotations

from datetime import datetime

TIMERS = ("first_response", "resolution")
MET, BREACHED = "met", "breached"
DIMENSIONS = ("priority", "tier", "team", "assignee")
FIGURES = ("attainment_pct", "breach_rate_pct", "median_business_minutes", "p90_business_minutes")

# `outcome` in SQL: the stored, generated `outcome` and `ended_at` columns of sla_timers (indexed)
_FIRST_RUN_BREACHED = "breached_at IS NOT NULL AND (met_at IS NULL OR breached_at <= met_at)"
_MET_LATE = "met_at IS NOT NULL AND COALESCE(met_late, deadline IS NOT NULL AND met_at > deadline)"
OUTCOME_SQL = (f"CASE WHEN {_FIRST_RUN_BREACHED} THEN 'breached' WHEN {_MET_LATE} THEN 'breached' "
               "WHEN met_at IS NOT NULL THEN 'met' END")
ENDED_AT_SQL = (f"CASE WHEN {_FIRST_RUN_BREACHED} THEN breached_at WHEN {_MET_LATE} THEN COALESCE(deadline, met_at) "
                "ELSE met_at END")


def outcome(deadline: datetime | None, breached_at: datetime | None, met_at: datetime | None,
            met_late: bool | None = None) -> tuple[str, datetime] | None:
    """(met or breached, the instant it counts at), or None while the timer runs. `met_late`: what
    the tickets service told when it stopped (None: not told; then late means after `deadline`)."""
    if breached_at is not None and (met_at is None or breached_at <= met_at):
        return BREACHED, breached_at
    if met_at is None:
        return None
    late = met_late if met_late is not None else (deadline is not None and met_at > deadline)
    if late:
        return BREACHED, deadline or met_at
    return MET, met_at


def rates(met: int, breached: int) -> dict:
    ended = met + breached
    return {"met": met, "breached": breached, "total": ended,
            "attainment_pct": None if ended == 0 else round(100.0 * met / ended, 1),
            "breach_rate_pct": None if ended == 0 else round(100.0 * breached / ended, 1)}


def _minutes(value) -> float | None:
    return None if value is None else round(float(value), 1)


def figures(met: int, breached: int, timed: int = 0, median=None, p90=None) -> dict:
    """A group's rates and times (`timed`: how many of its timers have business minutes)."""
    return {**rates(met, breached), "timed": timed, "median_business_minutes": _minutes(median),
            "p90_business_minutes": _minutes(p90)}


def _sorted_groups(groups: dict) -> list[dict]:
    """Groups by key, the unknown (None) last."""
    return [{"key": key, **groups[key]} for key in sorted(groups, key=lambda k: (k is None, k or ""))]


def roll_up(rows: list[tuple]) -> dict:
    """From (timer, dimension, key, met, breached, timed, median, p90) rows — `dimension` None for a
    timer's overall row, else one of DIMENSIONS — each timer's figures with a list per dimension."""
    report = {timer: {**figures(0, 0), **{f"by_{d}": {} for d in DIMENSIONS}} for timer in TIMERS}
    for timer, dimension, key, *numbers in rows:
        if timer not in report:
            continue
        if dimension is None:
            report[timer].update(figures(*numbers))
        else:
            report[timer][f"by_{dimension}"][None if key is None else str(key)] = figures(*numbers)
    for timer in TIMERS:
        for d in DIMENSIONS:
            report[timer][f"by_{d}"] = _sorted_groups(report[timer][f"by_{d}"])
    return report


def _delta(now, before):
    return None if now is None or before is None else round(now - before, 1)


def trend(current: dict, previous: dict) -> dict:
    """Per timer: the previous period's overall figures and the Δ of each (this − previous)."""
    keys = ("met", "breached", "total", "timed", *FIGURES)
    out = {}
    for timer in TIMERS:
        now, before = current[timer], previous[timer]
        out[timer] = {"previous": {k: before[k] for k in keys},
                      "delta": {k: _delta(now[k], before[k]) for k in ("total", *FIGURES)}}
    return out
