"""Tables the reports service owns: read models rolled up from other services' events."""
from sqlalchemy import BigInteger, Column, DateTime, Index, PrimaryKeyConstraint, String, Table
from sqlalchemy.dialects.postgresql import UUID

from custops.db import service_metadata

metadata = service_metadata()

# The tenant settings reports use, a local copy of what the customers service tells
# (tenant.created / tenant.updated). A tenant without a row uses the defaults (UTC).
tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    # the (occurred_at, sequence) of the tenant event the row holds: an older event arriving late
    # changes nothing
    Column("settings_at", DateTime(timezone=True)),
    Column("settings_seq", BigInteger, nullable=False, server_default="0"),
)

# One row per ticket (see reports.facts): when it was created and the latest move of each kind,
# by (changed_at, sequence). Weekly counts group these instants by the tenant's ISO week when a
# report is asked for.
ticket_facts = Table(
    "ticket_facts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True)),  # null until ticket.created arrives
    Column("resolved_at", DateTime(timezone=True)),  # its latest move into resolved
    Column("resolved_seq", BigInteger, nullable=False, server_default="0"),
    Column("closed_at", DateTime(timezone=True)),  # its latest move into closed
    Column("closed_seq", BigInteger, nullable=False, server_default="0"),
    Column("reopened_at", DateTime(timezone=True)),  # its latest move into an open status
    Column("reopened_seq", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "ticket_id"),
)
Index("ix_ticket_facts_created", ticket_facts.c.tenant_id, ticket_facts.c.created_at)
Index("ix_ticket_facts_resolved", ticket_facts.c.tenant_id, ticket_facts.c.resolved_at)
Index("ix_ticket_facts_closed", ticket_facts.c.tenant_id, ticket_facts.c.closed_at)
