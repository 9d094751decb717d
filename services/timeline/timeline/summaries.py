"""What a timeline entry says about an event: its one-line summary, subject, author, time and
visibility. Pure: an event payload in, an `Entry` out.

Visibility: ticket activity is what the customer already sees in the portal (opening, status,
replies both ways), so it is public; internal notes, assignments, field edits (priority, tags,
category: the team's own triage) and SLA warnings/breaches are the team's own business, as are
account administration (customer and contact records) and time tracking, so they are internal.

Actor: `Entry.actor` is the author the event itself names (the agent of a reply or note, the
contact who wrote a customer reply, the member whose time was logged); the service falls back to
the envelope's actor (who made the change) when the event names none.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from custops.contracts.billing import TimeDeleted, TimeLogged, TimeUpdated
from custops.contracts.customers import (
    ContactArchived,
    ContactCreated,
    CustomerCreated,
    CustomerLifecycleChanged,
    CustomerUpdated,
    FormSubmitted,
    OnboardingApplied,
    OnboardingReplanned,
    ProjectCreated,
    ProjectDeleted,
    ProjectUpdated,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskMoved,
    TaskReopened,
    TaskUpdated,
)
from custops.contracts.mailsync import MailReceived
from custops.contracts.tickets import (
    TicketAssigned,
    TicketCreated,
    TicketCustomerReplied,
    TicketNoteAdded,
    TicketReplied,
    TicketSlaBreached,
    TicketSlaWarning,
    TicketStatusChanged,
    TicketUpdated,
)
from custops.contracts.timeline import InteractionCorrected, InteractionLogged
from custops.events import Actor, EventData

_MAX_VALUE_CHARS = 60  # longer changed values are cut in the summary (the full value stays in data)


@dataclass(frozen=True)
class Entry:
    type: str
    summary: str
    internal: bool
    subject_type: str | None = None
    subject_id: uuid.UUID | None = None
    # the author the event names; None: whoever made the change (the envelope's actor)
    actor: Actor | None = None
    # when the event says when the thing happened; None means "use the envelope's time"
    occurred_at: datetime | None = None
    # what it is about ({"ticket_id": ...}); None: what `links_of` finds in the payload
    links: dict | None = None


# payload fields that link an activity to something, and the link each makes
_LINK_FIELDS = {"ticket_id": "ticket_id", "task_id": "task_id", "project_id": "project_id",
                "time_entry_id": "time_entry_id", "mail_id": "mail_message_id", "mail_message_id": "mail_message_id"}


def links_of(data: EventData) -> dict[str, str]:
    """`{"ticket_id": "...", ...}`: the things an event names that a timeline links to. A time event's
    `entry_id` is its time entry."""
    found = {link: str(getattr(data, f)) for f, link in _LINK_FIELDS.items() if getattr(data, f, None) is not None}
    if data.TYPE.startswith("time.") and getattr(data, "entry_id", None) is not None:
        found["time_entry_id"] = str(data.entry_id)
    return found


def interaction_type(kind: str) -> str:
    return f"interaction.{kind}"


def one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) so a summary is always a single line."""
    return " ".join(str(text).split())


def humanize(identifier: str) -> str:
    """`first_response` → `first response`, `round_robin` → `round robin`."""
    return identifier.replace("_", " ")


def duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}h {rest}m"
    return f"{hours}h" if hours else f"{rest}m"


def _short(value) -> str:
    text = one_line(value if value is not None else "none")
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _value(value) -> str | None:
    """A changed value for a summary; None for nested values (too long for one line)."""
    if isinstance(value, dict):
        return None
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value) or None  # an empty list reads as "none"
    return _short(value)


def _changes(changes: dict) -> str:
    parts = []
    for field in sorted(changes):
        value = _value(changes[field])
        parts.append(field if value is None else f"{field} = {value}")
    return "; ".join(parts)


def _moves(changes: dict, previous: dict) -> str:
    """`priority: normal → high; tags → a, b`: the old value where the event knows it."""
    parts = []
    for field in sorted(changes):
        new = _value(changes[field])
        if new is None:
            parts.append(field)
        elif field in previous and (old := _value(previous[field])) is not None:
            parts.append(f"{field}: {old} → {new}")
        else:
            parts.append(f"{field} → {new}")
    return "; ".join(parts) or "no fields"


def _billable(flag) -> str:
    return "billable" if flag else "non-billable"


