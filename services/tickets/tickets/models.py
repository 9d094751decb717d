"""Tables the tickets service owns."""
from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, Identity, Index, Integer, String, Table,
                        Text, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

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
    # help-desk fields (issue 3)
    Column("contact_id", UUID(as_uuid=True)),
    Column("category", String(50), nullable=False, server_default="general"),
    Column("assignee_id", UUID(as_uuid=True)),
    Column("team_id", UUID(as_uuid=True)),
    Column("tags", ARRAY(String(50)), nullable=False, server_default=text("'{}'")),
    Column("first_responded_at", DateTime(timezone=True)),
    Column("last_customer_message_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    # a customer writing to a closed ticket starts a new one linked to it
    Column("follows_ticket_id", UUID(as_uuid=True)),
    # the mail thread our replies continue (tickets.mail_threading.Thread; null: no mail yet)
    Column("mail_thread", JSONB),
    # issue 11: the form submission whose ticket rule opened it (one ticket per submission), and the
    # satisfaction survey's scores (`tickets.form_tickets`; migration 0008)
    Column("form_submission_id", UUID(as_uuid=True)),
    Column("csat_score", Integer),
    Column("nps_score", Integer),
    Column("survey_answered_at", DateTime(timezone=True)),
)
Index("uq_tickets_tenant_form_submission", tickets.c.tenant_id, tickets.c.form_submission_id, unique=True,
      postgresql_where=tickets.c.form_submission_id.isnot(None))
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
Index("ix_tickets_tenant_assignee", tickets.c.tenant_id, tickets.c.assignee_id)
Index("ix_tickets_tenant_status", tickets.c.tenant_id, tickets.c.status)

# Inbound customer messages, outbound public replies and internal notes (never shown to portal users,
# never sent by mail).
ticket_messages = Table(
    "ticket_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(10), nullable=False),  # inbound | reply | note
    # who wrote it: an agent (reply, note) or the customer's contact (inbound; null when the sender
    # is not a known contact). Who entered it is apart: an agent typing in a phoned-in message.
    Column("author_member_id", UUID(as_uuid=True)),
    Column("author_contact_id", UUID(as_uuid=True)),
    Column("entered_by_member_id", UUID(as_uuid=True)),  # null: arrived by itself (mail)
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # mail (issue 8, tickets.mail_threading): Message-IDs without angle brackets; `mail_id` is
    # mailsync's stored message; why it was threaded here; a reply's delivery (queued/sent/failed/bounced)
    Column("internet_message_id", String(998)),
    Column("mail_references", ARRAY(String(998)), nullable=False, server_default=text("'{}'")),
    Column("mail_id", UUID(as_uuid=True)),
    Column("mail_subject", String(998)),
    Column("automatic", String(20)),  # auto_reply | bounce | list | loop: never reopens, never an SLA response
    Column("thread_reason", String(30)),
    Column("thread_note", Text),
    Column("delivery_status", String(20)),
    Column("delivery_error", Text),
    Column("sent_at", DateTime(timezone=True)),
)
Index("ix_ticket_messages_internet_message_id", ticket_messages.c.tenant_id, ticket_messages.c.internet_message_id,
      postgresql_where=ticket_messages.c.internet_message_id.is_not(None))
Index("uq_ticket_messages_mail", ticket_messages.c.tenant_id, ticket_messages.c.mail_id, unique=True,
      postgresql_where=ticket_messages.c.mail_id.is_not(None))
Index("ix_ticket_messages_ticket", ticket_messages.c.tenant_id, ticket_messages.c.ticket_id,
      ticket_messages.c.created_at)

