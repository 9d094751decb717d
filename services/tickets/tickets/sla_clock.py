"""The SLA deadline clock: emits `ticket.sla_warning` / `ticket.sla_breached` when they fall due.

It sleeps until the next due `warn_at` / `deadline` (the minimum over the two partial indexes) and
never longer than `max_sleep` seconds as a safety net (`custops.notified_loop.DeadlineLoop`, the
shape every custops clock shares). A transaction that makes a timer due sends
`NOTIFY custops_sla` with the earliest instant it made due: the clock keeps its next wake-up in
memory and only moves it earlier when told of an earlier instant (`wake_time`), so a burst of new
tickets, each due in hours, costs it no query at all; a NOTIFY without an instant makes it look now.

Due rows are claimed with `FOR UPDATE SKIP LOCKED`; `warned_at` / `breached_at` and the outbox row
commit in one transaction, so each event is emitted exactly once per ticket and timer, with any
number of instances running and across restarts (a row that fell due while no instance ran is due
at once on start). A breach also applies the tenant's escalation rule in that transaction.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.orm import Session

from custops import db, outbox
from custops.contracts.tickets import TicketAssigned, TicketSlaBreached, TicketSlaWarning, TicketUpdated
from custops.notified_loop import DeadlineLoop
from tickets import sla_store

log = logging.getLogger(__name__)

BATCH = 500

_NEXT_DUE = text("""
    SELECT EXTRACT(EPOCH FROM (LEAST(
        (SELECT min(warn_at) FROM ticket_sla_timers
          WHERE warned_at IS NULL AND met_at IS NULL AND warn_at IS NOT NULL AND deadline IS NOT NULL),
        (SELECT min(deadline) FROM ticket_sla_timers
          WHERE breached_at IS NULL AND met_at IS NULL AND deadline IS NOT NULL)) - now()))
""")

# The ticket is locked with the timer (SKIP LOCKED never waits, so no deadlock with ticket commands,
# which lock the ticket first): the event needs its number and customer, escalation changes it.
_CLAIM = """
    SELECT t.ticket_id, t.timer, t.tenant_id, t.deadline, t.warn_at, t.target_minutes, t.policy_version,
           t.calendar_version, k.number, k.customer_id, k.priority, k.assignee_id, k.team_id, k.customer_tier,
           k.status
      FROM ticket_sla_timers t JOIN tickets k ON k.id = t.ticket_id AND k.tenant_id = t.tenant_id
     WHERE {due}
     ORDER BY {column}
     LIMIT :limit
     FOR UPDATE OF t, k SKIP LOCKED
