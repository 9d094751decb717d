"""Tables the customers service owns."""
from sqlalchemy import (Boolean, CheckConstraint, Column, Date, DateTime, ForeignKey, Index, Integer, Numeric,
                        String, Table, Text, func)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from custops.db import service_metadata

metadata = service_metadata()

tenants = Table(
    "tenants",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(200), nullable=False),
    # tenants made by `seed_demo_tenant` are found again by name; other tenant names may repeat
    Column("demo", Boolean, nullable=False, server_default="false"),
    # the tenant's IANA zone: its business days and weeks (SLA calendars' default, "this week" in
    # reports); told to other services by tenant.created / tenant.updated
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    # a BCP 47 language tag (`en`, `de-CH`): how dates and numbers are written for the tenant
    Column("locale", String(35), nullable=False, server_default="en"),
    # the first day of the tenant's week (timesheets, "this week" in reports)
    Column("week_start", String(10), nullable=False, server_default="monday"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("week_start IN ('monday', 'sunday', 'saturday')", name="week_start"),
)
Index("uq_tenants_demo_name", tenants.c.name, unique=True, postgresql_where=tenants.c.demo)

members = Table(
    "members",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("email", String(320), nullable=False),  # lower-cased
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    # the customer a portal user belongs to (the gateway scopes them to it); null for team users
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id")),
    # the contact a portal user is (`customers.portal_store`); null for team users and for portal
    # users added before invites existed
    Column("contact_id", UUID(as_uuid=True), ForeignKey("contacts.id", use_alter=True)),
    # the member's own IANA zone (their "today"); null: the tenant's
    Column("timezone", String(64)),
    # a deactivated member keeps their history but cannot sign in: their tokens were revoked
    Column("deactivated_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("role IN ('owner', 'admin', 'member', 'contractor', 'portal', 'read_only')", name="role"),
    CheckConstraint("(role = 'portal') = (customer_id IS NOT NULL)", name="portal_customer"),
)
Index("uq_members_tenant_email", members.c.tenant_id, members.c.email, unique=True)
Index("ix_members_tenant_created", members.c.tenant_id, members.c.created_at, members.c.id)
# a contact is at most one portal user
Index("uq_members_tenant_contact", members.c.tenant_id, members.c.contact_id, unique=True,
      postgresql_where=members.c.contact_id.is_not(None))

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("member_id", UUID(as_uuid=True), ForeignKey("members.id"), nullable=False),
    Column("label", String(100), nullable=False),  # the token's name (`name` in the API)
    Column("prefix", String(20), nullable=False),  # non-secret, for display
    Column("token_hash", String(64), nullable=False),  # sha256 hex of the token; never the token
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),  # null: until revoked
    # a read-only token may only read (GET), whatever its member's role (enforced by the gateway)
    Column("read_only", Boolean, nullable=False, server_default="false"),
    # written at most once a minute per token (`store.authenticate`), not on every request
    Column("last_used_at", DateTime(timezone=True)),
)
# authenticate() is one lookup on this index per request
Index("uq_api_tokens_hash", api_tokens.c.token_hash, unique=True)
Index("ix_api_tokens_tenant_member", api_tokens.c.tenant_id, api_tokens.c.member_id)

customers = Table(
    "customers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("owner_id", UUID(as_uuid=True), ForeignKey("members.id", use_alter=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # the work plan (migration 0007): where the account is in its life, since when, its dates
    Column("lifecycle_stage", String(20), nullable=False, server_default="onboarding"),
    Column("lifecycle_changed_at", DateTime(timezone=True)),
    Column("start_date", Date),  # Day 0 of its onboarding plans
    Column("renewal_date", Date),
    Column("exec_sponsor_contact_id", UUID(as_uuid=True), ForeignKey("contacts.id", use_alter=True)),
    # values of the tenant's custom fields (`customers.custom_fields`), canonical JSON per key
    Column("custom_fields", JSONB, nullable=False, server_default="{}"),
    # the latest satisfaction scores its contacts gave in a form (migration 0010f; `work_plan.forms_store`)
    Column("latest_csat", Integer),
    Column("latest_nps", Integer),
    Column("latest_score_at", DateTime(timezone=True)),
    CheckConstraint("tier IN ('enterprise', 'mid_market', 'smb')", name="tier"),
    CheckConstraint("lifecycle_stage IN ('onboarding', 'active', 'renewal', 'churned')", name="lifecycle_stage"),
)
Index("ix_customers_tenant_created", customers.c.tenant_id, customers.c.created_at, customers.c.id)