# Assignment groups for round-robin assignment; `next_index` is the round-robin position.
teams = Table(
    "teams",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", String(100), nullable=False),
    Column("member_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default=text("'{}'")),
    Column("next_index", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # archived: kept for the tickets that name it, takes no new assignments, out of lists by default
    Column("archived_at", DateTime(timezone=True)),
)
# a name is taken by a working team only: an archived team's name may be used again
Index("uq_teams_tenant_name", teams.c.tenant_id, teams.c.name, unique=True,
      postgresql_where=teams.c.archived_at.is_(None))

# Categories a tenant adds to the built-in ones (bug, feature_request, billing, general).
ticket_categories = Table(
    "ticket_categories",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(50), primary_key=True),
)

canned_responses = Table(
    "canned_responses",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", String(100), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("uq_canned_responses_tenant_name", canned_responses.c.tenant_id, canned_responses.c.name, unique=True)

# --- SLA (issue 3) ---------------------------------------------------------------------------

# Targets in business minutes; tier/priority NULL mean "any" (precedence in tickets.sla).
sla_policies = Table(
    "sla_policies",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("tier", String(20)),
    Column("priority", String(10)),
    Column("first_response_minutes", Integer),
    Column("next_response_minutes", Integer),
    Column("resolution_minutes", Integer),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("uq_sla_policies_match", sla_policies.c.tenant_id, sla_policies.c.tier, sla_policies.c.priority,
      unique=True, postgresql_nulls_not_distinct=True)

# One business-hours calendar per tenant: IANA zone, weekly slots {"0": [["09:00","12:30"], ...]},
# holidays as ISO dates, or always open (24/7).
business_calendars = Table(
    "business_calendars",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("weekly_slots", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("holidays", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("always_open", Boolean, nullable=False, server_default=text("false")),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Per-tenant SLA settings: statuses that stop the clock, warning lead, breach escalation rule
# (e.g. {"raise_priority": true} or {"reassign_to": "<member id>"}).
sla_settings = Table(
    "sla_settings",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("pause_statuses", ARRAY(String(30)), nullable=False,
           server_default=text("ARRAY['waiting_on_customer']::varchar[]")),
    Column("warning_fraction", Float, nullable=False, server_default="0.8"),
    Column("escalation", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # the defaults (no row) are version 1; a stored row starts at 2 and each change moves it on
    Column("version", Integer, nullable=False, server_default="2"),
)

# Each timer of each ticket: what tickets.sla.compute_timer said, the versions it used, and which
# events were emitted (warned_at / breached_at set in the same transaction as the outbox row, so
# each is emitted exactly once).
ticket_sla_timers = Table(
    "ticket_sla_timers",
    metadata,
    Column("ticket_id", UUID(as_uuid=True), primary_key=True),
    Column("timer", String(20), primary_key=True),  # first_response | next_response | resolution
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("target_minutes", Integer, nullable=False),
    Column("deadline", DateTime(timezone=True)),  # NULL while paused
    Column("warn_at", DateTime(timezone=True)),
    Column("met_at", DateTime(timezone=True)),
    Column("warned_at", DateTime(timezone=True)),
    Column("breached_at", DateTime(timezone=True)),
    Column("breach_minutes", Integer),
    Column("policy_id", UUID(as_uuid=True)),
    Column("policy_version", Integer),
    Column("calendar_version", Integer),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_sla_timers_warn_due", ticket_sla_timers.c.warn_at,
      postgresql_where=text("warned_at IS NULL AND met_at IS NULL AND warn_at IS NOT NULL"))
Index("ix_sla_timers_breach_due", ticket_sla_timers.c.deadline,
      postgresql_where=text("breached_at IS NULL AND met_at IS NULL AND deadline IS NOT NULL"))
Index("ix_sla_timers_tenant", ticket_sla_timers.c.tenant_id, ticket_sla_timers.c.ticket_id)

# Every interval a ticket's clocks stood still, so an auditor can see why a deadline moved.
ticket_sla_pauses = Table(
    "ticket_sla_pauses",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("status", String(30), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
)
Index("ix_sla_pauses_ticket", ticket_sla_pauses.c.ticket_id, ticket_sla_pauses.c.started_at)

# --- local copies of the customers service's directory (fed by its events, tickets.directory_events) ---

# A tenant's timezone: the zone of its default business calendar (when it has not stored its own).
# `calendar_version` is the default calendar's version: it moves on when the timezone does, so
# timers record which default they ran under; `as_of` is the occurred_at of the event applied last
# (an older event arriving late changes nothing).
directory_tenants = Table(
    "directory_tenants",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("calendar_version", Integer, nullable=False, server_default="1"),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

# A customer's tier as last told by a `customer.updated` event (ticket rows carry it too); kept so
# that a late event cannot undo a newer one and so that a ticket opened while the tier changed
# ends up with the new one.
directory_customers = Table(
    "directory_customers",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), primary_key=True),
    Column("tier", String(20), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

# the members told by the customers service's member.* events (tickets.member_copies)
directory_members = Table(
    "directory_members",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("member_id", UUID(as_uuid=True), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("role_as_of", DateTime(timezone=True), nullable=False),
    Column("active", Boolean),  # NULL: not told yet (only a role change was)
    Column("active_as_of", DateTime(timezone=True)),
)


# --- SLA recompute jobs (issue 14, tickets.sla_recompute) ---

# One recompute of a tenant's open tickets' unmet timers after a calendar, policy, settings, timezone
# or tier change, created in the change's transaction and worked through in keyset batches by the
# service's recompute worker. `customer_id` set: only that customer's tickets (a tier change).
# `after_ticket_id` is the keyset cursor: every ticket up to it is recomputed. `seq` orders the
# jobs of a tenant as their changes committed (a newer covering job supersedes an older one).
sla_recompute_jobs = Table(
    "sla_recompute_jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True)),
    Column("reason", String(20), nullable=False),  # calendar | holidays | policy | settings | timezone | tier
    Column("calendar_version", Integer, nullable=False),
    Column("settings_version", Integer, nullable=False),
    Column("policy_versions", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # {policy id: version}
    Column("status", String(12), nullable=False, server_default="queued"),  # queued|running|done|failed|superseded
    Column("total", Integer),  # tickets to recompute, counted when the job starts
    Column("done", Integer, nullable=False, server_default="0"),
    Column("after_ticket_id", UUID(as_uuid=True)),
    Column("superseded_by", UUID(as_uuid=True)),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)
Index("ix_sla_recompute_jobs_active", sla_recompute_jobs.c.seq,
      postgresql_where=text("status IN ('queued', 'running')"))
Index("ix_sla_recompute_jobs_tenant", sla_recompute_jobs.c.tenant_id, sla_recompute_jobs.c.created_at,
      sla_recompute_jobs.c.id)
