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
# the first day of a tenant's week
WeekStart = Literal["monday", "sunday", "saturday"]
WEEK_STARTS: tuple[str, ...] = get_args(WeekStart)


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


@contract("customers", "contact.portal_invited")
class ContactPortalInvited(EventData):
    """A contact with portal access was sent a one-time invitation (never the link token itself);
    exchanging it makes them a portal user (`member.created` with role portal, `token.created`)."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    invite_id: uuid.UUID
    email: str
    expires_at: AwareDatetime


@contract("customers", "contact.portal_revoked")
class ContactPortalRevoked(EventData):
    """A contact's portal access was taken away; its portal user, if any, is deactivated with it
    (`member.deactivated`)."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    email: str


@contract("customers", "tenant.created")
class TenantCreated(EventData):
    """A tenant (a team using custops) was created; carries its settings."""

    tenant_id: uuid.UUID
    name: str
    timezone: str = "UTC"  # IANA zone: "this week" in reports, the SLA calendar's default zone
    locale: str = "en"  # BCP 47 language tag
    week_start: WeekStart = "monday"


@contract("customers", "tenant.updated")
class TenantUpdated(EventData):
    """A tenant's settings changed; carries the full current settings (consumers upsert them)
    and `changes`, the fields that changed with their new values."""

    tenant_id: uuid.UUID
    name: str
    timezone: str
    changes: dict[str, object] = {}
    locale: str = "en"  # BCP 47 language tag
    week_start: WeekStart = "monday"


# --- access: members (team users) and their API tokens. The actor who made each change (and the
# request it came from) is on the envelope; these carry what an audit record and a gateway need.
# The audit log (customers.audit) takes every event; gateways also take member.role_changed,
# member.deactivated and token.revoked to drop cached logins. Never a token or its hash.


@contract("customers", "member.created")
class MemberCreated(EventData):
    """A member was added to the tenant (a team user, or a portal user of `customer_id`)."""

    member_id: uuid.UUID
    email: str
    name: str
    role: Role
    customer_id: uuid.UUID | None = None
    timezone: str | None = None


@contract("customers", "member.updated")
class MemberUpdated(EventData):
    """A member's profile changed (name, timezone): `changes` maps each changed field to its new
    value, `previous` to its old one. A role change is told by `member.role_changed`."""

    member_id: uuid.UUID
    email: str
    changes: dict[str, object]
    previous: dict[str, object] = {}


@contract("customers", "member.reactivated")
class MemberReactivated(EventData):
    """A deactivated member may sign in again (the tokens revoked with the deactivation stay revoked)."""

    member_id: uuid.UUID
    email: str
    role: Role


@contract("customers", "token.created")
class TokenCreated(EventData):
    """An API token was issued to a member. Carries its display fields only (never the token or its
    hash)."""

    token_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    prefix: str
    read_only: bool = False
    expires_at: AwareDatetime | None = None


@contract("customers", "member.role_changed")
class MemberRoleChanged(EventData):
    """A member's role changed. Gateways drop what they cached about the member's tokens."""

    member_id: uuid.UUID
    email: str
    previous_role: Role
    role: Role


@contract("customers", "member.deactivated")
class MemberDeactivated(EventData):
    """A member was deactivated: none of their tokens works any more (`revoked_token_ids` are the
    ones this revoked; gateways drop every cached token of the member). History keeps naming them."""

    member_id: uuid.UUID
    email: str
    role: Role
    deactivated_at: AwareDatetime
    revoked_token_ids: list[uuid.UUID] = []


@contract("customers", "token.revoked")
class TokenRevoked(EventData):
    """An API token was revoked. Gateways drop it from their caches at once."""

    token_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    prefix: str
    revoked_at: AwareDatetime


@contract("customers", "customer.team_changed")
class CustomerTeamChanged(EventData):
    """A member joined or left a customer's account team, or their access to its internal notes and
    timeline entries changed (`internal_access`, for contractors). Gateways drop the member's cached
    customer scope at once."""

    customer_id: uuid.UUID
    member_id: uuid.UUID
    change: Literal["added", "updated", "removed"]
    internal_access: bool = False
