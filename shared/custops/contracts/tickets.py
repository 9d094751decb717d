from __future__ import annotations

import uuid
from typing import Literal, get_args

from pydantic import AwareDatetime

from custops.contracts.customers import Tier
from custops.events import EventData, contract

# The tickets vocabulary: each list is written once, here, as a Literal (for pydantic models and the
# OpenAPI enums) with its tuple derived from it (for code). Order is meaningful where noted.
Priority = Literal["low", "normal", "high", "urgent"]  # ascending: escalation raises one step
PRIORITIES: tuple[str, ...] = get_args(Priority)
Status = Literal["new", "open", "in_progress", "pending", "waiting_on_customer", "resolved", "closed"]
STATUSES: tuple[str, ...] = get_args(Status)
DONE_STATUSES: tuple[str, ...] = ("resolved", "closed")
OPEN_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s not in DONE_STATUSES)
# The moves a ticket's status may make (the tickets service enforces them; the gateway documents
# them). pending: our team is the blocker; waiting_on_customer: the customer is.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "in_progress", "pending", "waiting_on_customer", "resolved", "closed"}),
    "open": frozenset({"in_progress", "pending", "waiting_on_customer", "resolved", "closed"}),
    "in_progress": frozenset({"open", "pending", "waiting_on_customer", "resolved", "closed"}),
    "pending": frozenset({"open", "in_progress", "waiting_on_customer", "resolved", "closed"}),
    "waiting_on_customer": frozenset({"open", "in_progress", "pending", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),  # a closed ticket stays closed; new work starts a new ticket
}
Source = Literal["email", "portal", "manual", "api", "form"]  # form: a form submission's ticket rule
SOURCES: tuple[str, ...] = get_args(Source)
MessageKind = Literal["inbound", "reply", "note"]  # customer message, public reply, internal note
MESSAGE_KINDS: tuple[str, ...] = get_args(MessageKind)
AssignMethod = Literal["manual", "round_robin", "escalation"]


@contract("tickets", "ticket.created")
class TicketCreated(EventData):
    """A ticket was opened for a customer."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    subject: str
    priority: Priority
    status: Status
    source: Source
    created_at: AwareDatetime
    # added within v1 (additive)
    contact_id: uuid.UUID | None = None
    category: str = "general"
    assignee_id: uuid.UUID | None = None
    tags: list[str] = []
    follows_ticket_id: uuid.UUID | None = None
    form_submission_id: uuid.UUID | None = None  # source form: the submission it came from


@contract("tickets", "ticket.status_changed")
class TicketStatusChanged(EventData):
    """A ticket moved from one status to another."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    old_status: Status
    new_status: Status
    changed_at: AwareDatetime


@contract("tickets", "ticket.assigned")
class TicketAssigned(EventData):
    """A ticket got a new assignee (manually, or round-robin within a team)."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    assignee_id: uuid.UUID | None
    previous_assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    method: AssignMethod = "manual"
    assigned_at: AwareDatetime


@contract("tickets", "ticket.replied")
class TicketReplied(EventData):
    """An agent sent a public reply; carries what outbound mail needs (never an internal note)."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    message_id: uuid.UUID
    author_member_id: uuid.UUID | None
    contact_id: uuid.UUID | None = None
    subject: str
    body: str
    replied_at: AwareDatetime
    # added within v1 (additive, issue 8): what the outbound mail needs. Message-IDs without angle
    # brackets; `internet_message_id` is ours, deterministic per message (a resend carries the same);
    # `in_reply_to`/`references` continue the ticket's mail thread; `to`/`cc` its customer and
    # participants; `mailbox_id`/`from_address` where the thread came in (null: the tenant's default);
    # `mail_subject` carries the ticket token; `automatic`: sent by a rule, not typed by an agent.
    internet_message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = []
    to: list[str] = []
    cc: list[str] = []
    mailbox_id: uuid.UUID | None = None
    from_address: str | None = None
    mail_subject: str | None = None
    automatic: bool = False


@contract("tickets", "ticket.note_added")
class TicketNoteAdded(EventData):
    """An agent added an internal note (internal: never shown to portal users, never mailed)."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    message_id: uuid.UUID
    author_member_id: uuid.UUID | None
    added_at: AwareDatetime


@contract("tickets", "ticket.customer_replied")
class TicketCustomerReplied(EventData):
    """The customer wrote on a ticket (by mail, portal or API)."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    message_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    received_at: AwareDatetime


@contract("tickets", "ticket.resolved")
class TicketResolved(EventData):
    """A ticket was resolved."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    resolved_at: AwareDatetime
    # added within v1 (additive): the requester, whom a satisfaction survey goes to
    contact_id: uuid.UUID | None = None


@contract("tickets", "ticket.closed")
class TicketClosed(EventData):
    """A ticket was closed; later customer messages start a new ticket linked to it."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    closed_at: AwareDatetime


@contract("tickets", "ticket.reopened")
class TicketReopened(EventData):
    """A resolved ticket was reopened (by a customer reply or an agent)."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    reopened_at: AwareDatetime
    reason: Literal["customer_reply", "agent"] = "agent"


SlaTimer = Literal["first_response", "next_response", "resolution"]
SLA_TIMERS: tuple[str, ...] = get_args(SlaTimer)


@contract("tickets", "ticket.sla_warning")
class TicketSlaWarning(EventData):
    """A ticket's SLA timer passed its warning lead (default 80% of the target); once per timer."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    timer: SlaTimer
    deadline: AwareDatetime
    warn_at: AwareDatetime
    target_minutes: int
    policy_version: int | None = None
    calendar_version: int | None = None


