"""Audit entrypoints of the customers service (a mixin `CustomersService` inherits): the consumer
that files every event of every service in the audit log, and the log's queries.

Written through the event path (DESIGN.md §4): each service adds its event to its outbox in the
transaction of the change, so no change commits without the event that makes its record. One
consumer per producer, its queue bound to all of that producer's exchange (`#`): a new event type is
recorded without a new queue. `custops setup` declares these queues before any producer runs, so
no event is published before the log takes it. The inbox makes a redelivery write nothing.
`AUDITED_PRODUCERS` must name every producer of a contract (a test holds it so).

Thin wiring: the row and its digest are `customers.audit_store` / `customers.audit`. The log has no
update or delete entrypoint; the table refuses both (migration 0004).
"""
from __future__ import annotations

from custops.rpc_entrypoint import rpc

from custops import pagination
from custops.entrypoints import consumes
from custops.errors import EXPECTED, InvalidInput
from custops.validation import parse, parse_id
from customers import audit_store
from customers.audit import AuditFilters

ALL_EVENTS = "#"  # a topic binding taking every routing key of the exchange
AUDITED_PRODUCERS = ("billing", "customers", "mailsync", "reports", "tickets", "timeline")
# rows one export may hold: an export is a bounded document, not a replication feed (narrow the
# filter, e.g. by `from`/`to`, for more)
EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE_ROWS = 1000


class AuditEntrypoints:
    # --- the consumers: one per producer, every event of it ---

    @consumes("billing", ALL_EVENTS)
    def audit_billing_events(self, session, envelope, data):
        audit_store.record(session, envelope)

    @consumes("customers", ALL_EVENTS)
    def audit_customers_events(self, session, envelope, data):
        audit_store.record(session, envelope)

    @consumes("mailsync", ALL_EVENTS)
    def audit_mailsync_events(self, session, envelope, data):
        audit_store.record(session, envelope)  # `mailbox.*`: no payload recorded (customers.audit)

    @consumes("reports", ALL_EVENTS)
    def audit_reports_events(self, session, envelope, data):
        audit_store.record(session, envelope)  # health settings changes; health state changes

    @consumes("tickets", ALL_EVENTS)
    def audit_tickets_events(self, session, envelope, data):
        audit_store.record(session, envelope)

    @consumes("timeline", ALL_EVENTS)
    def audit_timeline_events(self, session, envelope, data):
        audit_store.record(session, envelope)

    # --- queries ---

    @rpc(expected_exceptions=EXPECTED)
    def list_audit(self, tenant_id, filters=None, limit=50, cursor=None):
        """Audit records newest first, filtered (`customers.audit.AuditFilters`), in the page shape."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(AuditFilters, filters or {})
        limit = pagination.clamp(limit)
        with self.db.read() as session:
            return audit_store.list_records(session, tenant_id, f, limit, cursor)

    @rpc(expected_exceptions=EXPECTED)
    def export_audit(self, tenant_id, filters=None, cursor=None, limit=EXPORT_PAGE_ROWS):
        """A page of the CSV export: `{columns, rows, next_cursor}`, rows as lists of cells
        (`audit_store.CSV_COLUMNS`), newest first; up to `EXPORT_PAGE_ROWS` a call so the gateway
        streams them without holding the whole export."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(AuditFilters, filters or {})
        try:
            limit = int(limit)
        except (TypeError, ValueError):
            limit = 0
        if not 1 <= limit <= EXPORT_PAGE_ROWS:
            raise InvalidInput("invalid limit", [{"field": "limit", "message": f"must be 1..{EXPORT_PAGE_ROWS}"}])
        with self.db.read() as session:
            page = audit_store.list_records(session, tenant_id, f, limit, cursor, shape=audit_store.csv_shape)
        return {"columns": list(audit_store.CSV_COLUMNS), "rows": page["items"], "next_cursor": page["next_cursor"]}
