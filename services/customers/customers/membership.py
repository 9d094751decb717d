"""Who may change whose membership, and the tenant's last owner. Pure rules, no I/O.

The gateway's `roles.py` says which roles may call the member routes at all (`members:write`:
owners and admins); these rules depend on the member changed, which only this service knows:
"admin: everything but billing settings and ownership" — only an owner makes, changes, deactivates
or reactivates an owner, or issues and revokes an owner's tokens. A caller the service cannot place
(no member behind it: the `custops tenant` command, the demo seed) is trusted, as every RPC caller
is (docs/access.md).
"""
from __future__ import annotations

from custops.errors import Conflict, Forbidden

OWNER = "owner"
MANAGERS = frozenset({"owner", "admin"})


def check_may_manage(actor_role: str | None, target_role: str, new_role: str | None = None) -> None:
    """Forbidden unless `actor_role` may manage a member who has `target_role` (and give them
    `new_role`). `actor_role` None: a trusted caller with no member behind it."""
    if actor_role is None or actor_role == OWNER:
        return
    if actor_role not in MANAGERS:
        raise Forbidden(f"the role '{actor_role}' does not manage members")
    if OWNER in (target_role, new_role):
        raise Forbidden("only an owner makes or changes owners")


def check_an_owner_remains(active_owner_ids: set, member_id, role: str, active: bool) -> None:
    """Conflict when the member, once its role is `role` and its state `active`, would leave the
    tenant without an active owner."""
    remaining = set(active_owner_ids) - {member_id}
    if role == OWNER and active:
        remaining.add(member_id)
    if not remaining:
        raise Conflict("the tenant's last active owner cannot be demoted or deactivated; "
                       "make another member owner first",
                       [{"field": "role" if active else "member_id", "message": "the last active owner"}])
