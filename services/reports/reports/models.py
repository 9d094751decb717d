"""Tables the reports service owns: read models rolled up from other services' events."""
from sqlalchemy import Column, Date, Integer, PrimaryKeyConstraint, String, Table
from sqlalchemy.dialects.postgresql import UUID

from custops.db import service_metadata

metadata = service_metadata()

# Report settings per tenant. A tenant without a row uses the defaults (UTC).
tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
)

# Tickets opened / resolved / closed per customer per ISO week of the tenant's timezone.
ticket_volume_weekly = Table(
    "ticket_volume_weekly",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("iso_year", Integer, nullable=False),
    Column("iso_week", Integer, nullable=False),
    Column("week_start", Date, nullable=False),  # the Monday of the ISO week
    Column("created_count", Integer, nullable=False, server_default="0"),
    Column("resolved_count", Integer, nullable=False, server_default="0"),
    Column("closed_count", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "customer_id", "iso_year", "iso_week"),
)
