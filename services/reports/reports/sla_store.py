"""SLA attainment's read models (SLA timers, tickets' priority, customers' tiers) and its query. The
rules are in `reports.sla_report`; its `outcome` is kept in SQL by sla_timers' generated columns
(`outcome`, `ended_at`, indexed), so a period's timers are an index range, and its medians and p90s
are `percentile_cont` over that range's rows (one statement: both periods, every grouping)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import case, func, or_, text, tuple_
from sqlalchemy.dialects.postgresql import insert

from reports import periods, sla_report
from reports.models import report_customers, sla_timers, ticket_facts


def _timer_upsert(column: str):
    """Keep the earliest instant given for `column` (deadline, breached_at or met_at) of a timer. A
    stop told by ticket.sla_met (`started_at` set) is not moved by the older events' guess of it
    (a reply sent by mail stops the clock when the mail leaves, after `ticket.replied`)."""
    table = sla_timers
    stmt = insert(table)
    earliest = func.least(func.coalesce(table.c[column], stmt.excluded[column]), stmt.excluded[column])
    if column == "met_at":
        earliest = case((table.c.started_at.is_not(None), table.c.met_at), else_=earliest)
    updates = {column: earliest}
    if column == "deadline":
        updates["target_minutes"] = stmt.excluded.target_minutes
    return stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.ticket_id, table.c.timer],
                                      set_=updates)


_TIMER_UPSERTS = {column: _timer_upsert(column) for column in ("deadline", "breached_at", "met_at")}


def save_timer(session, tenant_id, data, timer: str, **instants) -> None:
    """Record a timer's deadline (warning), breach or the instant it was met (earliest kept)."""
    if timer not in sla_report.TIMERS:
        return
    for column, at in instants.items():
        session.execute(_TIMER_UPSERTS[column], {
            "tenant_id": tenant_id, "ticket_id": data.ticket_id, "timer": timer, "customer_id": data.customer_id,
            column: at, "target_minutes": getattr(data, "target_minutes", None)})


def _met_upsert():
    """`ticket.sla_met`: the stop kept is the earliest told (the timer's first run), over any stop
    guessed from ticket.replied / ticket.resolved; with it come its business minutes, lateness,
    deadline and the ticket's priority, tier, team and assignee then."""
    table = sla_timers
    stmt = insert(table)
    kept = or_(table.c.started_at.is_(None), stmt.excluded.met_at <= table.c.met_at)
    updates = {name: case((kept, stmt.excluded[name]), else_=table.c[name])
               for name in ("met_at", "started_at", "business_minutes", "met_late", "priority", "tier", "team_id",
                            "assignee_id", "target_minutes")}
    updates["deadline"] = case((kept, func.coalesce(stmt.excluded.deadline, table.c.deadline)), else_=table.c.deadline)
    return stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.ticket_id, table.c.timer],
                                      set_=updates)


_MET_UPSERT = _met_upsert()


def save_met(session, tenant_id, data) -> None:
    """A timer's stop as the tickets service told it (`ticket.sla_met`)."""
    if data.timer not in sla_report.TIMERS:
        return
    session.execute(_MET_UPSERT, {
        "tenant_id": tenant_id, "ticket_id": data.ticket_id, "timer": data.timer, "customer_id": data.customer_id,
        "met_at": data.met_at, "started_at": data.started_at, "business_minutes": data.business_minutes,
        "met_late": data.breached, "deadline": data.deadline, "target_minutes": data.target_minutes,
        "priority": data.priority, "tier": data.tier, "team_id": data.team_id, "assignee_id": data.assignee_id})


def save_priority(session, tenant_id, envelope, ticket_id, customer_id, priority: str, at: datetime) -> None:
    """A ticket's priority, unless a newer one is kept."""
    table = ticket_facts
    stmt = insert(table).values(tenant_id=tenant_id, ticket_id=ticket_id, customer_id=customer_id,
                                priority=priority, priority_at=at)
    newer = or_(table.c.priority_at.is_(None), table.c.priority_at <= stmt.excluded.priority_at)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.ticket_id],
        set_={"priority": case((newer, stmt.excluded.priority), else_=table.c.priority),
              "priority_at": case((newer, stmt.excluded.priority_at), else_=table.c.priority_at)}))


