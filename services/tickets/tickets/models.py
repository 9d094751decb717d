"""Tables the tickets service owns."""
from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from custops.db import service_metadata

metadata = service_metadata()

tickets = Table(
    "tickets",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("number", Integer, nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("customer_tier", String(20), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("priority", String(10), nullable=False),
    Column("status", String(30), nullable=False),
    Column("source", String(10), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("uq_tickets_tenant_number", tickets.c.tenant_id, tickets.c.number, unique=True)
Index("ix_tickets_tenant_created", tickets.c.tenant_id, tickets.c.created_at, tickets.c.id)
Index("ix_tickets_tenant_customer", tickets.c.tenant_id, tickets.c.customer_id)

# Per-tenant ticket numbers (#1, #2, ...) without gaps from concurrent inserts racing each other.
ticket_counters = Table(
    "ticket_counters",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("last_number", Integer, nullable=False),
)
