"""SLA bookkeeping inside ticket transactions: the hooks the ticket commands call.

Each hook runs in the caller's transaction (the same one that changes the ticket), reads the tenant's
policies, calendar and settings, and (re)writes the ticket's rows in `ticket_sla_timers` and
`ticket_sla_pauses` with what `tickets.sla.compute_timer` says. Warnings and breaches are emitted by
the deadline scheduler, not here; a timer met here is told in the same transaction (`ticket.sla_met`,
by `sla_store.meet_timer`).

`ticket` is the ticket row as a dict (columns of `tickets.models.tickets`) after the change.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import literal, select, union_all
from sqlalchemy.orm import Session

from custops.contracts.tickets import DONE_STATUSES
from tickets import customer_copies, directory_events, sla_store
from tickets.models import ticket_sla_pauses, ticket_sla_timers

_DONE = DONE_STATUSES


def lock_customer(session: Session, ticket: dict) -> None:
    """Before a new ticket's tier is read: serialise it with the customer's tier changes
    (`directory_events`) until commit. The tier must be read in a later statement (one that starts
    after the lock is held sees what the change committed)."""
    directory_events.lock_customer(session, ticket["tenant_id"], ticket["customer_id"])


def settle_tier(session: Session, ticket: dict, copied_tier: str | None, at: datetime) -> None:
    """The new ticket's tier, under the customer lock (``ticket`` is updated in place). No tier given:
    the copy's, `copied_tier` (`customer_copies`; `NotCopied` when it has none), as of the last event
    applied, which later tier changes update under this lock. A tier the customers service answered:
    a tier change told since (`directory_events`) wins, so a ticket opened while its customer's tier
    changes does not keep the old one; the answer is copied."""
    tenant_id, customer_id = ticket["tenant_id"], ticket["customer_id"]
    if ticket["customer_tier"] is None:
        if copied_tier is None:
            raise customer_copies.NotCopied(customer_id)
        ticket["customer_tier"] = copied_tier
        return
    tier = directory_events.recent_tier(session, ticket, at)
    if tier is not None:
        ticket["customer_tier"] = tier
    else:
        customer_copies.remember_asked(session, tenant_id, customer_id, ticket["customer_tier"])


def on_ticket_created(ticket: dict, sla: sla_store.TenantSla, at: datetime) -> tuple[list, datetime | None]:
    """First-response and resolution timers with the policy matched by tier and priority (and the
    pause of a ticket created straight into a pausing status): the INSERTs, as CTEs for the
    statement that inserts the ticket, and the earliest instant they make due (for the clock)."""
    timer_rows, pause_rows = sla_store.new_ticket_timers(ticket, sla, at)
    writes = []
    if timer_rows:
        writes.append(_insert_rows(ticket_sla_timers, timer_rows).cte("new_timers"))
    for pause in pause_rows:
        writes.append(ticket_sla_pauses.insert().values(**pause).cte("new_pause"))
    return writes, sla_store.earliest_due(timer_rows)


def _insert_rows(table, rows: list[dict]):
    """A multi-row INSERT as INSERT ... SELECT ... UNION ALL SELECT: unlike a multi-row VALUES, the
    compiled statement is cached (compiling it costs more than running it)."""
    names = list(rows[0])
    selects = [select(*[literal(row[name], table.c[name].type).label(name) for name in names]) for row in rows]
    return table.insert().from_select(names, selects[0] if len(selects) == 1 else union_all(*selects))


def on_status_changed(session: Session, ticket: dict, old: str, new: str, at: datetime) -> None:
    """Open/close pause intervals per the tenant's pause statuses; resolution met on resolved/closed;
    a reopened ticket restarts its resolution timer."""
    sla = sla_store.load_tenant(session, ticket["tenant_id"])
    pausing = sla.settings.pause_rules.statuses
    # each stay in a pausing status is its own interval (kept for the audit trail)
    if old in pausing or new in pausing:
        sla_store.close_pauses(session, ticket, at)
        if new in pausing:
            sla_store.open_pause(session, ticket, new, at)
    if new in _DONE:
        # a done ticket stops every clock: nothing is due on it any more
        for row in sla_store.timer_rows(session, ticket["id"], for_update=True).values():
            if row["met_at"] is None:
                sla_store.meet_timer(session, ticket, row, sla, at)
        return
    if old in _DONE:  # reopened: the resolution clock starts again with the full target
        sla_store.start_timer(session, ticket, "resolution", sla, at)
    if old in pausing or new in pausing:
        sla_store.recompute_ticket(session, ticket, sla, at, reselect=False)


def on_public_reply(session: Session, ticket: dict, at: datetime) -> None:
    """An agent's public reply meets the first-response timer (first time) or the running
    next-response timer."""
    rows = sla_store.timer_rows(session, ticket["id"], for_update=True)
    running = [rows[t] for t in ("first_response", "next_response") if t in rows and rows[t]["met_at"] is None]
    if running:
        sla = sla_store.load_tenant(session, ticket["tenant_id"])
        for row in running:
            sla_store.meet_timer(session, ticket, row, sla, at)


def on_reply_sent(session: Session, ticket: dict, replied_at: datetime, sent_at: datetime) -> None:
    """A reply that left by mail (see `tickets.sla`): the response timers running since before it was
    made are met at its sent time."""
    rows = sla_store.timer_rows(session, ticket["id"], for_update=True)
    running = [rows[t] for t in ("first_response", "next_response")
               if t in rows and rows[t]["met_at"] is None and rows[t]["started_at"] <= replied_at]
    if running:
        sla = sla_store.load_tenant(session, ticket["tenant_id"])
        for row in running:
            sla_store.meet_timer(session, ticket, row, sla, sent_at)


def on_customer_message(session: Session, ticket: dict, at: datetime) -> None:
    """A customer message (re)starts the next-response timer.

    Not while the first response is still owed (that timer already covers it), and not when a
    next-response timer is already running: the clock runs from the first unanswered message."""
    rows = sla_store.timer_rows(session, ticket["id"], for_update=True)
    first, following = rows.get("first_response"), rows.get("next_response")
    if (first is not None and first["met_at"] is None) or (following is not None and following["met_at"] is None):
        return
    sla_store.start_timer(session, ticket, "next_response", sla_store.load_tenant(session, ticket["tenant_id"]), at)


def on_priority_changed(session: Session, ticket: dict, at: datetime) -> None:
    """A new priority can select another policy: recompute the open timers."""
    sla_store.recompute_ticket(session, ticket, sla_store.load_tenant(session, ticket["tenant_id"]), at)
