"""Tables the billing service owns (the time side: entries, categories, billing defaults, timers,
timesheets, and local copies of members and tenants; invoices live in `billing.invoice_models`)."""
from sqlalchemy import (Boolean, CheckConstraint, Column, Date, DateTime, Index, Integer, PrimaryKeyConstraint,
                        Table, Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from custops.db import service_metadata

metadata = service_metadata()

BILLABLE_SOURCES = ("entry", "category", "project", "customer")

time_entries = Table(
    "time_entries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True)),
    Column("work_date", Date, nullable=False),  # the day in the member's timezone
    Column("minutes", Integer, nullable=False),  # raw time: rounding is applied at invoicing only
    # decided at write time by `billing.billability` (entry > category > project > customer)
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
    # --- 0003a (issue 10) ---
    Column("category", Text),  # a time category's name (billing.time_categories)
    Column("billable_source", Text, nullable=False, server_default="entry"),  # which level decided
    Column("billable_reason", Text),  # why the entry overrides what a lower level would decide
    Column("project_id", UUID(as_uuid=True)),
    Column("task_id", UUID(as_uuid=True)),
    Column("activity_id", UUID(as_uuid=True)),  # a timeline activity (a call, a meeting)
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("timer_id", UUID(as_uuid=True)),  # the timer it was stopped from
    Column("needs_confirmation", Text),  # why a person must confirm it before approval ('over_limit')
    Column("confirmed_at", DateTime(timezone=True)),
    # set when the entry's week is approved, cleared on reopen: locked in between
    Column("approved_at", DateTime(timezone=True)),
    # set by invoicing when an invoice is issued (with `invoiced_at`): locked for good
    Column("invoice_id", UUID(as_uuid=True)),
    # the same bounds as the input rule, so no path around the service can store a 0 or 3-day entry
    CheckConstraint("minutes BETWEEN 1 AND 1440", name="minutes_range"),
    CheckConstraint("billable_source IN ('entry', 'category', 'project', 'customer')", name="billable_source"),
    CheckConstraint("started_at IS NULL OR ended_at IS NULL OR started_at < ended_at", name="start_before_end"),
)
Index("ix_time_entries_tenant_customer_date",
      time_entries.c.tenant_id, time_entries.c.customer_id, time_entries.c.work_date)
Index("ix_time_entries_tenant_created", time_entries.c.tenant_id, time_entries.c.created_at, time_entries.c.id)
Index("ix_time_entries_tenant_member_date",
      time_entries.c.tenant_id, time_entries.c.member_id, time_entries.c.work_date)
Index("ix_time_entries_tenant_project_date",
      time_entries.c.tenant_id, time_entries.c.project_id, time_entries.c.work_date,
      postgresql_where=text("project_id IS NOT NULL"))
Index("ix_time_entries_invoiceable", time_entries.c.tenant_id, time_entries.c.customer_id, time_entries.c.work_date,
      postgresql_where=text("billable AND approved_at IS NOT NULL AND invoice_id IS NULL"))

# A tenant's list of time categories, each billable or internal by default.
time_categories = Table(
    "time_categories",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("archived_at", DateTime(timezone=True)),  # archived: no new entries take it
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True)),
    UniqueConstraint("tenant_id", "name"),
)

# Whether time for a customer / a project is billable when neither the entry nor its category says.
billing_defaults = Table(
    "billing_defaults",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("level", Text, nullable=False),  # 'customer' | 'project'
    Column("subject_id", UUID(as_uuid=True), nullable=False),  # the customer's or the project's id
    Column("billable", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("level IN ('customer', 'project')", name="level"),
    PrimaryKeyConstraint("tenant_id", "level", "subject_id"),
)

# Per-tenant rules of the stopwatch (a tenant without a row has the defaults below).
time_settings = Table(
    "time_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("timer_limit_minutes", Integer, nullable=False, server_default="600"),
    Column("idle_stop_minutes", Integer),  # null: a timer is never stopped for idleness
    Column("one_timer_per_member", Boolean, nullable=False, server_default="true"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

timers = Table(
    "timers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True)),
    Column("ticket_id", UUID(as_uuid=True)),
    Column("task_id", UUID(as_uuid=True)),
    Column("activity_id", UUID(as_uuid=True)),
    Column("category", Text),
    Column("billable", Boolean),  # the entry's own choice, if any
    Column("billable_reason", Text),
    Column("note", Text, nullable=False, server_default=""),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    Column("state", Text, nullable=False),  # running | paused | stopped | discarded
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("resumed_at", DateTime(timezone=True)),  # when the current run began; null unless running
    Column("elapsed_seconds", Integer, nullable=False, server_default="0"),  # run before `resumed_at`
    Column("last_activity_at", DateTime(timezone=True), nullable=False),  # for the idle-stop rule
    Column("stopped_at", DateTime(timezone=True)),
    Column("stop_reason", Text),  # stopped | replaced | idle | discarded
    Column("flagged_at", DateTime(timezone=True)),  # ran past the tenant's limit
    Column("entry_id", UUID(as_uuid=True)),  # the entry its stop produced
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True)),
    CheckConstraint("state IN ('running', 'paused', 'stopped', 'discarded')", name="state"),
)
Index("ix_timers_live", timers.c.tenant_id, timers.c.member_id,
      postgresql_where=text("state IN ('running', 'paused')"))
Index("ix_timers_running", timers.c.resumed_at, postgresql_where=text("state = 'running'"))

timesheets = Table(
    "timesheets",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("week_start", Date, nullable=False),  # the first day of the week in the member's timezone
    Column("timezone", Text, nullable=False),  # the member's zone when the sheet was made
    Column("status", Text, nullable=False, server_default="open"),  # open | submitted | approved | rejected
    Column("submitted_at", DateTime(timezone=True)),
    Column("submitted_by", UUID(as_uuid=True)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", UUID(as_uuid=True)),
    Column("comment", Text),
    Column("reopened_at", DateTime(timezone=True)),
    Column("reminded_at", DateTime(timezone=True)),  # timesheet.reminder raised (once per member-week)
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('open', 'submitted', 'approved', 'rejected')", name="status"),
    UniqueConstraint("tenant_id", "member_id", "week_start"),
)

# Named approvers of a member's timesheets (besides owners and admins).
timesheet_approvers = Table(
    "timesheet_approvers",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),  # whose timesheets
    Column("approver_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id", "member_id", "approver_id"),
)

# Copies of what the customers service tells (member.*, tenant.*): whose week is which, in what zone.
directory_members = Table(
    "directory_members",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("role", Text),
    Column("active", Boolean),
    Column("timezone", Text),  # null: the tenant's
    Column("as_of", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "member_id"),
)

directory_tenants = Table(
    "directory_tenants",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("timezone", Text, nullable=False),
    Column("week_start", Text, nullable=False, server_default="monday"),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

# The names of projects, tasks (the work plan's `project.*`, `task.*`) and members (`member.*`)
# billing has been told of, for invoice lines (`billing.directory`): billing never reads another
# service's database. A deleted project keeps its name here (its time may still be invoiced).
directory_names = Table(
    "directory_names",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("kind", Text, nullable=False),  # project | task | member
    Column("object_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "kind", "object_id"),
    CheckConstraint("kind IN ('project', 'task', 'member')", name="kind"),
)
