"""The benchmarks page's rules: the headline metrics, the tenant weeks they are kept for, when a week
is closed, and the Δ and trend of a series. Pure.

- **The metrics** (`METRICS`) are figures of one tenant week (its timezone and first day of the
  week, like every report): tickets created and resolved in it (a ticket counts once, in the week
  of its latest resolution unless reopened since, as in ticket volume), the backlog (tickets open
  at the week's end), first-response and resolution SLA attainment (timers that ended in it) and
  the median first response in business minutes (the SLA report's, from `ticket.sla_met`), items
  completed (the status report's total), billable hours and billable utilization (work dates in
  the week), and customers at risk (at_risk or critical by the latest daily health score on or
  before the week's last day).
- **A week is closed** `GRACE` after its end (events of its last minutes are still on their way).
  A closed week's figures are **frozen** into a snapshot the first time they are needed — by the
  hourly snapshot timer (so a week is frozen within about an hour of closing even when nobody
  reads) or by a read, whichever comes first. Frozen is for good: a late event, a rebuild or a
  tenant moving to another zone changes the live reports, never a snapshot, so a benchmark always
  compares against what was reported then. Exactly once: the snapshot is an `INSERT … ON CONFLICT
  DO NOTHING` on (tenant, week) and every reader answers with the stored row, so two instances
  that freeze the same week at the same time store one row and both answer it.
  The current week is never frozen: it is computed live, up to now ("so far this week").
- **Δ** of a metric is this week − the week before, Δ% that as a percent of the week before (None
  when either is unknown, Δ% also when the week before is 0).
- **Trend** of a metric is the direction of the least-squares slope over the last `TREND_WEEKS`
  weeks that have a value: `up` or `down` when the slope moves the metric by more than
  `FLAT_FRACTION` of its mean magnitude per week, `flat` otherwise (and with fewer than two values).
  Whether up is good is the metric's `better` (the backlog and the median first response are
  better down).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from reports.status_report import week_start_of
from reports.weeks import zone

GRACE = timedelta(hours=1)
TREND_WEEKS = 4
FLAT_FRACTION = 0.02


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # count, percent, minutes, hours, fraction
    better: str  # up or down


METRICS = (
    Metric("tickets_created", "Tickets created", "count", "up"),
    Metric("tickets_resolved", "Tickets resolved", "count", "up"),
    Metric("backlog", "Backlog at week end", "count", "down"),
    Metric("first_response_attainment_pct", "First-response SLA attainment %", "percent", "up"),
    Metric("resolution_attainment_pct", "Resolution SLA attainment %", "percent", "up"),
    Metric("median_first_response_business_minutes", "Median first response (business minutes)", "minutes", "down"),
    Metric("items_completed", "Items completed", "count", "up"),
    Metric("billable_hours", "Billable hours", "hours", "up"),
    Metric("utilization", "Billable utilization", "fraction", "up"),
    Metric("at_risk_customers", "Customers at risk", "count", "down"),
)
KEYS = tuple(m.key for m in METRICS)
BY_KEY = {m.key: m for m in METRICS}


def week_bounds(week: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants the tenant week starting on `week` runs from (included) and to (excluded),
    midnight to midnight in the tenant's zone (a DST week is 167 or 169 hours long)."""
    local = zone(tz)
    start = datetime.combine(week, time(), local).astimezone(timezone.utc)
    end = datetime.combine(week + timedelta(days=7), time(), local).astimezone(timezone.utc)
    return start, end


def is_closed(week: date, tz: str, now: datetime) -> bool:
    """Whether the week ended at least GRACE before `now` (its snapshot may be frozen)."""
    return now >= week_bounds(week, tz)[1] + GRACE


def current_week(now: datetime, tz: str, first_day: str) -> date:
    return week_start_of(now.astimezone(zone(tz)).date(), first_day)


def weeks_back(now: datetime, tz: str, first_day: str, count: int) -> list[date]:
    """The first days of the last `count` tenant weeks, this one included, oldest first."""
    if count < 1:
        raise ValueError("count must be at least 1")
    this = current_week(now, tz, first_day)
    return [this - timedelta(weeks=n) for n in range(count - 1, -1, -1)]


def last_closed_week(now: datetime, tz: str, first_day: str) -> date | None:
    """The newest week that is closed as of `now` (the one before this, once GRACE has passed)."""
    week = current_week(now, tz, first_day) - timedelta(weeks=1)
    return week if is_closed(week, tz, now) else week - timedelta(weeks=1)


def change(current: float | None, previous: float | None) -> tuple[float | None, float | None]:
    """(Δ, Δ% to one decimal); None where it cannot be said."""
    if current is None or previous is None:
        return None, None
    delta = round(current - previous, 4)
    pct = None if previous == 0 else round(100.0 * (current - previous) / abs(previous), 1)
    return delta, pct


def trend(values: list[float | None]) -> dict:
    """`{direction, slope}` over the last TREND_WEEKS known values (slope: per week, 4 decimals)."""
    known = [v for v in values if v is not None][-TREND_WEEKS:]
    if len(known) < 2:
        return {"direction": "flat", "slope": None}
    n = len(known)
    mean_x, mean_y = (n - 1) / 2, sum(known) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(known)) / sum(
        (x - mean_x) ** 2 for x in range(n))
    scale = sum(abs(v) for v in known) / n
    if abs(slope) <= FLAT_FRACTION * scale or slope == 0:
        direction = "flat"
    else:
        direction = "up" if slope > 0 else "down"
    return {"direction": direction, "slope": round(slope, 4)}


def series(weeks: list[tuple[date, bool, dict]], keys=KEYS) -> dict:
    """The benchmarks series from `(week, frozen, figures)` oldest first: each week with its
    figures and their Δ against the week before (the first week's against the one before it, when
    given as a leading extra entry with `frozen` None: it is used for Δ and not shown), and each
    metric's trend over the closed (frozen) weeks shown: a week under way would read as a fall."""
    shown = [w for w in weeks if w[1]]
    items, previous = [], None
    for week, frozen, figures in weeks:
        if frozen is not None:
            deltas = {k: change(figures.get(k), None if previous is None else previous.get(k)) for k in keys}
            items.append({"week_start": week.isoformat(), "week_end": (week + timedelta(days=6)).isoformat(),
                          "frozen": frozen, "metrics": {k: figures.get(k) for k in keys},
                          "delta": {k: d[0] for k, d in deltas.items()},
                          "delta_pct": {k: d[1] for k, d in deltas.items()}})
        previous = figures
    trends = {k: trend([figures.get(k) for _, _, figures in shown]) for k in keys}
    return {"items": items, "trend": trends}
