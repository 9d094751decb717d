from __future__ import annotations

import uuid
from typing import Literal

from custops.events import EventData, contract

Tier = Literal["enterprise", "mid_market", "smb"]


@contract("customers", "customer.created")
class CustomerCreated(EventData):
    """A customer account was created."""

    customer_id: uuid.UUID
    name: str
    tier: Tier
    domains: list[str]
    owner_id: uuid.UUID | None = None


@contract("customers", "customer.updated")
class CustomerUpdated(EventData):
    """A customer account changed; `changes` maps each changed field to its new value."""

    customer_id: uuid.UUID
    changes: dict[str, object]


@contract("customers", "contact.created")
class ContactCreated(EventData):
    """A contact person was added to a customer."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    email: str