def _time_corrections(changes: dict) -> str:
    """`30m → 45m; non-billable → billable; work date 2026-03-02 → 2026-03-03; note edited`: the
    amounts in full, references (ticket, customer, member) named only (their ids say nothing here)."""
    parts = []
    if "minutes" in changes:
        parts.append(f"{duration(changes['minutes'].old)} → {duration(changes['minutes'].new)}")
    if "billable" in changes:
        parts.append(f"{_billable(changes['billable'].old)} → {_billable(changes['billable'].new)}")
    if "work_date" in changes:
        parts.append(f"work date {changes['work_date'].old} → {changes['work_date'].new}")
    if "ticket_id" in changes:
        old, new = changes["ticket_id"].old, changes["ticket_id"].new
        parts.append("ticket added" if old is None else "ticket removed" if new is None else "ticket changed")
    if "customer_id" in changes:
        parts.append("moved from another customer")
    if "member_id" in changes:
        parts.append("moved to another member")
    if "note" in changes:
        parts.append("note edited")
    return "; ".join(parts) or "no fields"


def member(member_id) -> Actor | None:
    return Actor(type="member", id=member_id) if member_id is not None else None


def contact(contact_id) -> Actor | None:
    return Actor(type="contact", id=contact_id) if contact_id is not None else None


def describe(data: EventData) -> Entry:
    """The timeline entry for one event payload; raises LookupError for an event it does not log."""
    if isinstance(data, CustomerCreated):
        # the owner is who looks after the account, not who created it: the envelope says that
        return Entry(data.TYPE, one_line(f"Customer created: {data.name} ({data.tier})"), True,
                     "customer", data.customer_id)
    if isinstance(data, CustomerUpdated):
        changed = _changes(data.changes) or "no fields"
        return Entry(data.TYPE, f"Customer updated: {changed}", True, "customer", data.customer_id)
    if isinstance(data, ContactCreated):
        return Entry(data.TYPE, one_line(f"Contact added: {data.name} <{data.email}>"), True,
                     "contact", data.contact_id)
    if isinstance(data, ContactArchived):
        return Entry(data.TYPE, one_line(f"Contact archived: {data.name} <{data.email}>"), True,
                     "contact", data.contact_id, occurred_at=data.archived_at)
    if isinstance(data, TicketCreated):
        return Entry(data.TYPE, one_line(f"Ticket #{data.number} opened: {data.subject} ({data.priority})"),
                     False, "ticket", data.ticket_id, occurred_at=data.created_at)
    if isinstance(data, TicketStatusChanged):
        line = (f"Ticket #{data.number} status: {humanize(data.old_status)} → "
                f"{humanize(data.new_status)}")
        return Entry(data.TYPE, line, False, "ticket", data.ticket_id, occurred_at=data.changed_at)
    if isinstance(data, TicketUpdated):
        line = f"Ticket #{data.number} {_moves(data.changes, data.previous)}"
        if data.reason == "escalation":
            line += " (SLA escalation)"
        return Entry(data.TYPE, one_line(line), True, "ticket", data.ticket_id, occurred_at=data.updated_at)
    if isinstance(data, TicketAssigned):
        line = f"Ticket #{data.number} {'assigned' if data.assignee_id else 'unassigned'}"
        if data.method != "manual":
            line += f" ({humanize(data.method)})"
        return Entry(data.TYPE, line, True, "ticket", data.ticket_id, occurred_at=data.assigned_at)
    if isinstance(data, TicketReplied):
        # the body stays out of the summary: a one-liner, and the full reply lives on the ticket
        return Entry(data.TYPE, f"Reply sent on ticket #{data.number}", False, "ticket", data.ticket_id,
                     member(data.author_member_id), data.replied_at)
    if isinstance(data, TicketNoteAdded):
        return Entry(data.TYPE, f"Internal note on ticket #{data.number}", True, "ticket", data.ticket_id,
                     member(data.author_member_id), data.added_at)
    if isinstance(data, TicketCustomerReplied):
        # the contact wrote it (whoever entered it is the envelope's actor)
        return Entry(data.TYPE, f"Customer replied on ticket #{data.number}", False, "ticket",
                     data.ticket_id, contact(data.contact_id), data.received_at)
    if isinstance(data, TicketSlaWarning):
        return Entry(data.TYPE, f"SLA {humanize(data.timer)} at risk on ticket #{data.number}", True,
                     "ticket", data.ticket_id, occurred_at=data.warn_at)
    if isinstance(data, TicketSlaBreached):
        return Entry(data.TYPE, f"SLA {humanize(data.timer)} breached on ticket #{data.number}", True,
                     "ticket", data.ticket_id, occurred_at=data.deadline)
    if isinstance(data, TimeLogged):
        line = f"{duration(data.minutes)} logged ({'billable' if data.billable else 'non-billable'})"
        if data.note.strip():
            line += f": {data.note}"
        # credited to whose time it is (who entered it, when someone else, is the envelope's actor)
        return Entry(data.TYPE, one_line(line), True, "time_entry", data.entry_id, member(data.member_id))
    if isinstance(data, TimeUpdated):
        # credited to who corrected it: the correction is their act, the time stays its member's
        return Entry(data.TYPE, one_line(f"Time entry corrected: {_time_corrections(data.changes)}"), True,
                     "time_entry", data.entry_id, member(data.updated_by_member_id), data.updated_at)
    if isinstance(data, TimeDeleted):
        line = f"Time entry deleted: {duration(data.minutes)} ({'billable' if data.billable else 'non-billable'})"
        return Entry(data.TYPE, line, True, "time_entry", data.entry_id, member(data.deleted_by_member_id),
                     data.deleted_at)
    if isinstance(data, InteractionLogged):
        return Entry(interaction_type(data.kind), one_line(data.summary), data.internal,
                     occurred_at=data.occurred_at, links=dict(data.links))
    return _work_plan_and_mail(data)


