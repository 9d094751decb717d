"""Authorisation: the ONE place that says which role may do what.

Routes declare a permission (`permission="tickets:write"` in `gateway.api`); `PERMISSIONS` maps each
permission to the roles allowed. Row-level rules that depend on the identity (a portal user sees
their own company only) are here too, as functions the routes call, and so is the token's own scope:
a read-only token reads (GET) whatever its member's role (`token_allows`).

Rules that depend on the member being changed — only an owner makes, changes or deactivates an
owner, the last active owner stays — are the customers service's (`customers.membership`), which
alone knows that member.
"""
from __future__ import annotations

import uuid

ROLES = ("owner", "admin", "member", "contractor", "portal", "read_only")

_STAFF_READERS = frozenset({"owner", "admin", "member", "contractor", "read_only"})
_MANAGERS = frozenset({"owner", "admin"})
_EVERYONE = frozenset(ROLES)

# what a read-only token may do: read
READ_METHODS = frozenset({"GET", "HEAD"})

PERMISSIONS: dict[str, frozenset[str]] = {
    # customers and their contacts; assignment-scoped reads for member/contractor come with assignments
    "customers:read": _STAFF_READERS,
    "customers:write": _MANAGERS,
    # tickets: portal users read and open their own company's tickets only (see `customer_scope`)
    "tickets:read": _STAFF_READERS | {"portal"},
    "tickets:write": _MANAGERS | {"member", "portal"},
    "tickets:status": _MANAGERS | {"member", "contractor"},
    # editing ticket fields and assigning tickets: the support team, not portal users or contractors
    "tickets:manage": _MANAGERS | {"member"},
    # internal notes on tickets: like internal timeline entries, never portal users or contractors
    "tickets:internal": frozenset({"owner", "admin", "member", "read_only"}),
    # help-desk setup: teams and canned responses (staff read, managers change)
    "helpdesk:read": _STAFF_READERS,
    "helpdesk:write": _MANAGERS,
    # the interaction timeline; never for portal users
    "timeline:read": _STAFF_READERS,
    "timeline:write": _MANAGERS | {"member"},
    # internal timeline entries: staff only, not contractors' limited view
    "timeline:internal": frozenset({"owner", "admin", "member", "read_only"}),
    # time entries: anyone who logs time logs, corrects and deletes their own (`time_member_scope`);
    # logging, correcting or deleting a colleague's time is a manager's (`time:others`)
    "time:read": _MANAGERS | {"member", "read_only"},
    "time:write": _MANAGERS | {"member", "contractor"},
    "time:others": _MANAGERS,
    "reports:read": _MANAGERS | {"read_only"},
    # SLA policies, business calendar, settings and ticket timers: staff read, managers change
    "sla:read": _MANAGERS | {"member", "read_only"},
    "sla:write": _MANAGERS,
    # mailboxes hold mail server credentials
    "mailboxes:read": _MANAGERS,
    "mailboxes:write": _MANAGERS,
    # the tenant's settings (name, timezone): staff read them, managers change them
    "tenant:read": _STAFF_READERS,
    "tenant:write": _MANAGERS,
    # the team: staff see who is on it; managers add members, change roles, deactivate
    "members:read": _STAFF_READERS,
    "members:write": _MANAGERS,
    # who am I (`/me`): everyone with a token
    "me:read": _EVERYONE,
    # one's own API tokens (issue, list, revoke); a manager's for any member (`token_member_scope`)
    "tokens:own": _STAFF_READERS,
    "tokens:others": _MANAGERS,
    # money: rates, invoices, exports (owner only; read_only sees everything but billing)
    "billing:read": frozenset({"owner"}),
    "billing:write": frozenset({"owner"}),
}


def allowed(role: str | None, permission: str) -> bool:
    """Unknown roles and unknown permissions are denied."""
    return role in PERMISSIONS.get(permission, frozenset())


def token_allows(identity, method: str) -> bool:
    """Whether the token itself (not its role) allows `method`: a read-only token only reads."""
    return not getattr(identity, "read_only", False) or method.upper() in READ_METHODS


def permissions_of(role: str | None) -> list[str]:
    """Every permission `role` has, sorted (`GET /me`)."""
    return sorted(p for p, granted in PERMISSIONS.items() if role in granted)


def token_member_scope(identity) -> str | None:
    """The one member whose tokens this identity may revoke (its own), or None when it may revoke
    any member's (`tokens:others`)."""
    return None if allowed(identity.role, "tokens:others") else identity.member_id


def customer_scope(identity) -> str | None:
    """The only customer this identity may see, or None when it is not limited to one."""
    if identity.role == "portal":
        return identity.customer_id or str(uuid.UUID(int=0))  # a portal user with no company sees nothing
    return None


def may_see_customer(identity, customer_id) -> bool:
    scope = customer_scope(identity)
    return scope is None or str(customer_id) == scope


def time_member_scope(identity) -> str | None:
    """The one member whose time entries this identity may log, correct or delete (its own), or
    None when it may touch anyone's (`time:others`)."""
    return None if allowed(identity.role, "time:others") else identity.member_id


def endpoint_permissions() -> list[tuple[str, str, str | None]]:
    """`[(path, method, permission)]` of every API endpoint (None: no token needed)."""
    from gateway.api import load

    api = load()
    return [(api.prefix + e.rule, e.method, e.permission) for e in api.endpoints]
