"""Ticket rows inside a transaction: open one, list them, edit fields, move the status, assign,
record a message's effect — each together with its events and the SLA hooks, so every entrypoint
(status change, message, assignment, edit) does it the same way.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, bindparam, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.orm import Session

from custops import outbox, pagination, shapes
from custops.contracts.tickets import (TicketAssigned, TicketClosed, TicketCreated, TicketCustomerReplied,
                                       TicketNoteAdded, TicketReopened, TicketReplied, TicketResolved,
                                       TicketStatusChanged, TicketUpdated)
from custops.errors import InvalidInput, NotFound
from tickets import customer_copies, mail_threading, round_robin, sla_store, sla_tracking, workflow
from tickets.commands import TicketFilters
from tickets.models import directory_members, teams, ticket_counters, ticket_sla_timers, tickets

# A ticket as the service answers it (the one list of its fields).
FIELDS = ("id", "number", "customer_id", "contact_id", "subject", "description", "priority", "status", "source",
          "category", "assignee_id", "team_id", "tags", "follows_ticket_id", "first_responded_at",
          "last_customer_message_at", "resolved_at", "closed_at", "created_at", "updated_at",
          # a form's ticket rule opened it (`form_tickets`); the satisfaction survey's answers
          "form_submission_id", "csat_score", "nps_score", "survey_answered_at")
# The fields `PATCH /tickets/{id}` may change, and those of them that cannot be cleared.
EDITABLE = ("subject", "priority", "category", "tags", "contact_id")
NOT_NULL_EDITABLE = ("subject", "priority", "category", "tags")


def shape(row) -> dict:
    return shapes.doc(row, FIELDS)


def load(session: Session, tenant_id, ticket_id, for_update: bool = False) -> dict:
    stmt = select(tickets).where(tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return dict(row)


def list_page(session: Session, tenant_id, f: TicketFilters, limit: int, cursor: str | None,
              now: datetime) -> dict:
    """Newest first, keyset-paged, with `total`: the size of the whole filtered set."""
    conditions = [tickets.c.tenant_id == tenant_id, *_filter_conditions(f, now)]
    stmt = pagination.page(select(tickets).where(*conditions), tickets.c.created_at, tickets.c.id, cursor, limit)
    rows = session.execute(stmt).mappings().all()
    total = session.execute(select(func.count()).select_from(tickets).where(*conditions)).scalar_one()
    return {**pagination.result(rows, limit, "created_at", shape), "total": total}


def _filter_conditions(f: TicketFilters, now: datetime) -> list:
    conditions = []
    if f.status:
        conditions.append(tickets.c.status == f.status)
    if f.priority:
        conditions.append(tickets.c.priority == f.priority)
    if f.customer_id:
        conditions.append(tickets.c.customer_id == f.customer_id)
    if f.customer_ids is not None:
        conditions.append(tickets.c.customer_id.in_(f.customer_ids))
    if f.assignee == "none":
        conditions.append(tickets.c.assignee_id.is_(None))
    elif f.assignee is not None:
        conditions.append(tickets.c.assignee_id == f.assignee)
    if f.category:
        conditions.append(tickets.c.category == f.category)
    if f.tag:
        conditions.append(tickets.c.tags.any(f.tag))
    timers = ticket_sla_timers.c
    own_timers = and_(timers.ticket_id == tickets.c.id, timers.tenant_id == tickets.c.tenant_id)
    if f.breached is not None:
        # breached: recorded by the scheduler, or already past its deadline unmet (the scheduler may be
        # a few seconds behind)
        breached = select(timers.ticket_id).where(own_timers, or_(
            timers.breached_at.is_not(None),
            and_(timers.met_at.is_(None), timers.deadline.is_not(None), timers.deadline < now))).exists()
        conditions.append(breached if f.breached else ~breached)
    if f.due_before is not None:
        conditions.append(select(timers.ticket_id).where(
            own_timers, timers.met_at.is_(None), timers.deadline.is_not(None),
            timers.deadline < f.due_before).exists())
    return conditions


def _number_tier_and_config():
    """The statement that hands out the tenant's next ticket number (the counter row stays locked
    until commit, so numbers have no gaps from concurrent inserts racing each other) and reads the
    customer's copied tier and the tenant's SLA configuration fingerprint. Built once: building
    it costs more than running it (parameters `tenant_id`, `customer_id`)."""
    tenant_id, customer_id = bindparam("tenant_id", type_=UUID(as_uuid=True)), bindparam("customer_id",
                                                                                         type_=UUID(as_uuid=True))
    number = (insert(ticket_counters).values(tenant_id=tenant_id, last_number=1)
              .on_conflict_do_update(index_elements=[ticket_counters.c.tenant_id],
                                     set_={"last_number": ticket_counters.c.last_number + 1})
              .returning(ticket_counters.c.last_number).cte("next_number"))
    return select(number.c.last_number, customer_copies.copied_tier(tenant_id, customer_id),
                  *sla_store.config_fingerprint(tenant_id))


_NUMBER_TIER_AND_CONFIG = _number_tier_and_config()


def open_ticket(session: Session, tenant_id, fields: dict, at: datetime) -> dict:
    """Insert a `new` ticket from `fields` (customer_id, customer_tier, subject, description, priority,
    source, contact_id, category, assignee_id, team_id, tags, follows_ticket_id, last_customer_message_at);
    a team and no assignee assigns round-robin. Emits ticket.created (+ ticket.assigned).

    `customer_tier` None: the copy's (`customer_copies.NotCopied` when the customer is not copied).

    The hot path (issue 14), in as few statements as the rules allow: the customer lock; then, in a
    statement after it (so that it sees what a tier change committed meanwhile), the number, the
    customer's copied tier and the SLA configuration's fingerprint; then the ticket with its timers
    and the clock's wake-up; then the outbox."""
    row = {
        "id": uuid.uuid4(), "tenant_id": tenant_id, "number": None, "status": "new", "created_at": at,
        "updated_at": at, "description": "", "contact_id": None,
        "category": "general", "assignee_id": None, "team_id": None, "tags": [], "follows_ticket_id": None,
        "first_responded_at": None, "last_customer_message_at": None, "resolved_at": None, "closed_at": None,
        "form_submission_id": None, "csat_score": None, "nps_score": None, "survey_answered_at": None, **fields,
    }
    sla_tracking.lock_customer(session, row)
    row["number"], copied_tier, *fingerprint = session.execute(
        _NUMBER_TIER_AND_CONFIG, {"tenant_id": tenant_id, "customer_id": row["customer_id"]}).one()
    sla_tracking.settle_tier(session, row, copied_tier, at)
    if row["team_id"] is not None and row["assignee_id"] is None:
        row["assignee_id"] = next_team_member(session, tenant_id, row["team_id"])
        method = "round_robin"
    else:
        if row["team_id"] is not None:
            require_team(session, tenant_id, row["team_id"])
        method = "manual"
    sla = sla_store.load_tenant(session, tenant_id, tuple(fingerprint))
    sla_writes, due = sla_tracking.on_ticket_created(row, sla, at)
    session.execute(select(sla_store.wake(due) if due is not None else literal(None))
                    .add_cte(tickets.insert().values(**row).cte("new_ticket"), *sla_writes))
    outbox.add(session, tenant_id, TicketCreated(
        ticket_id=row["id"], number=row["number"], customer_id=row["customer_id"], subject=row["subject"],
        priority=row["priority"], status="new", source=row["source"], created_at=at,
        contact_id=row["contact_id"], category=row["category"], assignee_id=row["assignee_id"],
        tags=row["tags"], follows_ticket_id=row["follows_ticket_id"], form_submission_id=row["form_submission_id"]))
    if row["assignee_id"] is not None:
        outbox.add(session, tenant_id, TicketAssigned(
            ticket_id=row["id"], number=row["number"], customer_id=row["customer_id"],
            assignee_id=row["assignee_id"], team_id=row["team_id"], method=method, assigned_at=at))
    return row


