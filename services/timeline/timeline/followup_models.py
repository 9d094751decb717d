"""Tables of the timeline's follow-ups (migration 0003b) and of its copies of what other services
tell that follow-ups need: members' timezones (customers), the business calendar (tickets). The
tenant's timezone is `timeline.models.tenant_settings` (the activity log's copy). Same metadata as
`timeline.models`."""
from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text, func,
                        text)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from timeline.models import metadata

followups = Table(
    "followups",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    # what it follows up: an activity of this timeline, a ticket, or nothing (standalone on the customer)
    Column("subject_type", String(20)),
    Column("subject_id", UUID(as_uuid=True)),
    Column("assignee_id", UUID(as_uuid=True), nullable=False),
    Column("created_by", UUID(as_uuid=True)),
    Column("note", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("grace_minutes", Integer, nullable=False),
    # due_at + grace_minutes, stored so the clock's partial index can order by it
    Column("overdue_at", DateTime(timezone=True), nullable=False),
    Column("status", String(20), nullable=False, server_default="open"),  # open, completed, cancelled
    Column("postponements", Integer, nullable=False, server_default="0"),
    # claimed by the clock in the transaction of the event's outbox row (NULL again after a postponement)
    Column("due_raised_at", DateTime(timezone=True)),
    Column("overdue_raised_at", DateTime(timezone=True)),
    Column("resolution", Text),
    Column("completed_at", DateTime(timezone=True)),
    Column("completed_by", UUID(as_uuid=True)),
    Column("cancel_reason", Text),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# the clock's two looks: the next open follow-up to fall due, the next to go overdue
Index("ix_followups_due_pending", followups.c.due_at,
      postgresql_where=text("status = 'open' AND due_raised_at IS NULL"))
Index("ix_followups_overdue_pending", followups.c.overdue_at,
      postgresql_where=text("status = 'open' AND overdue_raised_at IS NULL"))
# a member's list, a customer's, the analytics' date range
Index("ix_followups_tenant_assignee_due", followups.c.tenant_id, followups.c.assignee_id, followups.c.due_at)
Index("ix_followups_tenant_customer_due", followups.c.tenant_id, followups.c.customer_id, followups.c.due_at)
Index("ix_followups_tenant_due", followups.c.tenant_id, followups.c.due_at)

# every postponement, in order (append-only)
followup_postponements = Table(
    "followup_postponements",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("followup_id", UUID(as_uuid=True), ForeignKey("followups.id"), nullable=False, index=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("previous_due_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("preset", String(30)),  # null: to a chosen instant
    Column("reason", Text),
    Column("postponed_by", UUID(as_uuid=True)),
    Column("postponed_at", DateTime(timezone=True), nullable=False),
)

# --- copies of what other services tell (timeline.directory_copies) ---

# member.created / updated / deactivated / reactivated: who may be assigned, and their timezone
directory_members = Table(
    "directory_members",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("timezone", String(64)),  # null: the tenant's
    Column("timezone_as_of", DateTime(timezone=True)),
    Column("active", Boolean),  # null: not told
    Column("active_as_of", DateTime(timezone=True)),
    Column("portal", Boolean, nullable=False, server_default="false"),  # a portal user: never an assignee
)

# business_calendar.changed: each field as last told, with the calendar version that told it (an
# event carries only the fields it changed, so each field keeps its own version)
business_calendars = Table(
    "business_calendars",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("fields", JSONB, nullable=False, server_default="{}"),
    Column("versions", JSONB, nullable=False, server_default="{}"),
)