def _work_plan_and_mail(data: EventData) -> Entry:
    """Projects, tasks, onboarding plans (issue 11) and mail (issue 8): internal unless the event says
    the thing is shared with the customer (a portal-shared project, a portal-visible task) or the
    customer wrote it (an email that is not automatic mail)."""
    if isinstance(data, CustomerLifecycleChanged):
        line = f"Lifecycle: {humanize(data.previous_stage) if data.previous_stage else 'none'} → {humanize(data.stage)}"
        return Entry(data.TYPE, line, True, "customer", data.customer_id, occurred_at=data.changed_at)
    if isinstance(data, ProjectCreated):
        return Entry(data.TYPE, one_line(f"Project created: {data.name}"), not data.portal_shared, "project",
                     data.project_id)
    if isinstance(data, ProjectUpdated):
        return Entry(data.TYPE, one_line(f"Project {_moves(data.changes, data.previous)}"), True, "project",
                     data.project_id)
    if isinstance(data, ProjectDeleted):
        return Entry(data.TYPE, one_line(f"Project deleted: {data.name}"), True, "project", data.project_id)
    if isinstance(data, TaskCreated):
        line = f"{'Milestone' if data.milestone else 'Task'} added: {data.title}"
        if data.due_date:
            line += f" (due {data.due_date})"
        return Entry(data.TYPE, one_line(line), not data.portal_visible, "task", data.task_id)
    if isinstance(data, TaskUpdated):
        return Entry(data.TYPE, one_line(f"Task {_moves(data.changes, data.previous)}"), True, "task", data.task_id)
    if isinstance(data, TaskMoved):
        return Entry(data.TYPE, f"Task moved: {humanize(data.previous_status)} → {humanize(data.status)}", True,
                     "task", data.task_id)
    if isinstance(data, TaskCompleted):
        return Entry(data.TYPE, one_line(f"Task done: {data.title}"), True, "task", data.task_id,
                     member(data.completed_by), data.completed_at)
    if isinstance(data, TaskReopened):
        return Entry(data.TYPE, f"Task reopened ({humanize(data.status)})", True, "task", data.task_id)
    if isinstance(data, TaskDeleted):
        return Entry(data.TYPE, one_line(f"Task deleted: {data.title}"), True, "task", data.task_id)
    if isinstance(data, OnboardingApplied):
        return Entry(data.TYPE, f"Onboarding plan applied: {len(data.steps)} steps from {data.start_date}", True,
                     "project", data.project_id)
    if isinstance(data, OnboardingReplanned):
        why = "start date changed" if data.reason == "start_date_changed" else "template upgraded"
        return Entry(data.TYPE, f"Onboarding plan re-planned ({why}): {len(data.moves)} tasks moved", True,
                     "project", data.project_id)
    if isinstance(data, FormSubmitted):
        # the line names the form and its scores; the answers stay with the submission (staff only)
        scores = ", ".join(f"{str(sc.get('type', '')).upper()} {sc.get('score')}" for sc in data.scores)
        return Entry(data.TYPE, one_line(f"Form submitted: {data.form_name}" + (f" ({scores})" if scores else "")),
                     True, "form_submission", data.submission_id, contact(data.contact_id), data.submitted_at)
    if isinstance(data, MailReceived):
        sender = data.sender.name or data.sender.email
        kind = f" ({humanize(data.automatic)})" if data.automatic else ""
        return Entry(data.TYPE, one_line(f"Email from {sender}{kind}: {data.subject or '(no subject)'}"),
                     data.automatic is not None, "mail", data.mail_id, contact(data.contact_id), data.received_at)
    if isinstance(data, InteractionCorrected):
        raise LookupError("a correction is recorded as a version of its activity, not as an event's activity")
    if hasattr(data, "customer_id"):
        # an event bound without a rule of its own yet (a line in recorded_events): recorded, internal
        return Entry(data.TYPE, humanize(data.TYPE.replace(".", " ")).capitalize(), True)
    raise LookupError(f"the timeline does not log {data.TYPE} events")
