"""Ticket rows inside a transaction: open one, move its status, assign it, each together with its
events and the SLA hooks, so every entrypoint (status change, message, assignment) does it the same way.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops import outbox
from custops.contracts.tickets import (TicketAssigned, TicketClosed, TicketCreated, TicketReopened, TicketResolved,
                                       TicketStatusChanged)
from custops.errors import InvalidInput, NotFound
from tickets import sla_tracking, workflow
from tickets.models import teams, ticket_counters, tickets


def _iso(value):
    return value.isoformat() if value is not None else None


def _str(value):
    return str(value) if value is not None else None


def shape(row) -> dict:
    return {
        "id": str(row["id"]),
        "number": row["number"],
        "customer_id": str(row["customer_id"]),
        "contact_id": _str(row["contact_id"]),
        "subject": row["subject"],
        "description": row["description"],
        "priority": row["priority"],
        "status": row["status"],
        "source": row["source"],
        "category": row["category"],
        "assignee_id": _str(row["assignee_id"]),
        "team_id": _str(row["team_id"]),
        "tags": list(row["tags"]),
        "follows_ticket_id": _str(row["follows_ticket_id"]),
        "first_responded_at": _iso(row["first_responded_at"]),
        "last_customer_message_at": _iso(row["last_customer_message_at"]),
        "resolved_at": _iso(row["resolved_at"]),
        "closed_at": _iso(row["closed_at"]),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def load(session: Session, tenant_id, ticket_id, for_update: bool = False) -> dict:
    stmt = select(tickets).where(tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return dict(row)


def next_number(session: Session, tenant_id) -> int:
    stmt = (
        insert(ticket_counters)
        .values(tenant_id=tenant_id, last_number=1)
        .on_conflict_do_update(index_elements=[ticket_counters.c.tenant_id],
                               set_={"last_number": ticket_counters.c.last_number + 1})
        .returning(ticket_counters.c.last_number)
    )
    return session.execute(stmt).scalar_one()


def open_ticket(session: Session, tenant_id, fields: dict, at: datetime) -> dict:
    """Insert a `new` ticket from `fields` (customer_id, customer_tier, subject, description, priority,
    source, contact_id, category, assignee_id, team_id, tags, follows_ticket_id, last_customer_message_at);
    a team and no assignee assigns round-robin. Emits ticket.created (+ ticket.assigned)."""
    row = {
        "id": uuid.uuid4(), "tenant_id": tenant_id, "number": next_number(session, tenant_id),
        "status": "new", "created_at": at, "updated_at": at, "description": "", "contact_id": None,
        "category": "general", "assignee_id": None, "team_id": None, "tags": [], "follows_ticket_id": None,
        "first_responded_at": None, "last_customer_message_at": None, "resolved_at": None, "closed_at": None,
        **fields,
    }
    if row["team_id"] is not None and row["assignee_id"] is None:
        row["assignee_id"] = next_team_member(session, tenant_id, row["team_id"])
        method = "round_robin"
    else:
        method = "manual"
    session.execute(tickets.insert().values(**row))
    sla_tracking.on_ticket_created(session, row, at)
    outbox.add(session, tenant_id, TicketCreated(
        ticket_id=row["id"], number=row["number"], customer_id=row["customer_id"], subject=row["subject"],
        priority=row["priority"], status="new", source=row["source"], created_at=at,
        contact_id=row["contact_id"], category=row["category"], assignee_id=row["assignee_id"],
        tags=row["tags"], follows_ticket_id=row["follows_ticket_id"]))
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
            outbox.add(session, tenant_id, TicketResolved(**ref, resolved_at=at))
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


def next_team_member(session: Session, tenant_id, team_id):
    """The team's next member in round-robin order. The UPDATE ... RETURNING takes the team's row
    lock, so concurrent assignments wait for each other and never get the same position."""
    stmt = (update(teams).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)
            .values(next_index=teams.c.next_index + 1)
            .returning(teams.c.next_index, teams.c.member_ids))
    row = session.execute(stmt).first()
    if row is None:
        raise InvalidInput("unknown team", [{"field": "team_id", "message": "no such team in this tenant"}])
    position, member_ids = row
    if not member_ids:
        raise InvalidInput("the team has no members", [{"field": "team_id", "message": "team has no members"}])
    return member_ids[(position - 1) % len(member_ids)]


def _ref(ticket: dict) -> dict:
    return {"ticket_id": ticket["id"], "number": ticket["number"], "customer_id": ticket["customer_id"]}


def json_changes(changes: dict) -> dict:
    """Changed fields as they travel in `ticket.updated` (ids as strings)."""
    return {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in changes.items()}
