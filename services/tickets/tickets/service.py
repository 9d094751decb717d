"""Tickets service entrypoints: thin wiring over the tables and the status rules."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from nameko.rpc import rpc
from sqlalchemy import select, update

from custops import outbox, pagination
from custops.contracts.tickets import TicketCreated, TicketStatusChanged
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.errors import EXPECTED, InvalidInput, NotFound
from custops.rpc import ServiceRpc
from custops.validation import parse, parse_id
from tickets import sla_tracking, statuses
from tickets.commands import CreateTicket, TicketFilters
from tickets.models import ticket_counters, tickets
from tickets.sla_service import SlaEntrypoints


def _shape(row) -> dict:
    return {
        "id": str(row["id"]),
        "number": row["number"],
        "customer_id": str(row["customer_id"]),
        "subject": row["subject"],
        "description": row["description"],
        "priority": row["priority"],
        "status": row["status"],
        "source": row["source"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


class TicketsService(SlaEntrypoints, HealthEndpoints):
    name = "tickets"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()

    @rpc(expected_exceptions=EXPECTED)
    def create_ticket(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateTicket, payload)
        # Ask (never tell) the customers service: the customer must exist in this tenant.
        try:
            customer = self.rpc_client.call("customers", "get_customer", str(tenant_id), str(cmd.customer_id))
        except NotFound:
            raise InvalidInput("unknown customer", [
                {"field": "customer_id", "message": "no such customer in this tenant"}]) from None
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            number = _next_number(session, tenant_id)
            row = {
                "id": uuid.uuid4(), "tenant_id": tenant_id, "number": number,
                "customer_id": cmd.customer_id, "customer_tier": customer["tier"],
                "subject": cmd.subject, "description": cmd.description, "priority": cmd.priority,
                "status": "new", "source": cmd.source, "created_at": now, "updated_at": now,
            }
            session.execute(tickets.insert().values(**row))
            sla_tracking.on_ticket_created(session, row, now)
            outbox.add(session, tenant_id, TicketCreated(
                ticket_id=row["id"], number=number, customer_id=cmd.customer_id, subject=cmd.subject,
                priority=cmd.priority, status="new", source=cmd.source, created_at=now))
        return _shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def get_ticket(self, tenant_id, ticket_id):
        with self.db.read() as session:
            return _shape(_load(session, parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")))

    @rpc(expected_exceptions=EXPECTED)
    def list_tickets(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TicketFilters, filters or {})
        limit = pagination.clamp(limit)
        stmt = select(tickets).where(tickets.c.tenant_id == tenant_id)
        if f.status:
            stmt = stmt.where(tickets.c.status == f.status)
        if f.priority:
            stmt = stmt.where(tickets.c.priority == f.priority)
        if f.customer_id:
            stmt = stmt.where(tickets.c.customer_id == f.customer_id)
        stmt = pagination.page(stmt, tickets.c.created_at, tickets.c.id, cursor, limit)
        with self.db.read() as session:
            rows = session.execute(stmt).mappings().all()
        return pagination.result(rows, limit, "created_at", _shape)

    @rpc(expected_exceptions=EXPECTED)
    def change_status(self, tenant_id, ticket_id, status):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        if status not in statuses.STATUSES:
            raise InvalidInput("unknown status", [
                {"field": "status", "message": f"must be one of {', '.join(statuses.STATUSES)}"}])
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            current = _load(session, tenant_id, ticket_id, for_update=True)
            old = current["status"]
            if old == status:
                return _shape(current)
            if not statuses.can_move(old, status):
                raise InvalidInput(f"a {old} ticket cannot become {status}", [
                    {"field": "status", "message": f"not allowed from {old}"}])
            session.execute(update(tickets).where(tickets.c.id == ticket_id)
                            .values(status=status, updated_at=now))
            sla_tracking.on_status_changed(session, {**current, "status": status}, old, status, now)
            outbox.add(session, tenant_id, TicketStatusChanged(
                ticket_id=ticket_id, number=current["number"], customer_id=current["customer_id"],
                old_status=old, new_status=status, changed_at=now))
            return _shape({**current, "status": status, "updated_at": now})


def _load(session, tenant_id, ticket_id, for_update=False):
    stmt = select(tickets).where(tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return dict(row)


def _next_number(session, tenant_id) -> int:
    from sqlalchemy.dialects.postgresql import insert

    stmt = (
        insert(ticket_counters)
        .values(tenant_id=tenant_id, last_number=1)
        .on_conflict_do_update(index_elements=[ticket_counters.c.tenant_id],
                               set_={"last_number": ticket_counters.c.last_number + 1})
        .returning(ticket_counters.c.last_number)
    )
    return session.execute(stmt).scalar_one()
