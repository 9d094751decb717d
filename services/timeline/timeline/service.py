"""Timeline service entrypoints: the activity log fed by other services' events, and its queries.

Each activity records its actor: the author the event names (`summaries`), else the envelope's
actor (who made the change). Answers carry `actor` (the id, as before; null for the system) and
`actor_type` (`member`, `contact`, `system`; null on activities older than actor types) — additive,
so existing clients keep working.

Order: newest first by `occurred_at`; activities with the same `occurred_at` in the reverse of the
order the facts happened (the producer's outbox `sequence`), then by id. The cursor carries all
three.

Queries about a customer ask the customers service first (never its tables): an unknown customer,
or another tenant's, is a 404 rather than an empty timeline.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from custops.rpc_entrypoint import rpc
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from custops import outbox, pagination
from custops.contracts.timeline import InteractionLogged
from custops.db import Database
from custops.entrypoints import HealthEndpoints, PoisonMessage, Telemetry, consumes
from custops.errors import EXPECTED
from custops.rpc import ServiceRpc
from custops.validation import parse, parse_id
from timeline.commands import ActivityFilters, LogInteraction
from timeline.models import activities
from timeline.summaries import Entry, describe


def _shape(row) -> dict:
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "occurred_at": row["occurred_at"].isoformat(),
        "summary": row["summary"],
        "internal": row["internal"],
        "subject_type": row["subject_type"],
        "subject_id": str(row["subject_id"]) if row["subject_id"] else None,
        "actor": str(row["actor"]) if row["actor"] else None,
        "actor_type": row["actor_type"],
        "data": row["data"],
    }


# the keyset order of a timeline (all NOT NULL)
_ORDER = (activities.c.occurred_at, activities.c.sequence, activities.c.id)


def _row(activity_id, tenant_id, customer_id, entry: Entry, envelope) -> dict:
    actor = entry.actor or envelope.actor
    return {
        "id": activity_id, "tenant_id": tenant_id, "customer_id": customer_id, "type": entry.type,
        "occurred_at": entry.occurred_at or envelope.occurred_at, "summary": entry.summary,
        "internal": entry.internal, "subject_type": entry.subject_type, "subject_id": entry.subject_id,
        "actor": actor.id if actor else None, "actor_type": actor.type if actor else None,
        "sequence": envelope.sequence or 0, "data": envelope.data, "source_event_id": envelope.id,
    }


# built once: a statement per event would cost more CPU than the INSERT itself (issue 14)
_RECORD = insert(activities).on_conflict_do_nothing(index_elements=[activities.c.source_event_id])


def _record(session, envelope, data) -> None:
    """One activity per event; the unique source_event_id makes a repeat a no-op even past the inbox."""
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    session.execute(_RECORD, _row(uuid.uuid4(), envelope.tenant_id, data.customer_id, describe(data), envelope))


class TimelineService(HealthEndpoints):
    name = "timeline"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()

    @consumes("customers", "customer.created")
    def on_customer_created(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("customers", "customer.updated")
    def on_customer_updated(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("customers", "contact.created")
    def on_contact_created(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("customers", "contact.archived")
    def on_contact_archived(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.created")
    def on_ticket_created(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.status_changed")
    def on_ticket_status_changed(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.updated")
    def on_ticket_updated(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.assigned")
    def on_ticket_assigned(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.replied")
    def on_ticket_replied(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.note_added")
    def on_ticket_note_added(self, session, envelope, data):
        _record(session, envelope, data)

    # ticket.resolved / closed / reopened are not consumed: ticket.status_changed already records
    # those transitions, and consuming both would show each twice.
    @consumes("tickets", "ticket.customer_replied")
    def on_ticket_customer_replied(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.sla_warning")
    def on_ticket_sla_warning(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("tickets", "ticket.sla_breached")
    def on_ticket_sla_breached(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("billing", "time.logged")
    def on_time_logged(self, session, envelope, data):
        _record(session, envelope, data)

    # a correction is recorded on the entry's customer as it now is (one activity per event)
    @consumes("billing", "time.updated")
    def on_time_updated(self, session, envelope, data):
        _record(session, envelope, data)

    @consumes("billing", "time.deleted")
    def on_time_deleted(self, session, envelope, data):
        _record(session, envelope, data)

    def _require_customer(self, tenant_id, customer_id) -> None:
        """Ask (never tell) the customers service: NotFound when the customer is not in this tenant."""
        self.rpc_client.call("customers", "get_customer", str(tenant_id), str(customer_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_activities(self, tenant_id, customer_id, filters=None, limit=50, cursor=None):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        f = parse(ActivityFilters, filters or {})
        limit = pagination.clamp(limit)
        stmt = select(activities).where(activities.c.tenant_id == tenant_id,
                                        activities.c.customer_id == customer_id)
        if f.types:
            stmt = stmt.where(activities.c.type.in_(f.types))
        if not f.include_internal:
            stmt = stmt.where(activities.c.internal.is_(False))
        stmt = pagination.keyset_page(stmt, _ORDER, cursor, limit)  # refuses a bad cursor
        self._require_customer(tenant_id, customer_id)  # once the input is known to be good
        with self.db.read() as session:
            rows = session.execute(stmt).mappings().all()
        return pagination.keyset_result(rows, limit, [c.name for c in _ORDER], _shape)

    @rpc(expected_exceptions=EXPECTED)
    def log_interaction(self, tenant_id, customer_id, payload):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        cmd = parse(LogInteraction, payload)
        self._require_customer(tenant_id, customer_id)
        event = InteractionLogged(
            activity_id=uuid.uuid4(), customer_id=customer_id, kind=cmd.kind, summary=cmd.summary,
            internal=cmd.internal, occurred_at=cmd.occurred_at or datetime.now(timezone.utc))
        with self.db.transaction() as session:
            envelope = outbox.add(session, tenant_id, event)  # its actor: the caller
            row = _row(event.activity_id, tenant_id, customer_id, describe(event), envelope)
            session.execute(activities.insert().values(**row))
        return _shape(row)
