"""Authorisation: the ONE place that says which role may do what.

Routes declare a permission (`permission="tickets:write"` in `gateway.api`); `PERMISSIONS` maps each
permission to the roles allowed. Row-level rules that depend on the identity (a portal user sees
their own company only) are here too, as functions the routes call, and so is the token's own scope:
a read-only token reads (GET) whatever its member's role (`token_allows`).

Rows: owners and admins see the whole tenant; members, contractors and read-only users
(`ACCOUNT_SCOPED`) see the customers they own or whose account team they are on (`gateway.scope`),
and those customers' contacts, tickets, time and timeline only; a portal user their own company.
Anything outside that does not exist for them: a customer, ticket or time entry named by id is a
404, one named in a body a 422 "no such customer", exactly as another tenant's would be. Reports
(`reports:read`: managers and read_only) stay tenant-wide figures.

Rules that depend on the member being changed — only an owner makes, changes or deactivates an
owner, the last active owner stays — are the customers service's (`customers.membership`), which
alone knows that member.
"""
from __future__ import annotations

import uuid

from gateway import scope
from gateway.problems import Problem

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
    # the interaction timeline; a portal user reads their own company's customer-visible activities only
    "timeline:read": _STAFF_READERS | {"portal"},
    "timeline:write": _MANAGERS | {"member"},
    # the team's view of the activity log: heatmaps, interaction kinds, saved views (staff only)
    "activity:read": _STAFF_READERS,
    "activity:views": _MANAGERS | {"member", "contractor"},
    # the tenant's own interaction kinds
    "timeline:setup": _MANAGERS,
    # internal timeline entries: staff only, not contractors' limited view
    "timeline:internal": frozenset({"owner", "admin", "member", "read_only"}),
    # follow-ups (promises to customers) on the customers one works on: contractors keep theirs too
    "followups:read": _STAFF_READERS,
    "followups:write": _MANAGERS | {"member", "contractor"},
    # time entries: anyone who logs time logs, corrects and deletes their own (`time_member_scope`);
    # logging, correcting or deleting a colleague's time is a manager's (`time:others`)
    "time:read": _MANAGERS | {"member", "read_only"},
    "time:write": _MANAGERS | {"member", "contractor"},
    "time:others": _MANAGERS,
    # the tenant's time setup (categories, billing defaults, stopwatch rules, timesheet approvers)
    "time:setup": _MANAGERS,
    # approving, rejecting timesheets: managers, and members named approver of a colleague (billing checks)
    "timesheets:approve": _MANAGERS | {"member"},
    "reports:read": _MANAGERS | {"read_only"},
    # per-customer metrics (`/customer_metrics`: tickets, SLA, hours, health of the customers one sees):
    # like sla:read and time:read, not contractors
    "metrics:read": _MANAGERS | {"member", "read_only"},
    # SLA policies, business calendar, settings and ticket timers: staff read, managers change
    "sla:read": _MANAGERS | {"member", "read_only"},
    "sla:write": _MANAGERS,
    # mailboxes hold mail server credentials
    "mailboxes:read": _MANAGERS,
    "mailboxes:write": _MANAGERS,
    # mail whose sender matched no customer: the support team triages it (assigns a customer in scope)
    "mail:triage": _MANAGERS | {"member"},
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
    # the audit log (who changed what, from where): owners and admins only
    "audit:read": _MANAGERS,
    # the work plan (projects, tasks, their views): staff read; portal users read their company's
    # portal-shared projects and portal-visible tasks; members change them; contractors move tasks
    "projects:read": _STAFF_READERS | {"portal"},
    "projects:write": _MANAGERS | {"member"},
    "tasks:status": _MANAGERS | {"member", "contractor"},
    # onboarding templates: staff read them, managers write them (applying one is projects:write)
    "templates:read": _STAFF_READERS,
    "templates:write": _MANAGERS,
    # forms: staff read forms and their customers' submissions, managers build and send them (a link's
    # token is the credential of whoever fills it in)
    "forms:read": _STAFF_READERS,
    "forms:write": _MANAGERS,
    # the portal's forms (`/portal/forms`): a portal user lists, reads and submits the tenant's portal-visible
    # forms for their own company as their contact; managers may look at what the portal offers
    "forms:respond": _MANAGERS | {"portal"},
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


# the roles whose rows are their account teams' customers (owned or assigned)
ACCOUNT_SCOPED = frozenset({"member", "contractor", "read_only"})


def visible_customer_ids(identity) -> list[str] | None:
    """The customers this identity may see, sorted, or None when it sees the whole tenant."""
    if identity.role == "portal":
        return [customer_scope(identity)]
    if identity.role in ACCOUNT_SCOPED:
        return sorted(scope.of(identity).customer_ids)
    return None


def may_see_internal(identity, customer_id, permission: str) -> bool:
    """Whether the identity sees the internal notes (`tickets:internal`) or internal timeline entries
    (`timeline:internal`) of a customer it may see: by its role, or a contractor by the
    `internal_access` of their assignment to that customer."""
    if allowed(identity.role, permission):
        return True
    return identity.role == "contractor" and str(customer_id) in scope.of(identity).internal_customer_ids


def check_customer(identity, customer_id) -> None:
    """404 for a customer (named in the path) that this identity may not see, as for another tenant's."""
    if not may_see_customer(identity, customer_id):
        raise Problem(404, f"customer {customer_id} not found")


def check_customer_reference(identity, customer_id, field: str = "customer_id") -> None:
    """422 for a customer named in a body that this identity may not see, worded as the services word
    a customer of another tenant (`unknown customer`)."""
    if customer_id is not None and not may_see_customer(identity, customer_id):
        raise Problem(422, "unknown customer", [{"field": field, "message": "no such customer in this tenant"}])


def customer_scope(identity) -> str | None:
    """The only customer this identity may see, or None when it is not limited to one."""
    if identity.role == "portal":
        return identity.customer_id or str(uuid.UUID(int=0))  # a portal user with no company sees nothing
    return None


def may_see_customer(identity, customer_id) -> bool:
    visible = visible_customer_ids(identity)
    return visible is None or str(customer_id) in visible


def time_member_scope(identity) -> str | None:
    """The one member whose time entries this identity may log, correct or delete (its own), or
    None when it may touch anyone's (`time:others`)."""
    return None if allowed(identity.role, "time:others") else identity.member_id


def endpoint_permissions() -> list[tuple[str, str, str | None]]:
    """`[(path, method, permission)]` of every API endpoint (None: no token needed)."""
    from gateway.api import load

    api = load()
    return [(api.prefix + e.rule, e.method, e.permission) for e in api.endpoints]
