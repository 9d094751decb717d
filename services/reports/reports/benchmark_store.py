"""The benchmarks page's figures of tenant weeks, from the read models, and its snapshots. The rules
(which metrics, when a week is frozen, Δ and trend) are in `reports.benchmarks`.

Every metric of any run of weeks is a handful of grouped queries, whatever the number of weeks (a
first read of two years freezes 104 weeks at once). The backlog and the customers at risk are
states at each week's end; each is summed from per-row changes of state, not counted per week:

- A ticket is open at an instant when the last of its moves before it — created, resolved,
  closed, reopened (the latest of each kind, reports.facts) — is its creation or a reopening
  (at the same instant a resolution or close comes after a reopening). Each move's change of state
  (+1 opened, −1 done, 0 unchanged) is dated; the backlog at a week's end is the sum of the changes
  before it. Exact for the read model: the same as asking each ticket at each week's end.
- A customer counts as at risk on a day when its latest daily health score on or before that day
  is at_risk or critical; likewise summed from each score's change of that state.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert

from reports import benchmarks, time_report
from reports.benchmark_models import week_snapshots
from reports.health_models import health_scores
from reports.models import ticket_facts
from reports.sla_report import rates
from reports.status_report import WEEK_START_DAYS, StatusRules

AT_RISK_STATES = ("at_risk", "critical")
# Up to this many weeks the states at the weeks' ends are counted at each end (the backlog: one pass
# over the tickets, a count per end; the customers at risk: a look-up of the latest scores per day);
# beyond, summed from every change of state since the beginning. Measured (200k tickets, 2,000
# customers × 60 days of scores, loaded machine): backlog per end 0.55 s for 13 ends and 4.0 s for
# 105, by changes 2.6 s and 3.4 s; at risk per day 0.3 s each, by changes 0.6 s for any number.
FEW_BACKLOG_ENDS = 52
FEW_AT_RISK_DAYS = 2

# the first day of the tenant week of a local date `d` (status_report.week_start_of, in SQL)
_WEEK = "({d} - ((CAST(extract(isodow FROM {d}) AS int) - :first + 7) % 7))"


def _week(day_sql: str) -> str:
    return _WEEK.format(d=day_sql)


def _local_week(instant: str) -> str:
    return _week(f"CAST(({instant} AT TIME ZONE :tz) AS date)")


def _not_reopened_since(mark: str) -> str:
    return (f"{mark}_at IS NOT NULL AND (reopened_at IS NULL OR ({mark}_at, {mark}_seq) > (reopened_at, "
            f"reopened_seq))")


_TICKETS = text(f"""
SELECT {_local_week('created_at')} AS week, 'created' AS kind, count(*) AS n FROM ticket_facts
WHERE tenant_id = :tenant_id AND created_at >= :lower AND created_at < :upper GROUP BY 1
UNION ALL
SELECT {_local_week('resolved_at')}, 'resolved', count(*) FROM ticket_facts
WHERE tenant_id = :tenant_id AND resolved_at >= :lower AND resolved_at < :upper AND created_at IS NOT NULL
  AND {_not_reopened_since('resolved')} GROUP BY 1
""")

# each ticket move's change of open state, dated; summed per week, with all of them before the window
_BACKLOG = text(f"""
WITH moves AS (
    SELECT ticket_id, created_at AS at, 0 AS ord, 1 AS open FROM ticket_facts
    WHERE tenant_id = :tenant_id AND created_at IS NOT NULL
    UNION ALL SELECT ticket_id, reopened_at, 1, 1 FROM ticket_facts
    WHERE tenant_id = :tenant_id AND created_at IS NOT NULL AND reopened_at IS NOT NULL
    UNION ALL SELECT ticket_id, resolved_at, 2, 0 FROM ticket_facts
    WHERE tenant_id = :tenant_id AND created_at IS NOT NULL AND resolved_at IS NOT NULL
    UNION ALL SELECT ticket_id, closed_at, 2, 0 FROM ticket_facts
    WHERE tenant_id = :tenant_id AND created_at IS NOT NULL AND closed_at IS NOT NULL
), changes AS (
    SELECT at, open - lag(open, 1, 0) OVER (PARTITION BY ticket_id ORDER BY at, ord) AS change FROM moves
)
SELECT CASE WHEN at < :lower THEN NULL ELSE {_local_week('at')} END AS week, sum(change) AS n
FROM changes WHERE at < :upper GROUP BY 1
""")

_SLA = text(f"""
SELECT {_local_week('ended_at')} AS week, timer, count(*) FILTER (WHERE outcome = 'met') AS met,
       count(*) FILTER (WHERE outcome = 'breached') AS breached,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY business_minutes) AS median