def move_status(session: Session, ticket: dict, new: str, at: datetime, reopen_reason: str = "agent") -> dict:
    """Move a (locked) ticket to `new`: the row, the SLA hook, ticket.status_changed and the
    resolved/closed/reopened event. Returns the updated row."""
    old = ticket["status"]
    try:
        extra_events = workflow.status_events(old, new)
    except workflow.RuleBroken as exc:
        raise InvalidInput(str(exc), [{"field": "status", "message": f"not allowed from {old}"}]) from None
    values = {"status": new, "updated_at": at}
    if new == "resolved":
        values["resolved_at"] = at
    elif new == "closed":
        values["closed_at"] = at
    elif old == "resolved":  # reopened: no longer resolved
        values["resolved_at"] = None
    session.execute(update(tickets).where(tickets.c.id == ticket["id"]).values(**values))
    updated = {**ticket, **values}
    sla_tracking.on_status_changed(session, updated, old, new, at)
    tenant_id, ref = ticket["tenant_id"], _ref(ticket)
    outbox.add(session, tenant_id, TicketStatusChanged(**ref, old_status=old, new_status=new, changed_at=at))
    for event_type in extra_events:
        if event_type == "ticket.resolved":
            outbox.add(session, tenant_id, TicketResolved(**ref, resolved_at=at, contact_id=ticket["contact_id"]))
        elif event_type == "ticket.closed":
            outbox.add(session, tenant_id, TicketClosed(**ref, closed_at=at))
        elif event_type == "ticket.reopened":
            outbox.add(session, tenant_id, TicketReopened(**ref, reopened_at=at, reason=reopen_reason))
    return updated


