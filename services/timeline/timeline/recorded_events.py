"""The events the timeline records, one activity each: the binding is this table.

Adding an event is a line in `RECORDED` (its summary rule goes in `summaries.describe`; without one
it is recorded with a generic internal summary). A line whose contract does not exist yet (an event
another issue is still adding) binds nothing until the contract lands, so the table can name the
events ahead of their producers. Each line becomes an `on_<type>` consumer (`custops.consumes`:
inbox-deduplicated, dead-lettered when poison) of the `RecordedEvents` mixin.

Not recorded: ticket.resolved / closed / reopened (ticket.status_changed already records those
transitions; consuming both would show each twice), our own interaction.* (written with their event).
The tenant's clock (tenant.created / tenant.updated) is copied for the heatmap, not recorded.
"""
from __future__ import annotations

import json
import uuid

from sqlalchemy import event, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert

from custops.entrypoints import PoisonMessage, consumes
from custops.events import UnknownContract, contract_for
from timeline import activity_months
from timeline.models import accounts, activities, tenant_settings
from timeline.summaries import Entry, describe, links_of

RECORDED: tuple[tuple[str, str], ...] = (
    ("customers", "customer.created"),
    ("customers", "customer.updated"),
    ("customers", "customer.lifecycle_changed"),
    ("customers", "contact.created"),
    ("customers", "contact.archived"),
    ("customers", "project.created"),
    ("customers", "project.updated"),
    ("customers", "project.deleted"),
    ("customers", "task.created"),
    ("customers", "task.updated"),
    ("customers", "task.moved"),
    ("customers", "task.completed"),
    ("customers", "task.reopened"),
    ("customers", "task.deleted"),
    ("customers", "onboarding.applied"),
    ("customers", "onboarding.replanned"),
    ("customers", "form.submitted"),
    ("tickets", "ticket.created"),
    ("tickets", "ticket.status_changed"),
    ("tickets", "ticket.updated"),
    ("tickets", "ticket.assigned"),
    ("tickets", "ticket.replied"),
    ("tickets", "ticket.note_added"),
    ("tickets", "ticket.customer_replied"),
    ("tickets", "ticket.sla_warning"),
    ("tickets", "ticket.sla_breached"),
    ("mailsync", "mail.received"),
    ("billing", "time.logged"),
    ("billing", "time.updated"),  # a correction: recorded on the entry's customer as it now is
    ("billing", "time.deleted"),
    ("billing", "timer.started"),
    ("billing", "timer.stopped"),
)


def row_of(activity_id, tenant_id, customer_id, entry: Entry, envelope, data=None) -> dict:
    actor = entry.actor or envelope.actor
    links = entry.links if entry.links is not None else (links_of(data) if data is not None else {})
    return {
        "id": activity_id, "tenant_id": tenant_id, "customer_id": customer_id, "type": entry.type,
        "occurred_at": entry.occurred_at or envelope.occurred_at, "summary": entry.summary,
        "internal": entry.internal, "subject_type": entry.subject_type, "subject_id": entry.subject_id,
        "actor": actor.id if actor else None, "actor_type": actor.type if actor else None,
        "sequence": envelope.sequence or 0, "data": envelope.data, "source_event_id": envelope.id,
        "links": links,
    }


# built once: a statement per event would cost more CPU than the INSERT itself (issue 14). A batch's
# rows go as one JSON document expanded by PostgreSQL (`jsonb_to_recordset`): one parameter the C
# encoder writes, instead of an executemany whose per-row parameter adaptation was a quarter of the
# consumer's CPU (measured: 29 vs 47 us per row), or one multi-row INSERT whose long text psycopg
# parses anew for every batch (worse still).
_RECORDED_COLUMNS = ("id", "tenant_id", "customer_id", "type", "occurred_at", "summary", "internal", "subject_type",
                     "subject_id", "actor", "actor_type", "sequence", "data", "source_event_id", "links")
