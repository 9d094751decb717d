"""Per-customer headline figures (`GET /customer_metrics`), from the read models, as of now.

- The customers are those the customers service told (report_customers), by id; a page is keyed by
  the last customer id of the one before.
- Open tickets: by each ticket's latest move (health_tickets).
- SLA attainment: of the timers that ended in the last `WINDOW_DAYS` days (reports.sla_report's
  outcome and the instant it counts at, the generated `outcome` / `ended_at` of sla_timers).
- The last human touchpoint: the customer's latest interaction, reply or ticket by a person.
- Health: the score and state as of now (reports.health, the tenant's settings), like the at-risk list.
- Time: billable and tracked hours of work dates in the tenant's current calendar month, so far.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from reports import health, health_store, sla_report, time_report
from reports.health_models import health_customers, health_tickets
from reports.models import report_customers, sla_timers, time_facts
from reports.weeks import zone

WINDOW_DAYS = 30
# from this many customers on, the health signals are read once for the whole tenant (one set of
# grouped queries, ~5 single-customer reads' worth) rather than customer by customer
TENANT_WIDE_SIGNALS = 5


def _page(session, tenant_id, customer_ids, limit: int, after) -> tuple[list, int]:
    c = report_customers
    where = [c.c.tenant_id == tenant_id]
    if customer_ids is not None:
        where.append(c.c.customer_id.in_(list(customer_ids)))
    total = session.execute(select(func.count()).where(*where)).scalar_one()
    if after is not None:
        where.append(c.c.customer_id > after)
    rows = session.execute(select(c.c.customer_id, c.c.name, c.c.tier).where(*where)
                           .order_by(c.c.customer_id).limit(limit + 1)).all()
    return rows, total


def _sla(session, tenant_id, ids, since: datetime) -> dict:
    t = sla_timers  # `outcome` and `ended_at` are reports.sla_report's outcome, as generated columns
    breached = t.c.outcome == sla_report.BREACHED
    out: dict = {}
    for cid, timer, met, missed in session.execute(
            select(t.c.customer_id, t.c.timer, func.count().filter(~breached), func.count().filter(breached))
            .where(t.c.tenant_id == tenant_id, t.c.customer_id.in_(ids), t.c.ended_at >= since,
                   t.c.outcome.is_not(None))
            .group_by(t.c.customer_id, t.c.timer)):
        out.setdefault(cid, {})[timer] = sla_report.rates(met, missed)
    return out


def customer_metrics(session, tenant_id, now: datetime, tz: str, customer_ids=None, limit: int = 50,
                     after=None) -> dict:
    rows, total = _page(session, tenant_id, customer_ids, limit, after)
    more, rows = len(rows) > limit, rows[:limit]
    ids = [row.customer_id for row in rows]
    today = now.astimezone(zone(tz)).date()
    month_start = today.replace(day=1)
    if not ids:
        return {"as_of": now.isoformat(), "month_start": month_start.isoformat(), "items": [], "total": total,
                "next_cursor": None}
    ht, hc = health_tickets, health_customers
    open_tickets = dict(session.execute(
        select(ht.c.customer_id, func.count()).where(ht.c.tenant_id == tenant_id, ht.c.customer_id.in_(ids),
                                                     ht.c.is_open).group_by(ht.c.customer_id)).all())
    touches = dict(session.execute(select(hc.c.customer_id, hc.c.last_human_touch_at).where(
        hc.c.tenant_id == tenant_id, hc.c.customer_id.in_(ids))).all())
    sla = _sla(session, tenant_id, ids, now - timedelta(days=WINDOW_DAYS))
    tf = time_facts
    hours = {cid: (int(tracked), int(billable)) for cid, tracked, billable in session.execute(
        select(tf.c.customer_id, func.sum(tf.c.minutes),
               func.coalesce(func.sum(tf.c.minutes).filter(tf.c.billable), 0))
        .where(tf.c.tenant_id == tenant_id, tf.c.customer_id.in_(ids), ~tf.c.deleted,
               tf.c.work_date >= month_start, tf.c.work_date <= today)
        .group_by(tf.c.customer_id))}
    settings = health_store.tenant_settings(session, tenant_id)
    every = health_store.signals_by_customer(session, tenant_id, now) if len(ids) >= TENANT_WIDE_SIGNALS else None
    items = []
    for row in rows:
        cid = row.customer_id
        signals = every.get(cid, {}) if every is not None else health_store.signals_by_customer(
            session, tenant_id, now, cid)[cid]
        scored = health.score(signals, settings)
        timers = sla.get(cid, {})
        tracked, billable = hours.get(cid, (0, 0))
        touch = touches.get(cid)
        items.append({
            "customer_id": str(cid), "name": row.name, "tier": row.tier,
            "open_tickets": open_tickets.get(cid, 0),
            "first_response_attainment_pct": timers.get("first_response", {}).get("attainment_pct"),
            "resolution_attainment_pct": timers.get("resolution", {}).get("attainment_pct"),
            "sla_breaches_30d": sum(r["breached"] for r in timers.values()),
            "last_human_touch_at": touch.isoformat() if touch else None,
            "health_score": scored.score, "health_state": scored.state,
            "billable_hours_month": time_report.hours(billable), "tracked_hours_month": time_report.hours(tracked),
            "utilization_month": time_report.utilization(billable, tracked)})
    return {"as_of": now.isoformat(), "month_start": month_start.isoformat(), "items": items, "total": total,
            "next_cursor": str(ids[-1]) if more else None}
