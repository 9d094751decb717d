"""Tables the reports service owns: read models rolled up from other services' events."""
from sqlalchemy import (BigInteger, Boolean, Column, Computed, Date, DateTime, Float, Index, Integer,
                        PrimaryKeyConstraint, String, Table)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from custops.db import service_metadata
from reports.sla_report import ENDED_AT_SQL, OUTCOME_SQL

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
    # the first day of the tenant's week (monday, sunday, saturday), told with the timezone
    Column("week_start", String(10), nullable=False, server_default="monday"),
    # the tenant's status-report rules (reports.status_report.StatusRules); null: the defaults
    Column("status_rules", JSONB),
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
    # its priority as told by ticket.created / ticket.updated (SLA attainment by priority)
    Column("priority", String(20)),
    Column("priority_at", DateTime(timezone=True)),
    # ticket volume's groups (issue 12): its category (newest told), source, and its assignee and
    # team by (assigned_at, sequence) of ticket.assigned (SLA by team and assignee)
    Column("category", String(100)),
    Column("category_at", DateTime(timezone=True)),
    Column("source", String(20)),
    Column("assignee_id", UUID(as_uuid=True)),
    Column("team_id", UUID(as_uuid=True)),
    Column("assigned_at", DateTime(timezone=True)),
    Column("assigned_seq", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "ticket_id"),
)
Index("ix_ticket_facts_created", ticket_facts.c.tenant_id, ticket_facts.c.created_at)
Index("ix_ticket_facts_resolved", ticket_facts.c.tenant_id, ticket_facts.c.resolved_at)
Index("ix_ticket_facts_closed", ticket_facts.c.tenant_id, ticket_facts.c.closed_at)

# Projects as the customers service tells them (project.created / updated / deleted): the status
# report's row names. `name_at`/`name_seq` are the (occurred_at, sequence) of the event the name
# came from; `deleted_at` is set by project.deleted, after which the project is left out.
report_projects = Table(
    "report_projects",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("name", String(300), nullable=False, server_default=""),
    Column("name_at", DateTime(timezone=True)),
    Column("name_seq", BigInteger, nullable=False, server_default="0"),
    Column("deleted_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("tenant_id", "project_id"),
)

# One row per task (reports.status_report says what counts): its latest completion and latest
# reopening by (instant, sequence), like ticket_facts; its plan (due date, milestone) from the
# newest task.created / task.updated / task.completed that carried it; deleted tasks count nowhere.
task_facts = Table(
    "task_facts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("task_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("due_date", Date),
    Column("milestone", Boolean, nullable=False, server_default="false"),
    Column("plan_at", DateTime(timezone=True)),
    Column("plan_seq", BigInteger, nullable=False, server_default="0"),
    Column("completed_at", DateTime(timezone=True)),
    Column("completed_seq", BigInteger, nullable=False, server_default="0"),
    Column("reopened_at", DateTime(timezone=True)),
    Column("reopened_seq", BigInteger, nullable=False, server_default="0"),
    Column("deleted_at", DateTime(timezone=True)),
    Column("step_key", String(100)),  # the onboarding template step it was planned from
    # each plan key's own version (occurred_at, sequence) of the event it came from: task.updated carries
    # only the keys that changed, so one version for the whole plan lost an older event's other keys
    Column("due_date_at", DateTime(timezone=True)),
    Column("due_date_seq", BigInteger, nullable=False, server_default="0"),
    Column("milestone_at", DateTime(timezone=True)),
    Column("milestone_seq", BigInteger, nullable=False, server_default="0"),
    Column("step_key_at", DateTime(timezone=True)),
    Column("step_key_seq", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "task_id"),
)
Index("ix_task_facts_completed", task_facts.c.tenant_id, task_facts.c.completed_at)
Index("ix_task_facts_project", task_facts.c.tenant_id, task_facts.c.project_id)

# One row per time entry, its latest revision (time.logged / updated / deleted carry the whole
# entry and its revision): an edited entry counts once with its latest values, a deleted one not at
# all. `work_date` is already the member's calendar day, so ranges need no timezone.
time_facts = Table(
    "time_facts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("entry_id", UUID(as_uuid=True), nullable=False),
    Column("member_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True)),
    Column("category", String(100)),
    Column("minutes", Integer, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("work_date", Date, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default="false"),
    PrimaryKeyConstraint("tenant_id", "entry_id"),
)
Index("ix_time_facts_work_date", time_facts.c.tenant_id, time_facts.c.work_date)

# Customers' tiers as the customers service tells them (customer.created / updated): SLA
# attainment by tier.
report_customers = Table(
    "report_customers",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("name", String(300), nullable=False, server_default=""),
    Column("tier", String(20)),
    Column("tier_at", DateTime(timezone=True)),
    Column("tier_seq", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "customer_id"),
)

# One row per ticket SLA timer (reports.sla_report): its deadline (from ticket.sla_warning /
# ticket.sla_breached), whether and when it was breached, when it was met (the first reply for
# first_response, the resolution for resolution); the ticket's priority is on ticket_facts.
sla_timers = Table(
    "sla_timers",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("timer", String(20), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("deadline", DateTime(timezone=True)),
    Column("target_minutes", Integer),
    Column("breached_at", DateTime(timezone=True)),
    Column("met_at", DateTime(timezone=True)),
    # from ticket.sla_met (issue 12), of the run kept (the earliest stop): its start, the business
    # minutes it ran, whether it was late, and the ticket's priority, tier, team and assignee then
    Column("started_at", DateTime(timezone=True)),
    Column("business_minutes", Float),
    Column("met_late", Boolean),
    Column("priority", String(20)),
    Column("tier", String(20)),
    Column("team_id", UUID(as_uuid=True)),
    Column("assignee_id", UUID(as_uuid=True)),
    # reports.sla_report.outcome, kept by PostgreSQL: met / breached / null, and the instant it counts at
    Column("outcome", String(10), Computed(OUTCOME_SQL, persisted=True)),
    Column("ended_at", DateTime(timezone=True), Computed(ENDED_AT_SQL, persisted=True)),
    PrimaryKeyConstraint("tenant_id", "ticket_id", "timer"),
)
Index("ix_sla_timers_ended", sla_timers.c.tenant_id, sla_timers.c.ended_at)
Index("ix_sla_timers_breached", sla_timers.c.tenant_id, sla_timers.c.breached_at)
Index("ix_sla_timers_met", sla_timers.c.tenant_id, sla_timers.c.met_at)