def assign(session: Session, ticket: dict, assignee_id, at: datetime, method: str = "manual",
           team_id=None) -> dict:
    """Give a (locked) ticket to `assignee_id` (None: unassign) and emit ticket.assigned."""
    values = {"assignee_id": assignee_id, "updated_at": at}
    if team_id is not None:
        values["team_id"] = team_id
    session.execute(update(tickets).where(tickets.c.id == ticket["id"]).values(**values))
    outbox.add(session, ticket["tenant_id"], TicketAssigned(
        **_ref(ticket), assignee_id=assignee_id, previous_assignee_id=ticket["assignee_id"],
        team_id=values.get("team_id", ticket["team_id"]), method=method, assigned_at=at))
    return {**ticket, **values}


def update_fields(session: Session, current: dict, changes: dict, at: datetime) -> dict:
    """Apply field edits to a (locked) ticket: only what really changes is written and told
    (`ticket.updated`); a new priority recomputes the SLA timers. Returns the updated row."""
    changes = {k: v for k, v in changes.items() if current[k] != v}
    if not changes:
        return current
    session.execute(update(tickets).where(tickets.c.id == current["id"]).values(**changes, updated_at=at))
    updated = {**current, **changes, "updated_at": at}
    if "priority" in changes:
        sla_tracking.on_priority_changed(session, updated, at)
    outbox.add(session, current["tenant_id"], TicketUpdated(
        **_ref(current), changes=json_changes(changes), reason="edit", updated_at=at,
        previous=json_changes({k: current[k] for k in changes})))
    return updated


