"""Tables the billing service owns."""
from sqlalchemy import (Boolean, CheckConstraint, Column, Date, DateTime, Index, Integer, Table, Text,
                        func)
from sqlalchemy.dialects.postgresql import UUID

from custops.db import service_metadata

metadata = service_metadata()

time_entries = Table(
    "time_entries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True)),
    Column("work_date", Date, nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # the same bounds as the input rule, so no path around the service can store a 0 or 3-day entry
    CheckConstraint("minutes BETWEEN 1 AND 1440", name="minutes_range"),
)
Index("ix_time_entries_tenant_customer_date",
      time_entries.c.tenant_id, time_entries.c.customer_id, time_entries.c.work_date)
Index("ix_time_entries_tenant_created", time_entries.c.tenant_id, time_entries.c.created_at, time_entries.c.id)
