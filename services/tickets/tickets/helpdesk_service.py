"""Help-desk entrypoints of the tickets service (a mixin `TicketsService` inherits): ticket edits,
messages, assignment (manual and round-robin teams), canned responses and categories.

The workflow rules are in `tickets.workflow`, the placeholder rules in `tickets.canned`; ticket rows
change through `tickets.ticket_store` so status moves, events and SLA hooks happen the same way
everywhere.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from nameko.rpc import rpc
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from custops import outbox
from custops.contracts.tickets import TicketCustomerReplied, TicketNoteAdded, TicketReplied, TicketUpdated
from custops.errors import EXPECTED, Conflict, InvalidInput, NotFound
from custops.validation import parse, parse_id
from tickets import canned, sla_tracking, ticket_store, workflow
from tickets.commands import (AddMessage, AssignTicket, CreateCannedResponse, CreateTeam, UpdateTeam,
                              UpdateTicket)
from tickets.models import canned_responses, teams, ticket_categories, ticket_messages, tickets

# members who can work tickets (portal users and read-only members cannot)
_ASSIGNABLE_ROLES = ("owner", "admin", "member", "contractor")


# --- asking the customers service (never telling it) ---

def ask_customer(rpc_client, tenant_id, customer_id) -> dict:
    try:
        return rpc_client.call("customers", "get_customer", str(tenant_id), str(customer_id))
    except NotFound:
        raise InvalidInput("unknown customer", [
            {"field": "customer_id", "message": "no such customer in this tenant"}]) from None


def check_contact(rpc_client, tenant_id, customer_id, contact_id) -> None:
    contacts = rpc_client.call("customers", "list_contacts", str(tenant_id), str(customer_id))["items"]
    if str(contact_id) not in {c["id"] for c in contacts}:
        raise InvalidInput("unknown contact", [
            {"field": "contact_id", "message": "no such contact of this customer"}])


def check_member(rpc_client, tenant_id, member_id, field: str = "assignee_id") -> dict:
    try:
        member = rpc_client.call("customers", "get_member", str(tenant_id), str(member_id))
    except NotFound:
        member = None
    if member is None or member["role"] not in _ASSIGNABLE_ROLES:
        raise InvalidInput("unknown member", [{"field": field, "message": "no such team member in this tenant"}])
    return member


def _check_members(rpc_client, tenant_id, member_ids) -> None:
    known = {m["id"] for m in rpc_client.call("customers", "list_members", str(tenant_id))["items"]
             if m["role"] in _ASSIGNABLE_ROLES}
    unknown = [str(m) for m in member_ids if str(m) not in known]
    if unknown:
        raise InvalidInput("unknown members", [
            {"field": "member_ids", "message": f"no such team member in this tenant: {', '.join(unknown)}"}])


def check_category(session, tenant_id, category: str) -> None:
    if category not in _categories(session, tenant_id):
        raise InvalidInput("unknown category", [{"field": "category", "message": "not a category of this tenant"}])


def _categories(session, tenant_id) -> list[str]:
    extensions = session.execute(select(ticket_categories.c.name).where(
        ticket_categories.c.tenant_id == tenant_id).order_by(ticket_categories.c.name)).scalars().all()
    return [*workflow.BUILT_IN_CATEGORIES, *extensions]


# --- shapes ---

def _message_shape(row) -> dict:
    return {"id": str(row["id"]), "ticket_id": str(row["ticket_id"]), "kind": row["kind"],
            "internal": row["kind"] == "note", "body": row["body"],
            "author_member_id": _str(row["author_member_id"]),
            "author_contact_id": _str(row["author_contact_id"]), "created_at": row["created_at"].isoformat()}


def _team_shape(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "member_ids": [str(m) for m in row["member_ids"]],
            "created_at": row["created_at"].isoformat()}


def _canned_shape(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "body": row["body"],
            "created_at": row["created_at"].isoformat()}


def _str(value):
    return str(value) if value is not None else None


def _now():
    return datetime.now(timezone.utc)


class HelpDeskEntrypoints:
    # --- ticket fields ---

    @rpc(expected_exceptions=EXPECTED)
    def update_ticket(self, tenant_id, ticket_id, payload):
        """Change subject, priority, category, tags or contact; a new priority recomputes SLA timers."""
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        cmd = parse(UpdateTicket, payload)
        changes = cmd.model_dump(exclude_unset=True)
        if None in (changes.get("subject", ""), changes.get("priority", ""), changes.get("category", ""),
                    changes.get("tags", "")):
            raise InvalidInput("only contact_id may be cleared", [
                {"field": k, "message": "must not be null"} for k in ("subject", "priority", "category", "tags")
                if k in changes and changes[k] is None])
        now = _now()
        with self.db.read() as session:
            customer_id = ticket_store.load(session, tenant_id, ticket_id)["customer_id"]
        if changes.get("contact_id") is not None:
            check_contact(self.rpc_client, tenant_id, customer_id, changes["contact_id"])
        with self.db.transaction() as session:
            current = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            if "category" in changes:
                check_category(session, tenant_id, changes["category"])
            changes = {k: v for k, v in changes.items() if current[k] != v}
            if not changes:
                return ticket_store.shape(current)
            session.execute(update(tickets).where(tickets.c.id == ticket_id).values(**changes, updated_at=now))
            updated = {**current, **changes, "updated_at": now}
            if "priority" in changes:
                sla_tracking.on_priority_changed(session, updated, now)
            outbox.add(session, tenant_id, TicketUpdated(
                ticket_id=ticket_id, number=current["number"], customer_id=current["customer_id"],
                changes=ticket_store.json_changes(changes), reason="edit", updated_at=now))
            return ticket_store.shape(updated)

    # --- messages ---

    @rpc(expected_exceptions=EXPECTED)
    def add_message(self, tenant_id, ticket_id, payload):
        """Store an inbound message, public reply or internal note: `{message, ticket}`, where
        `ticket` is the ticket the message is on (a new one when the customer wrote to a closed ticket)."""
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        cmd = parse(AddMessage, payload)
        if cmd.author_member_id is not None and cmd.kind != "inbound":
            check_member(self.rpc_client, tenant_id, cmd.author_member_id, "author_member_id")
        with self.db.read() as session:
            before = ticket_store.load(session, tenant_id, ticket_id)
        # a closed ticket stays closed, so whether a follow-up is needed is known before the transaction
        # and the customer's current tier can be asked for outside it
        follow_up_tier = None
        if cmd.kind == "inbound" and before["status"] == "closed":
            follow_up_tier = ask_customer(self.rpc_client, tenant_id, before["customer_id"])["tier"]
        now = _now()
        with self.db.transaction() as session:
            ticket = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            try:
                effect = workflow.message_effect(ticket["status"], cmd.kind)
            except workflow.RuleBroken as exc:
                raise InvalidInput(str(exc), [{"field": "kind", "message": str(exc)}]) from None
            if effect.starts_follow_up:
                ticket = ticket_store.open_ticket(session, tenant_id, {
                    "customer_id": ticket["customer_id"], "customer_tier": follow_up_tier,
                    "subject": ticket["subject"], "description": cmd.body, "priority": ticket["priority"],
                    "source": cmd.source or ticket["source"], "contact_id": cmd.author_contact_id or ticket["contact_id"],
                    "category": ticket["category"], "tags": ticket["tags"], "follows_ticket_id": ticket["id"],
                    "last_customer_message_at": now}, now)
            message = {"id": uuid.uuid4(), "tenant_id": tenant_id, "ticket_id": ticket["id"], "kind": cmd.kind,
                       "author_member_id": cmd.author_member_id, "author_contact_id": cmd.author_contact_id,
                       "body": cmd.body, "created_at": now}
            session.execute(ticket_messages.insert().values(**message))
            ticket = _record_message(session, ticket, message, effect, now)
        return {"message": _message_shape(message), "ticket": ticket_store.shape(ticket)}

    @rpc(expected_exceptions=EXPECTED)
    def list_messages(self, tenant_id, ticket_id, include_internal=True):
        """The ticket's messages, oldest first; internal notes only when `include_internal`."""
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        with self.db.read() as session:
            ticket_store.load(session, tenant_id, ticket_id)
            stmt = select(ticket_messages).where(ticket_messages.c.tenant_id == tenant_id,
                                                 ticket_messages.c.ticket_id == ticket_id)
            if include_internal is not True:  # anything but an explicit True hides notes
                stmt = stmt.where(ticket_messages.c.kind != "note")
            rows = session.execute(stmt.order_by(ticket_messages.c.created_at, ticket_messages.c.id)).mappings().all()
        return {"items": [_message_shape(r) for r in rows]}

    # --- assignment ---

    @rpc(expected_exceptions=EXPECTED)
    def assign_ticket(self, tenant_id, ticket_id, payload):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        cmd = parse(AssignTicket, payload)
        if cmd.assignee_id is not None:
            check_member(self.rpc_client, tenant_id, cmd.assignee_id)
        with self.db.transaction() as session:
            current = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            if current["assignee_id"] == cmd.assignee_id:
                return ticket_store.shape(current)
            return ticket_store.shape(ticket_store.assign(session, current, cmd.assignee_id, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def assign_round_robin(self, tenant_id, ticket_id, team_id):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        try:
            team_id = parse_id(team_id, "team")
        except NotFound:
            raise InvalidInput("unknown team", [{"field": "team_id", "message": "not a team id"}]) from None
        with self.db.transaction() as session:
            current = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            member_id = ticket_store.next_team_member(session, tenant_id, team_id)
            return ticket_store.shape(ticket_store.assign(session, current, member_id, _now(), "round_robin", team_id))

    @rpc(expected_exceptions=EXPECTED)
    def create_team(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateTeam, payload)
        member_ids = list(dict.fromkeys(cmd.member_ids))
        _check_members(self.rpc_client, tenant_id, member_ids)
        row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "member_ids": member_ids,
               "next_index": 0, "created_at": _now()}
        with self.db.transaction() as session:
            inserted = session.execute(insert(teams).values(**row).on_conflict_do_nothing().returning(teams.c.id))
            if inserted.first() is None:
                raise Conflict(f"a team named {cmd.name!r} exists")
        return _team_shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def list_teams(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            rows = session.execute(select(teams).where(teams.c.tenant_id == tenant_id)
                                   .order_by(teams.c.name)).mappings().all()
        return {"items": [_team_shape(r) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def update_team(self, tenant_id, team_id, payload):
        tenant_id, team_id = parse_id(tenant_id, "tenant"), parse_id(team_id, "team")
        cmd = parse(UpdateTeam, payload)
        changes = {k: v for k, v in cmd.model_dump(exclude_unset=True).items() if v is not None}
        if "member_ids" in changes:
            changes["member_ids"] = list(dict.fromkeys(changes["member_ids"]))
            _check_members(self.rpc_client, tenant_id, changes["member_ids"])
        try:
            with self.db.transaction() as session:
                stmt = update(teams).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)
                row = session.execute((stmt.values(**changes) if changes else stmt.values(name=teams.c.name))
                                      .returning(*teams.c)).mappings().first()
                if row is None:
                    raise NotFound(f"team {team_id} not found")
                return _team_shape(row)
        except IntegrityError:
            raise Conflict(f"a team named {changes.get('name')!r} exists") from None

    # --- canned responses ---

    @rpc(expected_exceptions=EXPECTED)
    def create_canned_response(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateCannedResponse, payload)
        unknown = canned.unknown_placeholders(cmd.body)
        if unknown:
            raise InvalidInput("unknown placeholders", [{"field": "body", "message": (
                f"unknown placeholder(s) {', '.join(unknown)}; known: {', '.join(canned.PLACEHOLDERS)}")}])
        row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "body": cmd.body, "created_at": _now()}
        with self.db.transaction() as session:
            inserted = session.execute(insert(canned_responses).values(**row).on_conflict_do_nothing()
                                       .returning(canned_responses.c.id))
            if inserted.first() is None:
                raise Conflict(f"a canned response named {cmd.name!r} exists")
        return _canned_shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def list_canned_responses(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            rows = session.execute(select(canned_responses).where(canned_responses.c.tenant_id == tenant_id)
                                   .order_by(canned_responses.c.name)).mappings().all()
        return {"items": [_canned_shape(r) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def delete_canned_response(self, tenant_id, canned_id):
        tenant_id, canned_id = parse_id(tenant_id, "tenant"), parse_id(canned_id, "canned response")
        with self.db.transaction() as session:
            deleted = session.execute(delete(canned_responses).where(
                canned_responses.c.tenant_id == tenant_id, canned_responses.c.id == canned_id))
            if deleted.rowcount == 0:
                raise NotFound(f"canned response {canned_id} not found")
        return {"id": str(canned_id), "deleted": True}

    @rpc(expected_exceptions=EXPECTED)
    def render_canned_response(self, tenant_id, canned_id, ticket_id, agent_name=None):
        """The response's body with customer name, ticket number and agent name filled in."""
        tenant_id, canned_id = parse_id(tenant_id, "tenant"), parse_id(canned_id, "canned response")
        ticket_id = parse_id(ticket_id, "ticket")
        with self.db.read() as session:
            row = session.execute(select(canned_responses).where(
                canned_responses.c.tenant_id == tenant_id, canned_responses.c.id == canned_id)).mappings().first()
            if row is None:
                raise NotFound(f"canned response {canned_id} not found")
            ticket = ticket_store.load(session, tenant_id, ticket_id)
        customer = self.rpc_client.call("customers", "get_customer", str(tenant_id), str(ticket["customer_id"]))
        body = canned.render(row["body"], {"customer.name": customer["name"], "ticket.number": ticket["number"],
                                           "agent.name": agent_name})
        return {"id": str(canned_id), "ticket_id": str(ticket_id), "body": body}

    # --- categories ---

    @rpc(expected_exceptions=EXPECTED)
    def add_category(self, tenant_id, name):
        tenant_id = parse_id(tenant_id, "tenant")
        try:
            name = workflow.normalise_category(str(name))
        except workflow.RuleBroken as exc:
            raise InvalidInput(str(exc), [{"field": "name", "message": str(exc)}]) from None
        with self.db.transaction() as session:
            if name in workflow.BUILT_IN_CATEGORIES:
                raise Conflict(f"{name} is a built-in category")
            inserted = session.execute(insert(ticket_categories).values(tenant_id=tenant_id, name=name)
                                       .on_conflict_do_nothing().returning(ticket_categories.c.name))
            if inserted.first() is None:
                raise Conflict(f"the category {name} exists")
        return {"name": name, "built_in": False}

    @rpc(expected_exceptions=EXPECTED)
    def list_categories(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            names = _categories(session, tenant_id)
        return {"items": [{"name": n, "built_in": n in workflow.BUILT_IN_CATEGORIES} for n in names]}


def _record_message(session, ticket: dict, message: dict, effect: workflow.MessageEffect, at: datetime) -> dict:
    """The message's effect on its (locked) ticket: timestamps, status move, SLA hooks and events."""
    ref = {"ticket_id": ticket["id"], "number": ticket["number"], "customer_id": ticket["customer_id"],
           "message_id": message["id"]}
    kind, tenant_id = message["kind"], ticket["tenant_id"]
    if kind == "note":
        # internal: the body stays out of the event (events leave the service; notes must not)
        outbox.add(session, tenant_id, TicketNoteAdded(**ref, author_member_id=message["author_member_id"],
                                                       added_at=at))
        return ticket
    if kind == "reply":
        values = {"updated_at": at, "first_responded_at": ticket["first_responded_at"] or at}
    else:
        values = {"updated_at": at, "last_customer_message_at": at}
    session.execute(update(tickets).where(tickets.c.id == ticket["id"]).values(**values))
    ticket = {**ticket, **values}
    if effect.new_status is not None:
        ticket = ticket_store.move_status(session, ticket, effect.new_status, at,
                                          reopen_reason=effect.reopen_reason or "agent")
    if kind == "reply":
        sla_tracking.on_public_reply(session, ticket, at)
        outbox.add(session, tenant_id, TicketReplied(
            **ref, author_member_id=message["author_member_id"], contact_id=ticket["contact_id"],
            subject=ticket["subject"], body=message["body"], replied_at=at))
    else:
        if not effect.starts_follow_up:  # the follow-up's own creation started its clocks
            sla_tracking.on_customer_message(session, ticket, at)
        outbox.add(session, tenant_id, TicketCustomerReplied(
            **ref, contact_id=message["author_contact_id"] or ticket["contact_id"], received_at=at))
    return ticket