FROM sla_timers WHERE tenant_id = :tenant_id AND ended_at >= :lower AND ended_at < :upper
  AND timer IN ('first_response', 'resolution')
GROUP BY 1, 2
""")

_TASKS = text(f"""
SELECT {_local_week('t.completed_at')} AS week, count(*) AS n
FROM task_facts t LEFT JOIN report_projects p ON p.tenant_id = t.tenant_id AND p.project_id = t.project_id
WHERE t.tenant_id = :tenant_id AND t.deleted_at IS NULL AND p.deleted_at IS NULL
  AND t.completed_at >= :lower AND t.completed_at < :upper
  AND t.completed_at IS NOT NULL AND (t.reopened_at IS NULL OR (t.completed_at, t.completed_seq) > (t.reopened_at,
      t.reopened_seq))
GROUP BY 1
""")

_TIME = text(f"""
SELECT {_week('work_date')} AS week, sum(minutes) AS tracked,
       coalesce(sum(minutes) FILTER (WHERE billable), 0) AS billable
FROM time_facts WHERE tenant_id = :tenant_id AND NOT deleted AND work_date >= :first_day AND work_date <= :last_day
GROUP BY 1
""")

# each daily score's change of at-risk state per customer, by day; summed up to each week's last day
_AT_RISK = text("""
WITH states AS (
    SELECT day, CASE WHEN state IN ('at_risk', 'critical') THEN 1 ELSE 0 END AS risky, customer_id
    FROM health_scores WHERE tenant_id = :tenant_id AND day <= :last_day
)
SELECT day, sum(change) AS n FROM (
    SELECT day, risky - lag(risky, 1, 0) OVER (PARTITION BY customer_id ORDER BY day) AS change FROM states
) c GROUP BY 1 ORDER BY 1
""")


def _backlogs_at(session, tenant_id, ends: list[datetime]) -> list[int]:
    """The tickets open at each instant of `ends` (the rule of this module's docstring, asked at each)."""
    t = ticket_facts
    counts = []
    for end in ends:
        done_at = func.greatest(func.nullif(func.least(t.c.resolved_at, end), end),
                                func.nullif(func.least(t.c.closed_at, end), end))
        is_open = or_(done_at.is_(None), and_(t.c.reopened_at < end, t.c.reopened_at > done_at))
        counts.append(func.count().filter(t.c.created_at < end, is_open))
    return list(session.execute(select(*counts).where(t.c.tenant_id == tenant_id,
                                                      t.c.created_at.is_not(None))).one())


def _at_risk_on(session, tenant_id, day: date) -> int:
    s = health_scores
    latest = (select(s.c.customer_id, s.c.state).where(s.c.tenant_id == tenant_id, s.c.day <= day)
              .distinct(s.c.customer_id).order_by(s.c.customer_id, s.c.day.desc()).subquery())
    return session.execute(select(func.count()).select_from(latest)
                           .where(latest.c.state.in_(AT_RISK_STATES))).scalar_one()


def figures_for_weeks(session, tenant_id, tz: str, first_day: str, weeks: list[date], now: datetime) -> dict:
    """`{week: figures}` of every headline metric of these tenant weeks (any order, any gaps), as the
    read models stand; the current week's up to now."""
    if not weeks:
        return {}
    first, last = min(weeks), max(weeks)
    lower = benchmarks.week_bounds(first, tz)[0]
    upper = min(benchmarks.week_bounds(last, tz)[1], max(now, lower))
    today = now.astimezone(benchmarks.zone(tz)).date()
    params = {"tenant_id": tenant_id, "tz": tz, "first": WEEK_START_DAYS[first_day], "lower": lower,
              "upper": upper, "first_day": first, "last_day": last + timedelta(days=6)}
    counts: dict = {}
    for week, kind, n in session.execute(_TICKETS, params):
        counts[(week, kind)] = n
    shown = sorted(set(weeks))
    few_ends, few_days = len(shown) <= FEW_BACKLOG_ENDS, len(shown) <= FEW_AT_RISK_DAYS
    if few_ends:
        ends = [min(benchmarks.week_bounds(w, tz)[1], max(now, lower)) for w in shown]
        backlogs = dict(zip(shown, _backlogs_at(session, tenant_id, ends)))
    if few_days:
        at_risk = {w: _at_risk_on(session, tenant_id, min(w + timedelta(days=6), today)) for w in shown}
    before, changes = 0, {}
    for week, n in ([] if few_ends else session.execute(_BACKLOG, params)):
        if week is None:
            before = int(n)
        else:
            changes[week] = int(n)
    sla: dict = {}
    for week, timer, met, breached, median in session.execute(_SLA, params):
        sla[(week, timer)] = (rates(met, breached)["attainment_pct"], median)
    tasks = dict(session.execute(_TASKS, params).all())
    hours = {week: (int(tracked), int(billable)) for week, tracked, billable in session.execute(_TIME, params)}
    risk_days = [] if few_days else session.execute(
        _AT_RISK, {**params, "last_day": min(last + timedelta(days=6), today)}).all()

    out, backlog = {}, before
    for week in sorted(w for w in {first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)}):
        backlog += changes.get(week, 0)
        if week not in weeks:
            continue
        last_day = min(week + timedelta(days=6), today)
        tracked, billable = hours.get(week, (0, 0))
        first_response = sla.get((week, "first_response"), (None, None))
        resolved = counts.get((week, "resolved"), 0)
        median = first_response[1]
        out[week] = {
            "tickets_created": counts.get((week, "created"), 0), "tickets_resolved": resolved,
            "backlog": backlogs[week] if few_ends else backlog,
            "first_response_attainment_pct": first_response[0],
            "resolution_attainment_pct": sla.get((week, "resolution"), (None, None))[0],
            "median_first_response_business_minutes": None if median is None else round(float(median), 1),
            "items_completed": tasks.get(week, 0) + resolved,
            "billable_hours": time_report.hours(billable), "utilization": time_report.utilization(billable, tracked),
            "at_risk_customers": at_risk[week] if few_days else int(sum(n for day, n in risk_days
                                                                        if day <= last_day))}
    return out


