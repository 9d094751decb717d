"""Tickets service entrypoints: thin wiring over the tables and the status rules."""
from __future__ import annotations

from datetime import datetime, timezone

from nameko.rpc import rpc
from sqlalchemy import and_, func, or_, select

from custops import pagination
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.errors import EXPECTED, InvalidInput
from custops.rpc import ServiceRpc
from custops.validation import parse, parse_id
from tickets import statuses, ticket_store
from tickets.commands import CreateTicket, TicketFilters
from tickets.helpdesk_service import HelpDeskEntrypoints, ask_customer, check_category, check_contact, check_member
from tickets.models import ticket_sla_timers, tickets
from tickets.sla_service import SlaEntrypoints


class TicketsService(HelpDeskEntrypoints, SlaEntrypoints, HealthEndpoints):
    name = "tickets"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()

    @rpc(expected_exceptions=EXPECTED)
    def create_ticket(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateTicket, payload)
        # Ask (never tell) the customers service: the customer, contact and assignee must exist here.
        customer = ask_customer(self.rpc_client, tenant_id, cmd.customer_id)
        if cmd.contact_id is not None:
            check_contact(self.rpc_client, tenant_id, cmd.customer_id, cmd.contact_id)
        if cmd.assignee_id is not None:
            check_member(self.rpc_client, tenant_id, cmd.assignee_id)
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            check_category(session, tenant_id, cmd.category)
            row = ticket_store.open_ticket(session, tenant_id, {
                "customer_id": cmd.customer_id, "customer_tier": customer["tier"], "subject": cmd.subject,
                "description": cmd.description, "priority": cmd.priority, "source": cmd.source,
                "contact_id": cmd.contact_id, "category": cmd.category, "assignee_id": cmd.assignee_id,
                "team_id": cmd.team_id, "tags": cmd.tags}, now)
        return ticket_store.shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def get_ticket(self, tenant_id, ticket_id):
        with self.db.read() as session:
            return ticket_store.shape(ticket_store.load(
                session, parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")))

    @rpc(expected_exceptions=EXPECTED)
    def list_tickets(self, tenant_id, filters=None, limit=50, cursor=None):
        """Newest first, keyset-paged, with `total`: the size of the whole filtered set."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TicketFilters, filters or {})
        limit = pagination.clamp(limit)
        conditions = [tickets.c.tenant_id == tenant_id, *_filter_conditions(f, datetime.now(timezone.utc))]
        stmt = pagination.page(select(tickets).where(*conditions), tickets.c.created_at, tickets.c.id, cursor, limit)
        with self.db.read() as session:
            rows = session.execute(stmt).mappings().all()
            total = session.execute(select(func.count()).select_from(tickets).where(*conditions)).scalar_one()
        return {**pagination.result(rows, limit, "created_at", ticket_store.shape), "total": total}

    @rpc(expected_exceptions=EXPECTED)
    def change_status(self, tenant_id, ticket_id, status):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        if status not in statuses.STATUSES:
            raise InvalidInput("unknown status", [
                {"field": "status", "message": f"must be one of {', '.join(statuses.STATUSES)}"}])
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            current = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            if current["status"] == status:
                return ticket_store.shape(current)
            return ticket_store.shape(ticket_store.move_status(session, current, status, now))


def _filter_conditions(f: TicketFilters, now: datetime) -> list:
    conditions = []
    if f.status:
        conditions.append(tickets.c.status == f.status)
    if f.priority:
        conditions.append(tickets.c.priority == f.priority)
    if f.customer_id:
        conditions.append(tickets.c.customer_id == f.customer_id)
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
