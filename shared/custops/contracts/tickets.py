from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime

from custops.events import EventData, contract

Priority = Literal["low", "normal", "high", "urgent"]


@contract("tickets", "ticket.created")
class TicketCreated(EventData):
    """A ticket was opened for a customer."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    subject: str
    priority: Priority
    status: str
    source: str
    created_at: AwareDatetime


@contract("tickets", "ticket.status_changed")
class TicketStatusChanged(EventData):
    """A ticket moved from one status to another."""

    ticket_id: uuid.UUID
    number: int
    customer_id: uuid.UUID
    old_status: str
    new_status: str
    changed_at: AwareDatetime
