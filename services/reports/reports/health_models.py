"""Tables of customer health (reports.health_signals keeps them from events; reports.health scores
them). Instants are kept, not ages: "days since" and "in the last 30 days" are worked out when a
score is computed, so a signal ages without an event."""
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Index, Integer, PrimaryKeyConstraint, String,
                        Table)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from reports.models import metadata

# One row per customer: its start (customer.lifecycle_changed into onboarding, or an onboarding
# plan's start date), its last human touchpoint, and the state last told (customer.health_changed).
health_customers = Table(
    "health_customers",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("start_date", Date),
    Column("last_human_touch_at", DateTime(timezone=True)),
    # no event names an exec sponsor yet: null, and the signal is left out
    Column("last_sponsor_touch_at", DateTime(timezone=True)),
    Column("told_state", String(20)),
    Column("told_score", Integer),
    Column("told_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("tenant_id", "customer_id"),
)

# One row per ticket: open or not by its latest move (instant, producer sequence), so the order
# ticket.created / ticket.status_changed arrive in does not matter.
health_tickets = Table(
    "health_tickets",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("opened_at", DateTime(timezone=True)),
    Column("is_open", Boolean, nullable=False, server_default="true"),
    Column("moved_at", DateTime(timezone=True)),
    Column("moved_seq", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "ticket_id"),
)
Index("ix_health_tickets_customer", health_tickets.c.tenant_id, health_tickets.c.customer_id)

# One row per breached SLA timer (ticket.sla_breached is told once per timer), at its deadline.
health_sla_breaches = Table(
    "health_sla_breaches",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("timer", String(20), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("breached_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "ticket_id", "timer"),
)
Index("ix_health_sla_breaches_customer", health_sla_breaches.c.tenant_id, health_sla_breaches.c.customer_id,
      health_sla_breaches.c.breached_at)

# Human interactions per customer and UTC day (the inbox makes each event count once).
health_interactions = Table(
    "health_interactions",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id", "day"),
)

# Onboarding milestones (tasks with milestone set): the plan from the newest event that carried
# it, and the latest completion / reopening by (instant, sequence). Missed: due before today and
# not completed on or before its due date.
health_milestones = Table(
    "health_milestones",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("task_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("due_date", Date),
    Column("milestone", Boolean, nullable=False, server_default="false"),
    Column("plan_at", DateTime(timezone=True)),
    Column("plan_seq", BigInteger, nullable=False, server_default="0"),
    Column("completed_at", DateTime(timezone=True)),
    Column("completed_seq", BigInteger, nullable=False, server_default="0"),
    Column("reopened_at", DateTime(timezone=True)),
    Column("reopened_seq", BigInteger, nullable=False, server_default="0"),
    Column("deleted", Boolean, nullable=False, server_default="false"),
    # each plan key's own version, as task_facts (reports.models)
    Column("due_date_at", DateTime(timezone=True)),
    Column("due_date_seq", BigInteger, nullable=False, server_default="0"),
    Column("milestone_at", DateTime(timezone=True)),
    Column("milestone_seq", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id", "task_id"),
)
Index("ix_health_milestones_customer", health_milestones.c.tenant_id, health_milestones.c.customer_id)

# Invoices told overdue; settled (paid or voided: both final) takes them out whatever the order.
health_invoices = Table(
    "health_invoices",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("overdue_at", DateTime(timezone=True)),
    Column("settled_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("tenant_id", "invoice_id"),
)
Index("ix_health_invoices_customer", health_invoices.c.tenant_id, health_invoices.c.customer_id)

# A tenant's health settings (reports.health.Settings as JSON); no row: the defaults.
health_settings = Table(
    "health_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("settings", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The score of each customer per UTC day (the last one computed that day): the 7/30-day trend.
health_scores = Table(
    "health_scores",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("score", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    PrimaryKeyConstraint("tenant_id", "customer_id", "day"),
)

# CSAT and NPS answers of submitted forms (form.submitted `scores`), one row per submission and field:
# CSAT is their mean (1–5), NPS promoters − detractors in % (−100..100), over the last 90 days.
health_survey_scores = Table(
    "health_survey_scores",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("submission_id", UUID(as_uuid=True), nullable=False),
    Column("field", String(100), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(10), nullable=False),  # csat / nps
    Column("score", Integer, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "submission_id", "field"),
)
Index("ix_health_survey_scores_customer", health_survey_scores.c.tenant_id, health_survey_scores.c.customer_id,
      health_survey_scores.c.submitted_at)
