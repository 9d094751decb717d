"""Tables the timeline service owns."""
from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from custops.db import service_metadata

metadata = service_metadata()

# Append-only: rows are inserted, never updated or deleted by the service.
activities = Table(
    "activities",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    # the event type (`ticket.created`) or `interaction.<kind>` for hand-logged entries
    Column("type", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("summary", Text, nullable=False),
    # internal entries never reach portal users, outbound mail or customer-visible exports
    Column("internal", Boolean, nullable=False),
    Column("subject_type", String(30)),
    Column("subject_id", UUID(as_uuid=True)),
    # who did it: the author the event names, else the envelope's actor (member, contact, or the
    # system, which has no id); both null on activities recorded before actors were carried
    Column("actor", UUID(as_uuid=True)),
    Column("actor_type", String(20)),
    # the producer's outbox sequence: breaks ties between activities with the same occurred_at in
    # the order the facts happened (0 when the event carried none)
    Column("sequence", BigInteger, nullable=False, server_default="0"),
    Column("data", JSONB, nullable=False),
    # the event this entry records (for hand-logged entries: the interaction.logged it published);
    # unique as a second line of defence against duplicates besides the inbox
    Column("source_event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# the timeline's keyset order: newest first, ties in the order the facts happened
Index("ix_activities_tenant_customer_order", activities.c.tenant_id, activities.c.customer_id,
      activities.c.occurred_at.desc(), activities.c.sequence.desc(), activities.c.id.desc())
