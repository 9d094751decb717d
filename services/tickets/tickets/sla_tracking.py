"""SLA bookkeeping inside ticket transactions: the hooks the ticket commands call.

Each hook runs in the caller's transaction (the same one that changes the ticket), reads the tenant's
policies, calendar and settings, and (re)writes the ticket's rows in `ticket_sla_timers` and
`ticket_sla_pauses` with what `tickets.sla.compute_timer` says. Events are emitted by the deadline
scheduler, not here.

`ticket` is the ticket row as a dict (columns of `tickets.models.tickets`) after the change.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def on_ticket_created(session: Session, ticket: dict, at: datetime) -> None:
    """Start first-response and resolution timers with the policy matched by tier and priority."""


def on_status_changed(session: Session, ticket: dict, old: str, new: str, at: datetime) -> None:
    """Open/close pause intervals per the tenant's pause statuses; resolution met on resolved/closed;
    a reopened ticket restarts its resolution timer."""


def on_public_reply(session: Session, ticket: dict, at: datetime) -> None:
    """An agent's public reply meets the first-response timer (first time) or the running
    next-response timer."""


def on_customer_message(session: Session, ticket: dict, at: datetime) -> None:
    """A customer message (re)starts the next-response timer."""


def on_priority_changed(session: Session, ticket: dict, at: datetime) -> None:
    """A new priority can select another policy: recompute the open timers."""