# One row per (tenant, domain): the primary key is the "unique per tenant across customers" rule,
# and the index match_sender looks domains up in.
customer_domains = Table(
    "customer_domains",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("domain", String(253), primary_key=True),  # normalised (lower-case, ASCII)
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
)
Index("ix_customer_domains_customer", customer_domains.c.customer_id)

contacts = Table(
    "contacts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),  # lower-cased
    Column("phone", String(50)),
    Column("portal_access", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # archived (soft-deleted): kept for history and for what refers to it, out of lists by default,
    # and no longer offered as the contact of a new ticket
    Column("archived_at", DateTime(timezone=True)),
)
# an address is one person at one customer: match_sender's first, exact lookup
Index("uq_contacts_tenant_email", contacts.c.tenant_id, contacts.c.email, unique=True)
Index("ix_contacts_customer", contacts.c.customer_id, contacts.c.created_at)

# A customer's account team: the members (besides its owner, `customers.owner_id`) who work on it.
# Membership scopes what members, contractors and read-only users see (`customers.account_teams`);
# `internal_access` lets a contractor see the customer's internal notes and timeline entries.
account_team = Table(
    "account_team",
    metadata,
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", UUID(as_uuid=True), ForeignKey("members.id"), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("internal_access", Boolean, nullable=False, server_default="false"),
    Column("added_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
# scope_of(member): one lookup on this index
Index("ix_account_team_tenant_member", account_team.c.tenant_id, account_team.c.member_id)
Index("ix_customers_tenant_owner", customers.c.tenant_id, customers.c.owner_id)

# One-time invitations of a contact to the portal (`customers.portal_store`): the link token is
# stored hashed, expires, and is consumed by the one exchange that turns it into a portal API token.
portal_invites = Table(
    "portal_invites",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("contact_id", UUID(as_uuid=True), ForeignKey("contacts.id"), nullable=False),
    Column("token_hash", String(64), nullable=False),  # sha256 hex of the link token; never the token
    Column("invited_by", UUID(as_uuid=True)),  # the member who invited (null: a trusted caller)
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),  # consumed: a second exchange is refused
)
Index("uq_portal_invites_hash", portal_invites.c.token_hash, unique=True)
Index("ix_portal_invites_tenant_contact", portal_invites.c.tenant_id, portal_invites.c.contact_id)

Index("ix_customers_custom_fields", customers.c.custom_fields, postgresql_using="gin")

# --- the work plan (customers.work_plan; migration 0007) ---

# Every lifecycle stage a customer went through, with when (`customer.lifecycle_changed`).
customer_lifecycle_changes = Table(
    "customer_lifecycle_changes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("previous_stage", String(20)),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", UUID(as_uuid=True)),  # the member (null: the system, or a trusted caller)
)
Index("ix_customer_lifecycle_changes_customer", customer_lifecycle_changes.c.customer_id,
      customer_lifecycle_changes.c.changed_at)

# The tenant's custom fields of customers (`customers.custom_fields`).
custom_field_definitions = Table(
    "custom_field_definitions",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True),
    Column("key", String(50), primary_key=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("label", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("options", JSONB, nullable=False, server_default="[]"),
    Column("required", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Per-tenant work-plan settings: board columns and project statuses (`work_plan.board`); none: defaults.
work_settings = Table(
    "work_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True),
    Column("columns", JSONB, nullable=False, server_default="[]"),
    Column("project_statuses", JSONB, nullable=False, server_default="[]"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A copy of the tenant's business calendar, told by the tickets service (`business_calendar.changed`):
# which days are open, for business-day offsets (`work_plan.calendar_copy`).
business_calendar_copies = Table(
    "business_calendar_copies",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("open_weekdays", JSONB, nullable=False),  # [0..6], 0 = Monday
    Column("holidays", JSONB, nullable=False, server_default="[]"),  # ISO dates
    Column("always_open", Boolean, nullable=False, server_default="false"),
)

onboarding_templates = Table(
    "onboarding_templates",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_onboarding_templates_tenant", onboarding_templates.c.tenant_id, onboarding_templates.c.created_at)

# Every version of a template, immutable: a plan names the version it was applied from.
onboarding_template_versions = Table(
    "onboarding_template_versions",
    metadata,
    Column("template_id", UUID(as_uuid=True), ForeignKey("onboarding_templates.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", String(200), nullable=False),
    Column("business_days", Boolean, nullable=False),
    Column("steps", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

projects = Table(
    "projects",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("status", String(50), nullable=False),
    Column("start_date", Date),
    Column("target_date", Date),
    Column("template_id", UUID(as_uuid=True), ForeignKey("onboarding_templates.id")),
    Column("template_version", Integer),
    Column("business_days", Boolean, nullable=False, server_default="false"),
    Column("portal_shared", Boolean, nullable=False, server_default="false"),
    # an applied plan's key: a retried "apply" finds the plan it made instead of making another
    Column("idempotency_key", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_projects_tenant_customer", projects.c.tenant_id, projects.c.customer_id, projects.c.created_at)
Index("uq_projects_tenant_idempotency_key", projects.c.tenant_id, projects.c.idempotency_key, unique=True,
      postgresql_where=projects.c.idempotency_key.is_not(None))

tasks = Table(
    "tasks",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True), ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("status", String(50), nullable=False),  # a board column's key
    Column("category", String(20), nullable=False),  # that column's category (`work_plan.board`)
    Column("position", Integer, nullable=False, server_default="0"),
    Column("assignee_id", UUID(as_uuid=True)),
    Column("start_date", Date),
    Column("due_date", Date),
    Column("milestone", Boolean, nullable=False, server_default="false"),
    Column("weight", Integer, nullable=False, server_default="1"),
    Column("estimate", Numeric(10, 2)),
    Column("estimate_unit", String(10)),
    Column("checklist", JSONB, nullable=False, server_default="[]"),
    Column("portal_visible", Boolean, nullable=False, server_default="false"),
    # the template step it was planned from (null: added by hand): its offset drives re-planning
    Column("step_key", String(100)),
    Column("step", JSONB),
    Column("completed_at", DateTime(timezone=True)),
    Column("completed_by", UUID(as_uuid=True)),
    # the stable key of the row of a tool's export it was imported from (migration 0008): a re-run
    # of the same import takes it as already imported (`work_plan.imports`)
    Column("import_key", String(300)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("category IN ('todo', 'in_progress', 'blocked', 'done')", name="category"),
    CheckConstraint("estimate_unit IN ('hour', 'day')", name="estimate_unit"),
)
Index("ix_tasks_project_status_position", tasks.c.project_id, tasks.c.status, tasks.c.position)
Index("ix_tasks_tenant_assignee", tasks.c.tenant_id, tasks.c.assignee_id)
Index("uq_tasks_project_import_key", tasks.c.project_id, tasks.c.import_key, unique=True,
      postgresql_where=tasks.c.import_key.is_not(None))

# finish-to-start: `task_id` starts after `depends_on_id` is done
task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("depends_on_id", UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
)
Index("ix_task_dependencies_depends_on", task_dependencies.c.depends_on_id)

# --- forms (customers.work_plan.forms; migration 0009) ---

# A form: its definition (sections and fields, `work_plan.forms.FormDefinition`), versioned on
# each edit so a submission names the version it answered.
forms = Table(
    "forms",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("definition", JSONB, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("task_rule", JSONB),  # a submission creates a task in this project (null: none)
    Column("ticket_rule", JSONB),  # a submission asks the tickets service for a ticket (null: none; 0010f)
    Column("portal_visible", Boolean, nullable=False, server_default="false"),  # portal users fill it in
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_forms_tenant_created", forms.c.tenant_id, forms.c.created_at)

# A link that sends a form to a customer: the token is stored as its SHA-256 only; it may expire,
# and takes one submission or many.
form_links = Table(
    "form_links",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("form_id", UUID(as_uuid=True), ForeignKey("forms.id"), nullable=False),
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id"), nullable=False),
    Column("contact_id", UUID(as_uuid=True), ForeignKey("contacts.id")),
    Column("token_hash", String(64), nullable=False),
    Column("multiple", Boolean, nullable=False, server_default="false"),
    Column("submission_count", Integer, nullable=False, server_default="0"),
    Column("prefill", JSONB, nullable=False, server_default="{}"),  # hidden fields' values
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_by", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("ticket_id", UUID(as_uuid=True)),  # a satisfaction survey of this (resolved) ticket (0010f)
)
Index("uq_form_links_hash", form_links.c.token_hash, unique=True)
Index("ix_form_links_tenant_form", form_links.c.tenant_id, form_links.c.form_id)

form_submissions = Table(
    "form_submissions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("form_id", UUID(as_uuid=True), ForeignKey("forms.id"), nullable=False),
    Column("form_version", Integer, nullable=False),
    Column("link_id", UUID(as_uuid=True), ForeignKey("form_links.id")),
    Column("customer_id", UUID(as_uuid=True), ForeignKey("customers.id"), nullable=False),
    Column("contact_id", UUID(as_uuid=True), ForeignKey("contacts.id")),
    Column("answers", JSONB, nullable=False),
    Column("scores", JSONB, nullable=False, server_default="[]"),
    Column("task_id", UUID(as_uuid=True)),  # the task its form's rule created
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # 0010f: the ticket its form's ticket rule opened (told back by ticket.created), the ticket whose
    # satisfaction survey it answers, and how it came (a link, or the portal)
    Column("ticket_id", UUID(as_uuid=True)),
    Column("survey_ticket_id", UUID(as_uuid=True)),
    Column("via", String(10), nullable=False, server_default="link"),
)
Index("ix_form_submissions_tenant_customer", form_submissions.c.tenant_id, form_submissions.c.customer_id,
      form_submissions.c.submitted_at)

# --- satisfaction surveys and import jobs (issue 11; migration 0010f) ---

# The tenant's satisfaction survey: which form goes to a resolved ticket's requester, and when.
survey_settings = Table(
    "survey_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), primary_key=True),
    Column("enabled", Boolean, nullable=False, server_default="false"),
    Column("form_id", UUID(as_uuid=True), ForeignKey("forms.id")),
    Column("delay_minutes", Integer, nullable=False, server_default="0"),
    Column("expires_in_days", Integer, nullable=False, server_default="14"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One survey per resolved ticket: due at resolution + delay; `link_id` once its link is made
# (`outcome` says why none was: no requester, surveys turned off since).
survey_requests = Table(
    "survey_requests",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_number", Integer),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("contact_id", UUID(as_uuid=True)),
    Column("form_id", UUID(as_uuid=True)),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("link_id", UUID(as_uuid=True)),
    Column("outcome", String(20)),  # null: waiting; sent, no_contact, disabled
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("uq_survey_requests_ticket", survey_requests.c.tenant_id, survey_requests.c.ticket_id, unique=True)
Index("ix_survey_requests_due", survey_requests.c.due_at, postgresql_where=survey_requests.c.outcome.is_(None))

# An import of a tool's CSV export run in the background (`work_plan.import_jobs`): the file, the
# progress (rows done of total), the outcome.
import_jobs = Table(
    "import_jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id"), nullable=False),
    Column("project_id", UUID(as_uuid=True), ForeignKey("projects.id"), nullable=False),
    Column("status", String(10), nullable=False, server_default="queued"),  # queued running done failed
    Column("csv", Text, nullable=False),
    Column("tool", String(20)),
    Column("mapping", JSONB),
    Column("rows_total", Integer),
    Column("rows_done", Integer, nullable=False, server_default="0"),
    Column("created", Integer, nullable=False, server_default="0"),
    Column("skipped", Integer, nullable=False, server_default="0"),
    Column("errors", JSONB, nullable=False, server_default="[]"),
    Column("warnings", JSONB, nullable=False, server_default="[]"),
    Column("failure", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("created_by", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)
Index("ix_import_jobs_tenant_created", import_jobs.c.tenant_id, import_jobs.c.created_at)
Index("ix_import_jobs_waiting", import_jobs.c.created_at,
      postgresql_where=import_jobs.c.status.in_(("queued", "running")))
