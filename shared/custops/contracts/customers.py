from __future__ import annotations

import uuid
from typing import Literal, get_args

from pydantic import AwareDatetime

from custops.events import EventData, contract

# The directory vocabulary, written once (Literal for models and OpenAPI, tuple derived for code).
Tier = Literal["enterprise", "mid_market", "smb"]
TIERS: tuple[str, ...] = get_args(Tier)
# owner: all; admin: all but billing; member: assigned customers; contractor: a limited view of
# assigned customers; portal: a contact's own company; read_only: reads, writes nothing
Role = Literal["owner", "admin", "member", "contractor", "portal", "read_only"]
ROLES: tuple[str, ...] = get_args(Role)


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


@contract("customers", "contact.archived")
class ContactArchived(EventData):
    """A contact was archived (soft-deleted): kept for history, left out of contact lists by
    default, and no longer accepted as the contact of a new ticket."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    email: str
    archived_at: AwareDatetime


@contract("customers", "tenant.created")
class TenantCreated(EventData):
    """A tenant (a team using custops) was created; carries its settings."""

    tenant_id: uuid.UUID
    name: str
    timezone: str = "UTC"  # IANA zone: "this week" in reports, the SLA calendar's default zone


@contract("customers", "tenant.updated")
class TenantUpdated(EventData):
    """A tenant's settings changed; carries the full current settings (consumers upsert them)
    and `changes`, the fields that changed with their new values."""

    tenant_id: uuid.UUID
    name: str
    timezone: str
    changes: dict[str, object] = {}
