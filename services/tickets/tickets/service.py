"""Tickets service entrypoints: thin wiring over `ticket_store` (rows, events, SLA hooks) and the
status rules; the help desk and SLA entrypoints are mixins of their own."""
from __future__ import annotations

from custops.rpc_entrypoint import rpc

from custops import pagination
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.errors import EXPECTED, InvalidInput
from custops.rpc import ServiceRpc
from custops.shapes import utc_now
from custops.validation import parse, parse_id
from tickets import customer_copies, customer_directory, helpdesk_store, statuses, ticket_store
from tickets.commands import CreateTicket, TicketFilters
from tickets.customer_copies import CustomerCopies
from tickets.directory_events import DirectoryEvents
from tickets.form_tickets import FormTickets
from tickets.member_copies import MemberCopies
from tickets.helpdesk_service import HelpDeskEntrypoints
from tickets.mail_intake import MailIntake
from tickets.sla_service import SlaEntrypoints


class TicketsService(HelpDeskEntrypoints, SlaEntrypoints, DirectoryEvents, CustomerCopies, MemberCopies,
                    MailIntake, FormTickets, HealthEndpoints):
    name = "tickets"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()

    @rpc(expected_exceptions=EXPECTED)
    def create_ticket(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateTicket, payload)
        # Ask (never tell) the customers service: the contact must exist there. The customer and
        # its tier, and the assignee, come from the copies its events keep here (`customer_copies`,
        # `member_copies`); one not copied yet is asked about too.
        if cmd.contact_id is not None:
            customer_directory.check_contact(self.rpc_client, tenant_id, cmd.customer_id, cmd.contact_id)
        if cmd.assignee_id is not None:
            customer_directory.check_member(self.rpc_client, self.db, tenant_id, cmd.assignee_id)
        try:
            row = self._open_ticket(tenant_id, cmd, customer_tier=None)
        except customer_copies.NotCopied:
            customer = customer_directory.customer(self.rpc_client, tenant_id, cmd.customer_id)
            row = self._open_ticket(tenant_id, cmd, customer_tier=customer["tier"])
        return ticket_store.shape(row)

    def _open_ticket(self, tenant_id, cmd: CreateTicket, customer_tier: str | None) -> dict:
        """`customer_tier` None: the copy's (NotCopied, nothing written, when it has none)."""
        now = utc_now()
        with self.db.transaction() as session:
            helpdesk_store.check_category(session, tenant_id, cmd.category)
            return ticket_store.open_ticket(session, tenant_id, {
                "customer_id": cmd.customer_id, "customer_tier": customer_tier, "subject": cmd.subject,
                "description": cmd.description, "priority": cmd.priority, "source": cmd.source,
                "contact_id": cmd.contact_id, "category": cmd.category, "assignee_id": cmd.assignee_id,
                "team_id": cmd.team_id, "tags": cmd.tags}, now)

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
        with self.db.read() as session:
            return ticket_store.list_page(session, tenant_id, f, limit, cursor, utc_now())

    @rpc(expected_exceptions=EXPECTED)
    def change_status(self, tenant_id, ticket_id, status):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        if status not in statuses.STATUSES:
            raise InvalidInput("unknown status", [
                {"field": "status", "message": f"must be one of {', '.join(statuses.STATUSES)}"}])
        now = utc_now()
        with self.db.transaction() as session:
            current = ticket_store.load(session, tenant_id, ticket_id, for_update=True)
            if current["status"] == status:
                return ticket_store.shape(current)
            return ticket_store.shape(ticket_store.move_status(session, current, status, now))

