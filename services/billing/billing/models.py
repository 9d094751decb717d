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
    # who entered the entry (a manager may log a colleague's time: `member_id` is whose time it is)
    Column("entered_by_member_id", UUID(as_uuid=True), nullable=False),
    # 1 when logged, +1 per correction; events carry it so read models can drop stale updates
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True)),  # last correction; null: never corrected
    # set when the entry is put on an invoice: from then on it never changes (billing.corrections)
    Column("invoiced_at", DateTime(timezone=True)),
    # the same bounds as the input rule, so no path around the service can store a 0 or 3-day entry
    CheckConstraint("minutes BETWEEN 1 AND 1440", name="minutes_range"),
)
Index("ix_time_entries_tenant_customer_date",
      time_entries.c.tenant_id, time_entries.c.customer_id, time_entries.c.work_date)
Index("ix_time_entries_tenant_created", time_entries.c.tenant_id, time_entries.c.created_at, time_entries.c.id)