def save_customer(session, tenant_id, envelope, customer_id, name=None, tier=None) -> None:
    """A customer's name and tier, unless a newer one is kept; a name is taken whatever its age while
    none is kept (customer.updated of the tier arriving before customer.created kept no name)."""
    table = report_customers
    values = {"tenant_id": tenant_id, "customer_id": customer_id, "tier_at": envelope.occurred_at,
              "tier_seq": envelope.sequence or 0}
    if name is not None:
        values["name"] = str(name)[:300]
    if tier is not None:
        values["tier"] = tier
    stmt = insert(table).values(**values)
    newer = or_(table.c.tier_at.is_(None),
                tuple_(table.c.tier_at, table.c.tier_seq) <= tuple_(stmt.excluded.tier_at, stmt.excluded.tier_seq))
    updates = {}
    for key in ("name", "tier"):
        if key in values:
            take = or_(newer, table.c.name == "") if key == "name" else newer
            updates[key] = case((take, stmt.excluded[key]), else_=table.c[key])
    if not updates:
        session.execute(stmt.on_conflict_do_nothing())
        return
    updates.update(tier_at=case((newer, stmt.excluded.tier_at), else_=table.c.tier_at),
                   tier_seq=case((newer, stmt.excluded.tier_seq), else_=table.c.tier_seq))
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.customer_id],
                                               set_=updates))


# The timers a ticket.sla_met told carry their groups; only the others (older events, timers breached
# and still running) look theirs up (the ticket's latest priority, team and assignee, its customer's tier):
# two branches, so the lookups cost nothing when none is needed. Groups stay uuids until the output.
_REPORT = text("""
WITH ended AS (
    SELECT t.timer, t.outcome, t.business_minutes, t.ended_at >= :current_start AS current,
           t.priority, t.tier, t.team_id AS team, t.assignee_id AS assignee
    FROM sla_timers t
    WHERE t.tenant_id = :tenant_id AND t.ended_at >= :previous_start AND t.ended_at < :current_end
      AND t.timer IN ('first_response', 'resolution') AND t.started_at IS NOT NULL
    UNION ALL
    SELECT t.timer, t.outcome, t.business_minutes, t.ended_at >= :current_start,
           f.priority, c.tier, f.team_id, f.assignee_id
    FROM sla_timers t
    LEFT JOIN ticket_facts f ON f.tenant_id = t.tenant_id AND f.ticket_id = t.ticket_id
    LEFT JOIN report_customers c ON c.tenant_id = t.tenant_id AND c.customer_id = t.customer_id
    WHERE t.tenant_id = :tenant_id AND t.ended_at >= :previous_start AND t.ended_at < :current_end
      AND t.timer IN ('first_response', 'resolution') AND t.started_at IS NULL
)
SELECT CASE WHEN current THEN 'current' ELSE 'previous' END AS period, timer, NULL AS dimension, NULL AS key,
       count(*) FILTER (WHERE outcome = 'met') AS met, count(*) FILTER (WHERE outcome = 'breached') AS breached,
       count(business_minutes) AS timed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY business_minutes) AS median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY business_minutes) AS p90
FROM ended GROUP BY current, timer
UNION ALL  -- the groups of this period only (the trend compares the overall figures)
SELECT 'current', timer,
       CASE WHEN GROUPING(priority) = 0 THEN 'priority' WHEN GROUPING(tier) = 0 THEN 'tier'
            WHEN GROUPING(team) = 0 THEN 'team' ELSE 'assignee' END,
       COALESCE(priority, tier, CAST(team AS text), CAST(assignee AS text)),
       count(*) FILTER (WHERE outcome = 'met'), count(*) FILTER (WHERE outcome = 'breached'),
       count(business_minutes),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY business_minutes),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY business_minutes)
FROM ended WHERE current
GROUP BY GROUPING SETS ((timer, priority), (timer, tier), (timer, team), (timer, assignee))
""")
# the sorts of the groupings fit in memory for a month of 200k tickets' timers (the default 4 MB spills)
_WORK_MEM = text("SET LOCAL work_mem = '32MB'")


def attainment(session, tenant_id, tz: str, current: tuple[date, date], before: tuple[date, date]) -> dict:
    """SLA attainment, times and groups of the timers that ended on the tenant-local days of
    `current`, with the trend against `before` (the period just before it; reports.sla_report)."""
    current_start, current_end = periods.instants(*current, tz)
    previous_start, _ = periods.instants(*before, tz)
    rows = {"current": [], "previous": []}
    session.execute(_WORK_MEM)
    for row in session.execute(_REPORT, {"tenant_id": tenant_id, "current_start": current_start,
                                         "current_end": current_end, "previous_start": previous_start}):
        rows[row.period].append((row.timer, row.dimension, row.key, row.met, row.breached, row.timed, row.median,
                                 row.p90))
    report = sla_report.roll_up(rows["current"])
    return {"date_from": current[0].isoformat(), "date_to": current[1].isoformat(),
            "previous_from": before[0].isoformat(), "previous_to": before[1].isoformat(), **report,
            "trend": sla_report.trend(report, sla_report.roll_up(rows["previous"]))}