def week_figures(session, tenant_id, tz: str, first_day: str, week: date, now: datetime,
                 rules: StatusRules | None = None) -> dict:
    """Every headline metric of the tenant week starting on `week` (the current week: up to now)."""
    return figures_for_weeks(session, tenant_id, tz, first_day, [week], now)[week]


def frozen(session, tenant_id, weeks: list[date]) -> dict[date, dict]:
    """The stored snapshots of these weeks: `{week: metrics}`."""
    t = week_snapshots
    return {row.week_start: row.metrics for row in session.execute(
        select(t.c.week_start, t.c.metrics).where(t.c.tenant_id == tenant_id, t.c.week_start.in_(weeks)))}


def freeze(session, tenant_id, week: date, tz: str, first_day: str, figures: dict,
           now: datetime) -> tuple[dict, bool]:
    """Store the week's snapshot unless one is stored already: (the stored one, whichever instance
    froze it first; whether this call stored it)."""
    t = week_snapshots
    row = insert(t).values(tenant_id=tenant_id, week_start=week, timezone=tz, first_day_of_week=first_day,
                           metrics=figures, taken_at=now)
    inserted = session.execute(row.on_conflict_do_nothing(index_elements=[t.c.tenant_id, t.c.week_start])
                               .returning(t.c.week_start)).first() is not None
    return session.execute(select(t.c.metrics).where(t.c.tenant_id == tenant_id,
                                                     t.c.week_start == week)).scalar_one(), inserted


def weeks_with_figures(session, tenant_id, tz: str, first_day: str, rules: StatusRules, weeks: list[date],
                       now: datetime | None = None) -> list[tuple[date, bool, dict]]:
    """`(week, frozen, figures)` for each week: a closed week's snapshot (frozen now if it is not
    yet), the open weeks' figures live. Call it in a transaction."""
    now = now or datetime.now(timezone.utc)
    stored = frozen(session, tenant_id, weeks)
    computed = figures_for_weeks(session, tenant_id, tz, first_day, [w for w in weeks if w not in stored], now)
    out = []
    for week in weeks:
        if week in stored:
            out.append((week, True, stored[week]))
        elif benchmarks.is_closed(week, tz, now):
            out.append((week, True, freeze(session, tenant_id, week, tz, first_day, computed[week], now)[0]))
        else:
            out.append((week, False, computed[week]))
    return out