@contract("tickets", "ticket.sla_breached")
class TicketSlaBreached(EventData):
    """A ticket's SLA timer reached its deadline unmet; once per timer."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    timer: SlaTimer
    deadline: AwareDatetime
    target_minutes: int
    policy_version: int | None = None
    calendar_version: int | None = None


@contract("tickets", "ticket.sla_met")
class TicketSlaMet(EventData):
    """A ticket's SLA timer stopped: first response or next response by an agent's public reply,
    every running timer when the ticket is resolved or closed (added within v1, issue 12). In time
    or late (`breached`: after `deadline`); once per run of a timer (a reopened ticket's resolution
    timer runs again). `business_minutes`: business time from `started_at` to `met_at` in the
    tenant's calendar, paused time left out; `priority`, `tier`, `team_id` and `assignee_id` are
    the ticket's when it stopped."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    timer: SlaTimer
    started_at: AwareDatetime
    met_at: AwareDatetime
    deadline: AwareDatetime | None = None
    target_minutes: int
    business_minutes: float
    breached: bool
    breach_minutes: int | None = None
    priority: Priority
    tier: Tier | None = None
    team_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None


@contract("tickets", "ticket.updated")
class TicketUpdated(EventData):
    """Ticket fields changed (subject, priority, category, tags, contact); `changes` maps each
    changed field to its new value and `previous` each changed field to its value before (empty
    on events from before it was added). `reason` is `escalation` when an SLA breach raised the
    priority."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    changes: dict[str, object]
    reason: Literal["edit", "escalation"] = "edit"
    updated_at: AwareDatetime
    # added within v1 (additive)
    previous: dict[str, object] = {}


# --- help-desk and SLA setup: every change is an event, so the audit log records it (issue 7) ---
# `changes` maps each changed field to its new value and `previous` to its value before: the audit
# digest's before/after (customers.audit).


@contract("tickets", "team.created")
class TeamCreated(EventData):
    """A team (for round-robin assignment) was created."""

    team_id: uuid.UUID
    name: str
    member_ids: list[uuid.UUID]
    created_at: AwareDatetime


@contract("tickets", "team.updated")
class TeamUpdated(EventData):
    """A team's name or members changed; `changes`/`previous` hold the changed fields only."""

    team_id: uuid.UUID
    name: str
    changes: dict[str, object]
    previous: dict[str, object]
    updated_at: AwareDatetime


@contract("tickets", "team.archived")
class TeamArchived(EventData):
    """A team was archived: it takes no new tickets; its tickets keep it."""

    team_id: uuid.UUID
    name: str
    archived_at: AwareDatetime


@contract("tickets", "canned_response.created")
class CannedResponseCreated(EventData):
    """A canned response (a reply template with placeholders) was created."""

    canned_response_id: uuid.UUID
    name: str
    body: str
    created_at: AwareDatetime


@contract("tickets", "canned_response.deleted")
class CannedResponseDeleted(EventData):
    """A canned response was deleted."""

    canned_response_id: uuid.UUID
    name: str
    deleted_at: AwareDatetime


@contract("tickets", "category.added")
class CategoryAdded(EventData):
    """A tenant category was added to the built-in ones; a category is named by its `name`."""

    name: str
    added_at: AwareDatetime


@contract("tickets", "category.removed")
class CategoryRemoved(EventData):
    """A tenant category was removed: new tickets no longer take it; existing tickets keep it."""

    name: str
    removed_at: AwareDatetime


@contract("tickets", "sla_policy.saved")
class SlaPolicySaved(EventData):
    """An SLA policy for (tier, priority) was created or its targets changed (minutes; null: no
    target); `changes`/`previous` hold the changed targets (`previous` null ones when created)."""

    sla_policy_id: uuid.UUID
    tier: Tier | None
    priority: Priority | None
    version: int
    created: bool
    changes: dict[str, object]
    previous: dict[str, object]
    saved_at: AwareDatetime


@contract("tickets", "sla_policy.deleted")
class SlaPolicyDeleted(EventData):
    """An SLA policy was deleted (its tickets fall back to a broader policy); the targets it had."""

    sla_policy_id: uuid.UUID
    tier: Tier | None
    priority: Priority | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    deleted_at: AwareDatetime


CalendarChangeSource = Literal["edit", "ics", "public_holidays"]


@contract("tickets", "business_calendar.changed")
class BusinessCalendarChanged(EventData):
    """The tenant's business calendar changed: an edit, or holidays added by an iCalendar import or
    a region's public holidays (`region`). `changes`/`previous` hold the changed fields (timezone,
    weekly_slots, holidays, always_open); `holidays_added`/`holidays_removed` the dates (ISO)."""

    version: int
    source: CalendarChangeSource
    region: str | None = None
    changes: dict[str, object]
    previous: dict[str, object]
    holidays_added: list[str] = []
    holidays_removed: list[str] = []
    changed_at: AwareDatetime


@contract("tickets", "sla_settings.changed")
class SlaSettingsChanged(EventData):
    """The tenant's SLA settings (pause statuses, warning fraction, escalation) changed;
    `changes`/`previous` hold the changed ones."""

    version: int
    changes: dict[str, object]
    previous: dict[str, object]
    changed_at: AwareDatetime