_RECORD = text("INSERT INTO activities ({names}) SELECT {names} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
               "AS r({typed}) ON CONFLICT (source_event_id) DO NOTHING".format(
                   names=", ".join(_RECORDED_COLUMNS),
                   typed=", ".join(f"{c} {activities.c[c].type.compile(dialect=postgresql.dialect())}"
                                   for c in _RECORDED_COLUMNS)))
_ACCOUNT = insert(accounts).on_conflict_do_nothing(index_elements=[accounts.c.tenant_id, accounts.c.customer_id])
_PENDING = "timeline.recorded"


def know_account(session, tenant_id, customer_id) -> None:
    """The heatmap's list of accounts: told by customer.created and every hand-logged interaction."""
    session.execute(_ACCOUNT, {"tenant_id": tenant_id, "customer_id": customer_id})


class _Recorded:
    """The activities recorded in a consumer's transaction, written together just before its commit
    (one statement for a batch of deliveries instead of one per event; measured: the per-statement
    cost was most of the consumer's time). A failure there is the commit's: the batch is then
    retried one message per transaction (`custops.event_batches`), so a poison row still fails alone."""

    def __init__(self, session):
        self.activities: list[dict] = []
        self.accounts: list[dict] = []
        event.listen(session, "before_commit", self.write, once=True)

    def write(self, session) -> None:
        session.info.pop(_PENDING, None)
        if self.activities:
            session.execute(_RECORD, {"rows": json.dumps(self.activities, default=str)})
        if self.accounts:
            session.execute(_ACCOUNT, self.accounts)


def record(session, envelope, data) -> None:
    """One activity per event; the unique source_event_id makes a repeat a no-op even past the inbox.
    Written at the commit, with the rest of the batch (`_Recorded`)."""
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Recorded(session)
    pending.activities.append(row_of(uuid.uuid4(), envelope.tenant_id, data.customer_id, describe(data), envelope,
                                     data))
    if envelope.type == "customer.created":
        pending.accounts.append({"tenant_id": envelope.tenant_id, "customer_id": data.customer_id})


def _contract_exists(event_type: str) -> bool:
    try:
        contract_for(event_type, 1)
    except UnknownContract:
        return False
    return True


def handler_name(event_type: str) -> str:
    return "on_" + event_type.replace(".", "_")


def bound() -> list[tuple[str, str]]:
    """The lines of `RECORDED` whose contract exists."""
    return [(source, event_type) for source, event_type in RECORDED if _contract_exists(event_type)]


class RecordedEvents:
    """Mixin: a consumer per bound line of `RECORDED`, and the tenant's clock."""

    @consumes("customers", "tenant.created")
    def on_tenant_created(self, session, envelope, data):
        _keep_clock(session, data)

    @consumes("customers", "tenant.updated")
    def on_tenant_updated(self, session, envelope, data):
        _keep_clock(session, data)


def _keep_clock(session, data) -> None:
    """The tenant's timezone and week start; a new timezone rebuilds the heatmap's read model (its
    days are the tenant's local days, `timeline.activity_months`)."""
    before = session.execute(select(tenant_settings.c.timezone).where(
        tenant_settings.c.tenant_id == data.tenant_id).with_for_update()).scalar()
    stmt = insert(tenant_settings).values(tenant_id=data.tenant_id, timezone=data.timezone,
                                          week_start=data.week_start)
    session.execute(stmt.on_conflict_do_update(index_elements=[tenant_settings.c.tenant_id], set_={
        "timezone": stmt.excluded.timezone, "week_start": stmt.excluded.week_start,
        "updated_at": stmt.excluded.updated_at}))
    if (before or "UTC") != data.timezone:
        activity_months.rebuild(session, data.tenant_id)


def _consumer(event_type: str):
    def handler(self, session, envelope, data):
        record(session, envelope, data)

    handler.__name__ = handler.__qualname__ = handler_name(event_type)
    return handler


for _source, _event_type in bound():
    setattr(RecordedEvents, handler_name(_event_type), consumes(_source, _event_type)(_consumer(_event_type)))
