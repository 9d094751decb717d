"""The benchmarks page's table (reports.benchmarks says when a week is frozen and why)."""
from sqlalchemy import Column, Date, DateTime, PrimaryKeyConstraint, String, Table
from sqlalchemy.dialects.postgresql import JSONB, UUID

from reports.models import metadata

# One row per tenant and closed week: the headline figures as they stood when the week was frozen
# (`reports.benchmarks.METRICS`, `{key: value or null}`), with the zone and first day of the week
# the week was counted in. Written once (INSERT … ON CONFLICT DO NOTHING), never updated.
week_snapshots = Table(
    "week_snapshots",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("week_start", Date, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("first_day_of_week", String(10), nullable=False),
    Column("metrics", JSONB, nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "week_start"),
)