def record_message(session: Session, ticket: dict, message: dict, effect: workflow.MessageEffect,
                   at: datetime, mail_thread: dict | None = None) -> dict:
    """A stored message's effect on its (locked) ticket: timestamps, status move, SLA hooks and
    events. Returns the updated ticket row. `mail_thread`: the ticket's mail thread after an
    inbound mail; a public reply continues the thread itself (`mail_threading.reply_mail`)."""
    ref = {**_ref(ticket), "message_id": message["id"]}
    kind, tenant_id = message["kind"], ticket["tenant_id"]
    if kind == "note":
        # internal: the body stays out of the event (events leave the service; notes must not)
        outbox.add(session, tenant_id, TicketNoteAdded(**ref, author_member_id=message["author_member_id"],
                                                       added_at=at))
        return ticket
    if kind == "reply":
        values = {"updated_at": at, "first_responded_at": ticket["first_responded_at"] or at}
        mail_thread, reply_mail = mail_threading.reply_mail(ticket, message)
    else:
        values = {"updated_at": at, "last_customer_message_at": at}
    if mail_thread is not None:
        values["mail_thread"] = mail_thread
    session.execute(update(tickets).where(tickets.c.id == ticket["id"]).values(**values))
    ticket = {**ticket, **values}
    if effect.new_status is not None:
        ticket = move_status(session, ticket, effect.new_status, at, reopen_reason=effect.reopen_reason or "agent")
    if kind == "reply":
        if message.get("delivery_status") != "queued":  # one leaving by mail counts once sent (tickets.sla)
            sla_tracking.on_public_reply(session, ticket, at)
        outbox.add(session, tenant_id, TicketReplied(
            **ref, author_member_id=message["author_member_id"], contact_id=ticket["contact_id"],
            subject=ticket["subject"], body=message["body"], replied_at=at, **reply_mail))
    else:
        if not effect.starts_follow_up:  # the follow-up's own creation started its clocks
            sla_tracking.on_customer_message(session, ticket, at)
        outbox.add(session, tenant_id, TicketCustomerReplied(
            **ref, contact_id=message["author_contact_id"] or ticket["contact_id"], received_at=at))
    return ticket


def _team_refused(session: Session, tenant_id, team_id) -> InvalidInput:
    """Why a team takes no ticket: it is archived, or not a team of this tenant."""
    archived = session.execute(select(teams.c.archived_at).where(
        teams.c.tenant_id == tenant_id, teams.c.id == team_id)).first()
    if archived is not None:
        return InvalidInput("archived team", [{"field": "team_id", "message": "the team is archived"}])
    return InvalidInput("unknown team", [{"field": "team_id", "message": "no such team in this tenant"}])


def require_team(session: Session, tenant_id, team_id) -> None:
    """A working (not archived) team of this tenant."""
    if session.execute(select(teams.c.id).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id,
                                                teams.c.archived_at.is_(None))).first() is None:
        raise _team_refused(session, tenant_id, team_id)


def next_team_member(session: Session, tenant_id, team_id):
    """The team's next active member in round-robin order (`round_robin.next_turn`). The team's row
    is locked, so concurrent assignments wait for each other and never get the same turn."""
    team = (teams.c.tenant_id == tenant_id, teams.c.id == team_id, teams.c.archived_at.is_(None))
    deactivated = (select(func.array_agg(directory_members.c.member_id))
                   .where(directory_members.c.tenant_id == tenant_id,
                          directory_members.c.member_id == func.any(teams.c.member_ids),
                          directory_members.c.active.is_(False))
                   .scalar_subquery())
    row = session.execute(select(teams.c.next_index, teams.c.member_ids, deactivated)
                          .where(*team).with_for_update(of=teams)).first()
    if row is None:  # an archived team takes no new assignments
        raise _team_refused(session, tenant_id, team_id)
    counter, member_ids, inactive = row
    if not member_ids:
        raise InvalidInput("the team has no members", [{"field": "team_id", "message": "team has no members"}])
    turn = round_robin.next_turn(member_ids, counter, set(inactive or ()))
    if turn is None:
        raise InvalidInput("the team has no active members",
                           [{"field": "team_id", "message": "every member of the team is deactivated"}])
    session.execute(update(teams).where(*team).values(next_index=turn + 1))
    return member_ids[turn % len(member_ids)]


def _ref(ticket: dict) -> dict:
    return {"ticket_id": ticket["id"], "number": ticket["number"], "customer_id": ticket["customer_id"]}


def json_changes(changes: dict) -> dict:
    """Changed fields as they travel in `ticket.updated` (ids as strings)."""
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in changes.items()}
