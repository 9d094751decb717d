"""The benchmarks page's figures of a tenant week, from the read models, and its snapshots. The rules
(which metrics, when a week is frozen, Δ and trend) are in `reports.benchmarks`."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from reports import benchmarks, sla_store, status_store, time_store
from reports.benchmark_models import week_snapshots
from reports.health_models import health_scores
from reports.models import ticket_facts
from reports.status_report import StatusRules

AT_RISK_STATES = ("at_risk", "critical")


def _not_reopened_since(table, mark: str):
    done, reopened = (table.c[f"{mark}_at"], table.c[f"{mark}_seq"]), (table.c.reopened_at, table.c.reopened_seq)
    return and_(done[0].is_not(None), or_(reopened[0].is_(None), tuple_(*done) > tuple_(*reopened)))


def _ticket_counts(session, tenant_id, start: datetime, end: datetime) -> dict:
    """Tickets created and resolved in [start, end), and the backlog at `end`.

    The backlog is the tickets created before the end that were not resolved or closed by then,
    or were reopened after that and before the end. The read model keeps each ticket's latest move
    of each kind (reports.facts), so a ticket resolved before the end and resolved again after a
    later reopening counts as open at the end: exact for every ticket moved at most once per kind."""
    t = ticket_facts
    done_at = func.greatest(func.nullif(func.least(t.c.resolved_at, end), end),
                            func.nullif(func.least(t.c.closed_at, end), end))
    is_open = or_(done_at.is_(None), and_(t.c.reopened_at < end, t.c.reopened_at > done_at))
    created = func.count().filter(t.c.created_at >= start, t.c.created_at < end)
    resolved = func.count().filter(t.c.resolved_at >= start, t.c.resolved_at < end, _not_reopened_since(t, "resolved"))
    backlog = func.count().filter(t.c.created_at < end, is_open)
    row = session.execute(select(created, resolved, backlog).where(
        t.c.tenant_id == tenant_id, t.c.created_at.is_not(None))).one()
    return {"tickets_created": row[0], "tickets_resolved": row[1], "backlog": row[2]}


def _at_risk(session, tenant_id, last_day: date) -> int:
    """Customers whose latest daily health score on or before `last_day` is at_risk or critical."""
    s = health_scores
    latest = (select(s.c.customer_id, s.c.state)
              .where(s.c.tenant_id == tenant_id, s.c.day <= last_day)
              .distinct(s.c.customer_id).order_by(s.c.customer_id, s.c.day.desc()).subquery())
    return session.execute(select(func.count()).select_from(latest)
                           .where(latest.c.state.in_(AT_RISK_STATES))).scalar_one()


def week_figures(session, tenant_id, tz: str, first_day: str, week: date, now: datetime,
                 rules: StatusRules) -> dict:
    """Every headline metric of the tenant week starting on `week`, as the read models stand (the
    current week: up to now)."""
    start, end = benchmarks.week_bounds(week, tz)
    end = min(end, max(now, start))
    last_day = week + timedelta(days=6)
    today = now.astimezone(benchmarks.zone(tz)).date()
    sla = sla_store.attainment(session, tenant_id, tz, (week, last_day),
                               (week - timedelta(days=7), week - timedelta(days=1)))
    hours = time_store.time_by(session, tenant_id, "customer", week, last_day)["totals"]
    rows = status_store.status_rows(session, tenant_id, tz, first_day, week, today, rules)
    return {**_ticket_counts(session, tenant_id, start, end),
            "first_response_attainment_pct": sla["first_response"]["attainment_pct"],
            "resolution_attainment_pct": sla["resolution"]["attainment_pct"],
            "median_first_response_business_minutes": sla["first_response"]["median_business_minutes"],
            "items_completed": sum(r["this_week"] for r in rows),
            "billable_hours": hours["billable_hours"], "utilization": hours["utilization"],
            "at_risk_customers": _at_risk(session, tenant_id, min(last_day, today))}


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
    out = []
    for week in weeks:
        if week in stored:
            out.append((week, True, stored[week]))
            continue
        figures = week_figures(session, tenant_id, tz, first_day, week, now, rules)
        if benchmarks.is_closed(week, tz, now):
            out.append((week, True, freeze(session, tenant_id, week, tz, first_day, figures, now)[0]))
        else:
            out.append((week, False, figures))
    return out
