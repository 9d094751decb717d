"""SLA attainment's read models (SLA timers, tickets' priority, customers' tiers) and its query. The
rules are in `reports.sla_report`; `_ended` is its `outcome`, in SQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Date, and_, case, cast, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from reports import sla_report
from reports.models import report_customers, sla_timers, ticket_facts


def _timer_upsert(column: str):
    """Keep the earliest instant given for `column` (deadline, breached_at or met_at) of a timer."""
    table = sla_timers
    stmt = insert(table)
    updates = {column: func.least(func.coalesce(table.c[column], stmt.excluded[column]), stmt.excluded[column])}
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
    """A customer's name and tier, unless a newer tier is kept."""
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
            updates[key] = case((newer, stmt.excluded[key]), else_=table.c[key])
    if not updates:
        session.execute(stmt.on_conflict_do_nothing())
        return
    updates.update(tier_at=case((newer, stmt.excluded.tier_at), else_=table.c.tier_at),
                   tier_seq=case((newer, stmt.excluded.tier_seq), else_=table.c.tier_seq))
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.customer_id],
                                               set_=updates))


def attainment(session, tenant_id, tz: str, date_from: date, date_to: date) -> dict:
    """SLA attainment of the timers that ended on the tenant-local days date_from..date_to."""
    timers, tickets, customers = sla_timers, ticket_facts, report_customers
    late = and_(timers.c.deadline.is_not(None), timers.c.met_at > timers.c.deadline)
    breached = or_(timers.c.breached_at.is_not(None), late)
    ended_at = case((timers.c.breached_at.is_not(None), timers.c.breached_at), (late, timers.c.deadline),
                    else_=timers.c.met_at)
    day = cast(func.timezone(tz, ended_at), Date)
    lower = datetime.combine(date_from, time(), timezone.utc) - timedelta(days=1)
    upper = datetime.combine(date_to, time(), timezone.utc) + timedelta(days=2)
    stmt = (select(timers.c.timer, tickets.c.priority, customers.c.tier,
                   func.count().filter(~breached), func.count().filter(breached))
            .select_from(timers.outerjoin(tickets, and_(tickets.c.tenant_id == timers.c.tenant_id,
                                                        tickets.c.ticket_id == timers.c.ticket_id))
                         .outerjoin(customers, and_(customers.c.tenant_id == timers.c.tenant_id,
                                                    customers.c.customer_id == timers.c.customer_id)))
            .where(timers.c.tenant_id == tenant_id, ended_at.is_not(None), ended_at >= lower, ended_at < upper,
                   day >= date_from, day <= date_to)
            .group_by(timers.c.timer, tickets.c.priority, customers.c.tier))
    counts = [tuple(row) for row in session.execute(stmt)]
    return {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), **sla_report.roll_up(counts)}
