"""Tables the timeline service owns."""
from sqlalchemy import (BigInteger, Boolean, Column, Computed, Date, DateTime, Index, Integer, PrimaryKeyConstraint,
                        String, Table, Text, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID

from custops.db import service_metadata

metadata = service_metadata()

# Append-only (a trigger refuses UPDATE and DELETE, migration 0003a): a correction is a new version
# row; the one change a row ever takes is `superseded_by` set, once, to the version that replaced it.
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
    # when the timeline recorded it (answered as `recorded_at`)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # what it is about: {"ticket_id": "...", "task_id": ..., "project_id", "mail_message_id", "time_entry_id"}
    Column("links", JSONB, nullable=False, server_default="{}"),
    # versions: the first version's id (null on the first version itself), its number, the version
    # that replaced it (null on the current one), whether this version retracts the activity
    Column("root_id", UUID(as_uuid=True)),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("superseded_by", UUID(as_uuid=True)),
    Column("retracted", Boolean, nullable=False, server_default="false"),
    Column("correction_reason", Text),
    Column("search", TSVECTOR, Computed("to_tsvector('english', summary)", persisted=True)),
)
# the timeline's keyset order: newest first, ties in the order the facts happened
Index("ix_activities_tenant_customer_order", activities.c.tenant_id, activities.c.customer_id,
      activities.c.occurred_at.desc(), activities.c.sequence.desc(), activities.c.id.desc())
Index("ix_activities_search", activities.c.search, postgresql_using="gin")
Index("ix_activities_links", activities.c.links, postgresql_using="gin", postgresql_ops={"links": "jsonb_path_ops"})
Index("ix_activities_root", activities.c.root_id, postgresql_where=text("root_id IS NOT NULL"))
# (ix_activities_tenant_order and ix_activities_human_touch: migration 0003a, with INCLUDE / partial)

# The tenant's clock, copied from tenant.created / tenant.updated (customers owns it): the heatmap's
# days and weeks are the tenant's.
tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("week_start", String(10), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every customer the timeline knows (from customer.created, a hand-logged interaction, or the log as it
# was when this table came): the heatmap's accounts, quiet ones included, without scanning the log.
accounts = Table(
    "accounts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # its last human activity (current versions, not retracted): kept by a trigger on activities
    Column("last_human_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("tenant_id", "customer_id"),
)

# The heatmap's read model (`timeline.activity_months`): current activities counted per tenant x month in
# the tenant's timezone x account, one counter per day of the month x actor kind x visibility (`counts`,
# 31 x 6). Kept by triggers on activities in the transaction that inserts (or supersedes) them,
# rebuilt when the tenant's timezone changes (migration 0004).
activity_months = Table(
    "activity_months",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("month", Date, nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("counts", ARRAY(Integer), nullable=False),
    PrimaryKeyConstraint("tenant_id", "month", "customer_id"),
)

# A tenant's own interaction kinds (the built-in ones live in `timeline.interaction_types`).
interaction_types = Table(
    "interaction_types",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("label", String(80), nullable=False),
    Column("fields", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id", "kind"),
)

# Named filter sets of a member; one default per member; shared ones are listed to the whole team.
saved_views = Table(
    "saved_views",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("name", String(80), nullable=False),
    Column("filters", JSONB, nullable=False),
    Column("shared", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("uq_saved_views_member_default", saved_views.c.tenant_id, saved_views.c.member_id, unique=True,
      postgresql_where=text("is_default"))
