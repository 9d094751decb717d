"""Help-desk entrypoints of the tickets service (a mixin `TicketsService` inherits): ticket edits,
messages, assignment (manual and round-robin teams), canned responses and categories.

Thin wiring: the workflow rules are in `tickets.workflow`, the placeholder rules in `tickets.canned`,
the SQL in `tickets.ticket_store` (ticket rows, with their events and SLA hooks) and
`tickets.helpdesk_store` (messages, teams, canned responses, categories); what is asked of the
customers service is in `tickets.customer_directory`.
"""
from __future__ import annotations

import uuid

from custops.rpc_entrypoint import rpc
from sqlalchemy.exc import IntegrityError

from custops.errors import EXPECTED, Conflict, InvalidInput, NotFound
from custops.shapes import utc_now
from custops.validation import parse, parse_id
from tickets import (canned, customer_copies, customer_directory, helpdesk_store, mail_threading, member_copies,
                     ticket_store, workflow)
from tickets.commands import (AddMessage, AssignTicket, CreateCannedResponse, CreateTeam, TeamFilters,
                              UpdateTeam, UpdateTicket)


class HelpDeskEntrypoints:
    # --- ticket fields ---

    @rpc(expected_exceptions=EXPECTED)
    def update_ticket(self, tenant_id, ticket_id, payload):
        """Change subject, priority, category, tags or contact; a new priority recomputes SLA timers."""
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        changes = parse(UpdateTicket, payload).model_dump(exclude_unset=True)
        cleared = [k for k in ticket_store.NOT_NULL_EDITABLE if k in changes and changes[k] is None]
        if cleared:
            raise InvalidInput("only contact_id may be cleared", [
                {"field": k, "message": "must not be null"} for k in cleared])
        if changes.get("contact_id") is not None:
            with self.db.read() as session:
                customer_id = ticket_store.load(session, tenant_id, ticket_id)["customer_id"]
            customer_directory.check_contact(self.rpc_client, tenant_id, customer_id, changes["contact_id"])
        with self.db.transaction() as session:
            current = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            if "category" in changes:
                helpdesk_store.check_category(session, tenant_id, changes["category"])
            return ticket_store.shape(ticket_store.update_fields(session, current, changes, utc_now()))

    # --- messages ---

    @rpc(expected_exceptions=EXPECTED)
    def add_message(self, tenant_id, ticket_id, payload):
        """Store an inbound message, public reply or internal note: `{message, ticket}`, where
        `ticket` is the ticket the message is on (a new one when the customer wrote to a closed ticket).
        Who wrote it (`author_*`) and who entered it (`entered_by_member_id`) are kept apart
        (`workflow.message_authors`); a contact author must be a contact of the ticket's customer."""
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        cmd = parse(AddMessage, payload)
        try:
            author_member_id, author_contact_id = workflow.message_authors(
                cmd.kind, cmd.author_member_id, cmd.author_contact_id, cmd.entered_by_member_id)
        except workflow.RuleBroken as exc:
            raise InvalidInput(str(exc), [{"field": exc.field, "message": str(exc)}]) from None
        with self.db.read() as session:
            before = ticket_store.load(session, tenant_id, ticket_id)
            author = None if author_member_id is None else member_copies.copied(session, tenant_id, author_member_id)
        if author_member_id is not None:
            customer_directory.check_member(self.rpc_client, self.db, tenant_id, author_member_id, "author_member_id",
                                            author)
        if author_contact_id is not None:  # the ticket's customer never changes, so this holds for its follow-up
            customer_directory.check_contact(self.rpc_client, tenant_id, before["customer_id"], author_contact_id,
                                             "author_contact_id")
        authors = (author_member_id, author_contact_id)
        try:
            message, ticket = self._store_message(tenant_id, ticket_id, cmd, authors, follow_up_tier=None)
        except customer_copies.NotCopied:  # a follow-up for a customer not copied yet: ask its tier
            tier = customer_directory.customer(self.rpc_client, tenant_id, before["customer_id"])["tier"]
            message, ticket = self._store_message(tenant_id, ticket_id, cmd, authors, follow_up_tier=tier)
        return {"message": helpdesk_store.message_shape(message), "ticket": ticket_store.shape(ticket)}

    def _store_message(self, tenant_id, ticket_id, cmd: AddMessage, authors: tuple, follow_up_tier: str | None):
        """The message and its effect in one transaction; a customer writing to a closed ticket opens
        a follow-up with `follow_up_tier` (None: the customer copy's, `customer_copies.NotCopied`
        when it has none). Returns (message, ticket)."""
        author_member_id, author_contact_id = authors
        now = utc_now()
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
                    "source": cmd.source or ticket["source"],
                    "contact_id": author_contact_id or ticket["contact_id"],
                    # a category removed since is no longer given to a new ticket
                    "category": helpdesk_store.category_or_general(session, tenant_id, ticket["category"]),
                    "tags": ticket["tags"], "follows_ticket_id": ticket["id"],
                    "last_customer_message_at": now}, now)
            message = {"id": uuid.uuid4(), "tenant_id": tenant_id, "ticket_id": ticket["id"], "kind": cmd.kind,
                       "author_member_id": author_member_id, "author_contact_id": author_contact_id,
                       "entered_by_member_id": cmd.entered_by_member_id, "body": cmd.body, "created_at": now}
            if cmd.kind == "reply":  # our Message-ID, so an answer to it threads back (issue 8)
                message.update(mail_threading.reply_message_fields(message["id"], ticket["mail_thread"]))
            helpdesk_store.insert_message(session, message)
            ticket = ticket_store.record_message(session, ticket, message, effect, now)
        return message, ticket

    @rpc(expected_exceptions=EXPECTED)
    def list_messages(self, tenant_id, ticket_id, include_internal=True):
        """The ticket's messages, oldest first; internal notes only when `include_internal`."""
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        with self.db.read() as session:
            ticket_store.load(session, tenant_id, ticket_id)
            return helpdesk_store.unpaged(helpdesk_store.messages(session, tenant_id, ticket_id, include_internal))

    # --- assignment ---

    @rpc(expected_exceptions=EXPECTED)
    def assign_ticket(self, tenant_id, ticket_id, payload):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        cmd = parse(AssignTicket, payload)
        if cmd.assignee_id is not None:
            customer_directory.check_member(self.rpc_client, self.db, tenant_id, cmd.assignee_id)
        with self.db.transaction() as session:
            current = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            if current["assignee_id"] == cmd.assignee_id:
                return ticket_store.shape(current)
            return ticket_store.shape(ticket_store.assign(session, current, cmd.assignee_id, utc_now()))

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
            return ticket_store.shape(ticket_store.assign(session, current, member_id, utc_now(), "round_robin",
                                                          team_id))

    # --- teams ---

    @rpc(expected_exceptions=EXPECTED)
    def create_team(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateTeam, payload)
        member_ids = list(dict.fromkeys(cmd.member_ids))
        customer_directory.check_members(self.rpc_client, self.db, tenant_id, member_ids)
        with self.db.transaction() as session:
            return helpdesk_store.create_team(session, tenant_id, cmd.name, member_ids, utc_now())

    @rpc(expected_exceptions=EXPECTED)
    def list_teams(self, tenant_id, filters=None):
        """The working teams by name (`{include_archived: true}`: archived ones too)."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TeamFilters, filters or {})
        with self.db.read() as session:
            return helpdesk_store.unpaged(helpdesk_store.list_teams(session, tenant_id, f.include_archived))

    @rpc(expected_exceptions=EXPECTED)
    def archive_team(self, tenant_id, team_id):
        """Archive a team (again: no change). History stays: tickets keep their `team_id`; an archived
        team takes no new tickets (round-robin or named on a new ticket), cannot be edited, is out of
        `list_teams` by default, and its name may be given to a new team."""
        tenant_id, team_id = parse_id(tenant_id, "tenant"), parse_id(team_id, "team")
        with self.db.transaction() as session:
            return helpdesk_store.archive_team(session, tenant_id, team_id, utc_now())

    @rpc(expected_exceptions=EXPECTED)
    def update_team(self, tenant_id, team_id, payload):
        tenant_id, team_id = parse_id(tenant_id, "tenant"), parse_id(team_id, "team")
        cmd = parse(UpdateTeam, payload)
        changes = {k: v for k, v in cmd.model_dump(exclude_unset=True).items() if v is not None}
        if "member_ids" in changes:
            changes["member_ids"] = list(dict.fromkeys(changes["member_ids"]))
            customer_directory.check_members(self.rpc_client, self.db, tenant_id, changes["member_ids"])
        try:
            with self.db.transaction() as session:
                return helpdesk_store.update_team(session, tenant_id, team_id, changes, utc_now())
        except IntegrityError:  # a concurrent rename took the name first
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
        with self.db.transaction() as session:
            return helpdesk_store.create_canned_response(session, tenant_id, cmd.name, cmd.body, utc_now())

    @rpc(expected_exceptions=EXPECTED)
    def list_canned_responses(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return helpdesk_store.unpaged(helpdesk_store.list_canned_responses(session, tenant_id))

    @rpc(expected_exceptions=EXPECTED)
    def delete_canned_response(self, tenant_id, canned_id):
        tenant_id, canned_id = parse_id(tenant_id, "tenant"), parse_id(canned_id, "canned response")
        with self.db.transaction() as session:
            helpdesk_store.delete_canned_response(session, tenant_id, canned_id, utc_now())
        return {"id": str(canned_id), "deleted": True}

    @rpc(expected_exceptions=EXPECTED)
    def render_canned_response(self, tenant_id, canned_id, ticket_id, agent_name=None):
        """The response's body with customer name, ticket number and agent name filled in."""
        tenant_id, canned_id = parse_id(tenant_id, "tenant"), parse_id(canned_id, "canned response")
        ticket_id = parse_id(ticket_id, "ticket")
        with self.db.read() as session:
            row = helpdesk_store.load_canned_response(session, tenant_id, canned_id)
            try:
                ticket = ticket_store.load(session, tenant_id, ticket_id)
            except NotFound:  # the ticket is a reference in the input, not the resource addressed: 422
                raise InvalidInput("unknown ticket", [
                    {"field": "ticket_id", "message": "no such ticket in this tenant"}]) from None
        customer = customer_directory.customer(self.rpc_client, tenant_id, ticket["customer_id"])
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
            helpdesk_store.add_category(session, tenant_id, name, utc_now())
        return {"name": name, "built_in": False}

    @rpc(expected_exceptions=EXPECTED)
    def remove_category(self, tenant_id, name):
        """Remove a tenant category: new tickets (and edits) no longer take it, existing tickets keep
        it (and are still found by it). A built-in category cannot be removed (409)."""
        tenant_id = parse_id(tenant_id, "tenant")
        try:
            name = workflow.normalise_category(str(name))
        except workflow.RuleBroken:
            raise NotFound(f"category {name} not found") from None  # no such name can exist
        with self.db.transaction() as session:
            helpdesk_store.remove_category(session, tenant_id, name, utc_now())
        return {"name": name, "deleted": True}

    @rpc(expected_exceptions=EXPECTED)
    def list_categories(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            names = helpdesk_store.categories(session, tenant_id)
        return helpdesk_store.unpaged([{"name": n, "built_in": n in workflow.BUILT_IN_CATEGORIES} for n in names])
