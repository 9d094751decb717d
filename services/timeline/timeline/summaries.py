"""What a timeline entry says about an event: its one-line summary, subject, actor, time and
visibility. Pure: an event payload in, an `Entry` out.

Visibility: ticket activity is what the customer already sees in the portal (opening, status,
replies both ways), so it is public; internal notes, assignments and
SLA warnings/breaches are the team's own business, as are account administration (customer and
contact records) and time tracking, so they are internal.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from custops.contracts.billing import TimeLogged
from custops.contracts.customers import ContactCreated, CustomerCreated, CustomerUpdated
from custops.contracts.tickets import (
    TicketAssigned,
    TicketCreated,
    TicketCustomerReplied,
    TicketNoteAdded,
    TicketReplied,
    TicketSlaBreached,
    TicketSlaWarning,
    TicketStatusChanged,
)
from custops.contracts.timeline import InteractionLogged
from custops.events import EventData

_MAX_VALUE_CHARS = 60  # longer changed values are cut in the summary (the full value stays in data)


@dataclass(frozen=True)
class Entry:
    type: str
    summary: str
    internal: bool
    subject_type: str | None = None
    subject_id: uuid.UUID | None = None
    actor: uuid.UUID | None = None
    # when the event says when the thing happened; None means "use the envelope's time"
    occurred_at: datetime | None = None


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


def _changes(changes: dict) -> str:
    parts = []
    for field in sorted(changes):
        value = changes[field]
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            parts.append(field)  # nested values are too long for one line
            continue
        parts.append(f"{field} = {_short(value)}")
    return "; ".join(parts)


def describe(data: EventData) -> Entry:
    """The timeline entry for one event payload; raises LookupError for an event it does not log."""
    if isinstance(data, CustomerCreated):
        return Entry(data.TYPE, one_line(f"Customer created: {data.name} ({data.tier})"), True,
                     "customer", data.customer_id, data.owner_id)
    if isinstance(data, CustomerUpdated):
        changed = _changes(data.changes) or "no fields"
        return Entry(data.TYPE, f"Customer updated: {changed}", True, "customer", data.customer_id)
    if isinstance(data, ContactCreated):
        return Entry(data.TYPE, one_line(f"Contact added: {data.name} <{data.email}>"), True,
                     "contact", data.contact_id)
    if isinstance(data, TicketCreated):
        return Entry(data.TYPE, one_line(f"Ticket #{data.number} opened: {data.subject} ({data.priority})"),
                     False, "ticket", data.ticket_id, occurred_at=data.created_at)
    if isinstance(data, TicketStatusChanged):
        line = (f"Ticket #{data.number} status: {humanize(data.old_status)} → "
                f"{humanize(data.new_status)}")
        return Entry(data.TYPE, line, False, "ticket", data.ticket_id, occurred_at=data.changed_at)
    if isinstance(data, TicketAssigned):
        line = f"Ticket #{data.number} {'assigned' if data.assignee_id else 'unassigned'}"
        if data.method != "manual":
            line += f" ({humanize(data.method)})"
        return Entry(data.TYPE, line, True, "ticket", data.ticket_id, occurred_at=data.assigned_at)
    if isinstance(data, TicketReplied):
        # the body stays out of the summary: a one-liner, and the full reply lives on the ticket
        return Entry(data.TYPE, f"Reply sent on ticket #{data.number}", False, "ticket", data.ticket_id,
                     data.author_member_id, data.replied_at)
    if isinstance(data, TicketNoteAdded):
        return Entry(data.TYPE, f"Internal note on ticket #{data.number}", True, "ticket", data.ticket_id,
                     data.author_member_id, data.added_at)
    if isinstance(data, TicketCustomerReplied):
        return Entry(data.TYPE, f"Customer replied on ticket #{data.number}", False, "ticket",
                     data.ticket_id, occurred_at=data.received_at)
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
        return Entry(data.TYPE, one_line(line), True, "time_entry", data.entry_id, data.member_id)
    if isinstance(data, InteractionLogged):
        return Entry(interaction_type(data.kind), one_line(data.summary), data.internal,
                     occurred_at=data.occurred_at)
    raise LookupError(f"the timeline does not log {data.TYPE} events")