"""
_DUE_WARNINGS = text(_CLAIM.format(
    due="t.warned_at IS NULL AND t.met_at IS NULL AND t.warn_at IS NOT NULL AND t.deadline IS NOT NULL "
        "AND t.warn_at <= now()",
    column="t.warn_at"))
_DUE_BREACHES = text(_CLAIM.format(
    due="t.breached_at IS NULL AND t.met_at IS NULL AND t.deadline IS NOT NULL AND t.deadline <= now()",
    column="t.deadline"))


def fire_due(session: Session, limit: int = BATCH) -> int:
    """Emit every due warning, then every due breach (at most `limit` each), in the caller's
    transaction; returns how many events were written."""
    now = datetime.now(timezone.utc)
    warnings = session.execute(_DUE_WARNINGS, {"limit": limit}).mappings().all()
    for row in warnings:
        outbox.add(session, row["tenant_id"], TicketSlaWarning(
            ticket_id=row["ticket_id"], number=row["number"], customer_id=row["customer_id"],
            timer=row["timer"], deadline=row["deadline"], warn_at=row["warn_at"],
            target_minutes=row["target_minutes"], policy_version=row["policy_version"],
            calendar_version=row["calendar_version"]))
    _mark(session, warnings, "warned_at = now()")
    breaches = session.execute(_DUE_BREACHES, {"limit": limit}).mappings().all()
    for row in breaches:
        outbox.add(session, row["tenant_id"], TicketSlaBreached(
            ticket_id=row["ticket_id"], number=row["number"], customer_id=row["customer_id"],
            timer=row["timer"], deadline=row["deadline"], target_minutes=row["target_minutes"],
            policy_version=row["policy_version"], calendar_version=row["calendar_version"]))
    # breach_minutes is 0 when announced (at the deadline); meeting the timer later writes the
    # final figure. A breach is also a warning: a timer that breached without one (e.g. the lead was 100 %) is
    # never warned afterwards
    _mark(session, breaches, "breached_at = now(), breach_minutes = COALESCE(breach_minutes, 0), "
                             "warned_at = COALESCE(warned_at, now())")
    escalated: set = set()
    for row in breaches:
        if row["ticket_id"] not in escalated:
            escalated.add(row["ticket_id"])
            escalate(session, dict(row), now)
    return len(warnings) + len(breaches)


def _mark(session: Session, rows, assignment: str) -> None:
    if not rows:
        return
    session.execute(text(f"""
        UPDATE ticket_sla_timers t SET {assignment}, updated_at = now()
          FROM unnest(CAST(:ids AS uuid[]), CAST(:timers AS varchar[])) AS due(ticket_id, timer)
         WHERE t.ticket_id = due.ticket_id AND t.timer = due.timer"""),
        {"ids": [r["ticket_id"] for r in rows], "timers": [r["timer"] for r in rows]})


def escalate(session: Session, row: dict, now: datetime) -> None:
    """The tenant's breach escalation rule: `{"raise_priority": true}` raises the priority one step
    (and re-selects the policy); `{"reassign_to": "<member id>"}` reassigns the ticket."""
    from sqlalchemy import update

    from tickets.models import tickets

    rule = sla_store.load_settings(session, row["tenant_id"]).escalation
    if not rule:
        return
    values: dict = {}
    if rule.get("raise_priority") and row["priority"] in sla_store.ESCALATION_PRIORITY[:-1]:
        ladder = sla_store.ESCALATION_PRIORITY
        values["priority"] = ladder[ladder.index(row["priority"]) + 1]
    target = rule.get("reassign_to")
    if target and str(row["assignee_id"] or "") != str(target):
        values["assignee_id"] = target
    if not values:
        return
    session.execute(update(tickets).where(tickets.c.id == row["ticket_id"]).values(**values, updated_at=now))
    if "assignee_id" in values:
        outbox.add(session, row["tenant_id"], TicketAssigned(
            ticket_id=row["ticket_id"], number=row["number"], customer_id=row["customer_id"],
            assignee_id=values["assignee_id"], previous_assignee_id=row["assignee_id"], team_id=row["team_id"],
            method="escalation", assigned_at=now))
    if "priority" in values:
        ticket = dict(session.execute(tickets.select().where(tickets.c.id == row["ticket_id"])).mappings().one())
        from tickets import sla_tracking

        sla_tracking.on_priority_changed(session, ticket, now)
        outbox.add(session, row["tenant_id"], TicketUpdated(
            ticket_id=row["ticket_id"], number=row["number"], customer_id=row["customer_id"],
            changes={"priority": values["priority"]}, reason="escalation", updated_at=now))
    log.info("escalated ticket %s on an SLA breach: %s", row["ticket_id"], values)


class DeadlineClock(DeadlineLoop):
    """The clock: fire what is due, then sleep until the next due instant or an earlier one told."""

    channel = sla_store.NOTIFY_CHANNEL
    label = "SLA clock"

    def tick(self) -> float:
        """Fire everything due; returns the seconds to sleep until the next due instant."""
        while True:
            with db.transaction(self.engine, self.service) as session:
                fired = fire_due(session)
            if fired < BATCH:
                break
        with self.engine.connect() as conn:
            until_next = conn.execute(_NEXT_DUE).scalar()
        return self.sleep_for(until_next)
