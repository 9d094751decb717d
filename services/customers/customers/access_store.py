"""Reads and writes of the access domain — tenants, members, API tokens — inside the caller's session.

Every change is told in the same transaction (`tenant.*`, `member.*`, `token.created`,
`token.revoked`): the audit log (`customers.audit`) takes them all, gateways take
`token.revoked`, `member.deactivated` and `member.role_changed` to drop cached logins. The actor and
the request it came from are on the envelope (`custops.caller`), so an audit record needs nothing
more. Not told: a token's last use (`record_use`), bookkeeping rather than a change anyone made.

Ownership changes of a tenant are serialised on its row (`FOR UPDATE`), so two owners demoting each
other at once cannot leave it without one. Every query is scoped by `tenant_id`.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from custops import caller, outbox, pagination
from custops.contracts.customers import (MemberCreated, MemberDeactivated, MemberReactivated, MemberRoleChanged,
                                         MemberUpdated, TenantCreated, TenantUpdated, TokenCreated, TokenRevoked)
from custops.errors import Conflict, Forbidden, InvalidInput, NotFound
from custops.shapes import utc_now as now
from customers import membership, tokens
from customers.commands import CreateMember, IssueToken, MemberFilters, UpdateMember, UpdateTenantSettings
from customers.models import api_tokens, contacts, members, tenants

# a token's last use is written at most this often (authenticate is read-only otherwise)
LAST_USED_RESOLUTION = timedelta(minutes=1)
# tokens a member may hold at once (not revoked, not expired): a bound, not a workflow
MAX_ACTIVE_TOKENS = 50


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _str(value) -> str | None:
    return str(value) if value is not None else None


# --- shapes (JSON-able dicts returned over RPC) ---

def tenant_shape(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "timezone": row["timezone"], "locale": row["locale"],
            "week_start": row["week_start"], "created_at": _iso(row["created_at"])}


def member_shape(row) -> dict:
    return {"id": str(row["id"]), "email": row["email"], "name": row["name"], "role": row["role"],
            "customer_id": _str(row["customer_id"]), "timezone": row["timezone"],
            "active": row["deactivated_at"] is None, "deactivated_at": _iso(row["deactivated_at"]),
            "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"])}


def token_active(row, at: datetime) -> bool:
    return row["revoked_at"] is None and (row["expires_at"] is None or row["expires_at"] > at)


def token_shape(row) -> dict:
    """A token for display: never the token or its hash."""
    return {"id": str(row["id"]), "member_id": str(row["member_id"]), "name": row["label"], "label": row["label"],
            "prefix": row["prefix"], "read_only": row["read_only"], "created_at": _iso(row["created_at"]),
            "last_used_at": _iso(row["last_used_at"]), "expires_at": _iso(row["expires_at"]),
            "revoked_at": _iso(row["revoked_at"]), "active": token_active(row, now())}


# --- the actor ---

def actor_role(session: Session, tenant_id: uuid.UUID) -> str | None:
    """The role of the member making this change, None for a trusted caller with no member behind
    it (the `custops tenant` command, the demo seed). A contact (portal user), a member of another
    tenant or a deactivated member manages nothing."""
    actor = caller.current_actor()
    if actor.type == "system":
        return None
    if actor.type != "member":
        raise Forbidden("only team members manage members and their tokens")
    row = session.execute(select(members.c.role, members.c.deactivated_at).where(
        members.c.tenant_id == tenant_id, members.c.id == actor.id)).first()
    if row is None or row.deactivated_at is not None:
        raise Forbidden("the acting member is not an active member of this tenant")
    return row.role


def _actor_is(member_id: uuid.UUID) -> bool:
    actor = caller.current_actor()
    return actor.type == "member" and actor.id == member_id


def _check_may_manage(session, tenant_id, target: dict, new_role: str | None = None) -> None:
    membership.check_may_manage(actor_role(session, tenant_id), target["role"], new_role)


# --- tenants ---

def create_tenant(session: Session, name: str, owner_email: str, owner_name: str | None,
                  demo: bool = False, timezone_name: str = "UTC") -> dict:
    """A tenant, its owner and a first token for the owner: `{tenant_id, member_id, token}`.
    `tenant.created` (with the tenant's settings) is told in the same transaction."""
    tenant_id = uuid.uuid4()
    session.execute(insert(tenants).values(id=tenant_id, name=name, demo=demo, timezone=timezone_name,
                                           created_at=now()))
    outbox.add(session, tenant_id, TenantCreated(tenant_id=tenant_id, name=name, timezone=timezone_name))
    owner = create_member(session, tenant_id, CreateMember(
        email=owner_email, name=owner_name or owner_email.partition("@")[0], role="owner"), checked=False)
    issued = issue_token(session, tenant_id, uuid.UUID(owner["id"]), IssueToken(label="initial"), checked=False)
    return {"tenant_id": str(tenant_id), "member_id": owner["id"], "token": issued["token"],
            "token_id": issued["token_id"]}


def load_tenant(session: Session, tenant_id: uuid.UUID, for_update: bool = False) -> dict:
    stmt = select(tenants).where(tenants.c.id == tenant_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return dict(row)


def update_tenant_settings(session: Session, tenant_id: uuid.UUID, cmd: UpdateTenantSettings) -> dict:
    """Change the tenant's name, timezone, locale and/or week start; `tenant.updated` carries the
    full settings (so a consumer can upsert them whatever it saw before) and the changes. Nothing
    changed: no event."""
    current = load_tenant(session, tenant_id, for_update=True)
    changes = {field: value for field, value in cmd.changes().items() if current[field] != value}
    if not changes:
        return tenant_shape(current)
    session.execute(update(tenants).where(tenants.c.id == tenant_id).values(**changes))
    updated = {**current, **changes}
    outbox.add(session, tenant_id, TenantUpdated(
        tenant_id=tenant_id, name=updated["name"], timezone=updated["timezone"], changes=changes,
        locale=updated["locale"], week_start=updated["week_start"]))
    return tenant_shape(updated)


def require_tenant(session: Session, tenant_id: uuid.UUID, for_update: bool = False) -> None:
    stmt = select(tenants.c.id).where(tenants.c.id == tenant_id)
    if session.execute(stmt.with_for_update() if for_update else stmt).first() is None:
        raise NotFound(f"tenant {tenant_id} not found")


# --- members ---

def create_member(session: Session, tenant_id: uuid.UUID, cmd: CreateMember, checked: bool = True) -> dict:
    """A new member. `checked`: the actor must be allowed to add one with that
    role (not for a new tenant's first owner, whom nobody is there to add)."""
    from customers.store import load_customer  # the directory's table: a portal user's company

    require_tenant(session, tenant_id)
    if checked:
        membership.check_may_manage(actor_role(session, tenant_id), cmd.role)
    if cmd.customer_id is not None:
        load_customer(session, tenant_id, cmd.customer_id, missing=InvalidInput(
            "unknown customer", [{"field": "customer_id", "message": "no such customer in this tenant"}]))
    taken = session.execute(select(members.c.id).where(
        members.c.tenant_id == tenant_id, members.c.email == cmd.email)).first()
    if taken:
        raise Conflict(f"a member with email {cmd.email} already exists",
                       [{"field": "email", "message": "already a member of this tenant"}])
    created = now()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "email": cmd.email, "name": cmd.name,
           "role": cmd.role, "customer_id": cmd.customer_id, "timezone": cmd.timezone, "deactivated_at": None,
           "created_at": created, "updated_at": created}
    session.execute(insert(members).values(**row))
    outbox.add(session, tenant_id, MemberCreated(
        member_id=row["id"], email=cmd.email, name=cmd.name, role=cmd.role, customer_id=cmd.customer_id,
        timezone=cmd.timezone))
    return member_shape(row)


def load_member(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, missing=None,
                for_update: bool = False) -> dict:
    stmt = select(members).where(members.c.tenant_id == tenant_id, members.c.id == member_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise missing or NotFound(f"member {member_id} not found")
    return dict(row)


def list_members(session: Session, tenant_id: uuid.UUID, f: MemberFilters, limit: int, cursor: str | None) -> dict:
    """Newest first, in the standard page shape; `total` counts the whole filtered list."""
    where = [members.c.tenant_id == tenant_id]
    if f.role:
        where.append(members.c.role == f.role)
    if f.active is not None:
        where.append(members.c.deactivated_at.is_(None) if f.active else members.c.deactivated_at.is_not(None))
    if f.q:
        where.append(or_(members.c.name.icontains(f.q, autoescape=True),
                         members.c.email.icontains(f.q, autoescape=True)))
    total = session.execute(select(func.count()).select_from(members).where(*where)).scalar_one()
    stmt = pagination.page(select(members).where(*where), members.c.created_at, members.c.id, cursor, limit)
    rows = session.execute(stmt).mappings().all()
    return {**pagination.result(rows, limit, "created_at", member_shape), "total": total}


def _active_owner_ids(session: Session, tenant_id: uuid.UUID) -> set[uuid.UUID]:
    return set(session.execute(select(members.c.id).where(
        members.c.tenant_id == tenant_id, members.c.role == membership.OWNER,
        members.c.deactivated_at.is_(None))).scalars())


def update_member(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, cmd: UpdateMember) -> dict:
    """Change a member's name, timezone and/or role (`member.updated`, `member.role_changed`)."""
    require_tenant(session, tenant_id, for_update=True)  # ownership changes one at a time per tenant
    current = load_member(session, tenant_id, member_id, for_update=True)
    changes = {field: value for field, value in cmd.changes().items() if current[field] != value}
    if not changes:
        return member_shape(current)
    _check_may_manage(session, tenant_id, current, changes.get("role"))
    if "role" in changes:
        if current["role"] == "portal" or changes["role"] == "portal":
            raise InvalidInput("a portal user stays a portal user, and a team member cannot become one",
                               [{"field": "role", "message": "portal users come with portal access"}])
        membership.check_an_owner_remains(_active_owner_ids(session, tenant_id), member_id, changes["role"],
                                          active=current["deactivated_at"] is None)
    updated = {**current, **changes, "updated_at": now()}
    session.execute(update(members).where(members.c.id == member_id).values(**changes,
                                                                              updated_at=updated["updated_at"]))
    if "role" in changes:
        outbox.add(session, tenant_id, MemberRoleChanged(
            member_id=member_id, email=current["email"], previous_role=current["role"], role=changes["role"]))
    profile = {field: value for field, value in changes.items() if field != "role"}
    if profile:
        outbox.add(session, tenant_id, MemberUpdated(
            member_id=member_id, email=current["email"], changes=profile,
            previous={field: current[field] for field in profile}))
    return member_shape(updated)


def deactivate_member(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> dict:
    """Deactivate a member and revoke every token of theirs at once (`member.deactivated` names the
    tokens). Deactivating again changes nothing and tells nothing."""
    require_tenant(session, tenant_id, for_update=True)
    current = load_member(session, tenant_id, member_id, for_update=True)
    if current["deactivated_at"] is not None:
        return member_shape(current)
    _check_may_manage(session, tenant_id, current)
    membership.check_an_owner_remains(_active_owner_ids(session, tenant_id), member_id, current["role"],
                                      active=False)
    at = now()
    revoked = list(session.execute(
        update(api_tokens).where(api_tokens.c.tenant_id == tenant_id, api_tokens.c.member_id == member_id,
                                 api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=at).returning(api_tokens.c.id)).scalars())
    session.execute(update(members).where(members.c.id == member_id).values(deactivated_at=at, updated_at=at))
    outbox.add(session, tenant_id, MemberDeactivated(
        member_id=member_id, email=current["email"], role=current["role"], deactivated_at=at,
        revoked_token_ids=sorted(revoked)))
    return member_shape({**current, "deactivated_at": at, "updated_at": at})


def reactivate_member(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> dict:
    """Let a deactivated member in again; the tokens revoked with the deactivation stay revoked."""
    current = load_member(session, tenant_id, member_id, for_update=True)
    if current["deactivated_at"] is None:
        return member_shape(current)
    _check_may_manage(session, tenant_id, current)
    at = now()
    session.execute(update(members).where(members.c.id == member_id).values(deactivated_at=None, updated_at=at))
    outbox.add(session, tenant_id, MemberReactivated(member_id=member_id, email=current["email"],
                                                     role=current["role"]))
    return member_shape({**current, "deactivated_at": None, "updated_at": at})


def whoami(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> dict:
    """A member with their tenant's id and name (the gateway's `GET /me`)."""
    member = member_shape(load_member(session, tenant_id, member_id))
    tenant = load_tenant(session, tenant_id)
    return {**member, "tenant": {"id": str(tenant["id"]), "name": tenant["name"]}}


# --- tokens ---

def issue_token(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, cmd: IssueToken,
                checked: bool = True) -> dict:
    """A new token of an active member: its display fields and, this once, the token itself.
    Members issue their own; a manager issues anyone's (an owner's only if an owner). `checked`:
    as for `create_member`."""
    member = load_member(session, tenant_id, member_id)
    if checked and not _actor_is(member_id):
        _check_may_manage(session, tenant_id, member)
    if member["deactivated_at"] is not None:
        raise Conflict(f"member {member_id} is deactivated; reactivate them first")
    at = now()
    active = session.execute(select(func.count()).select_from(api_tokens).where(
        api_tokens.c.tenant_id == tenant_id, api_tokens.c.member_id == member_id, api_tokens.c.revoked_at.is_(None),
        or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > at))).scalar_one()
    if active >= MAX_ACTIVE_TOKENS:
        raise Conflict(f"a member holds at most {MAX_ACTIVE_TOKENS} active tokens; revoke one first")
    issued = tokens.generate()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "member_id": member_id, "label": cmd.label,
           "prefix": issued.prefix, "token_hash": issued.token_hash, "created_at": at, "revoked_at": None,
           "expires_at": cmd.expires_at, "read_only": cmd.read_only, "last_used_at": None}
    session.execute(insert(api_tokens).values(**row))
    outbox.add(session, tenant_id, TokenCreated(
        token_id=row["id"], member_id=member_id, name=cmd.label, prefix=issued.prefix, read_only=cmd.read_only,
        expires_at=cmd.expires_at))
    return {**token_shape(row), "token": issued.token, "token_id": str(row["id"])}


def list_tokens(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> dict:
    """A member's tokens (revoked and expired ones too, marked), newest first, as one page: a
    member has few."""
    load_member(session, tenant_id, member_id)
    rows = session.execute(select(api_tokens).where(
        api_tokens.c.tenant_id == tenant_id, api_tokens.c.member_id == member_id)
        .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id.desc())).mappings().all()
    return {"items": [token_shape(r) for r in rows], "next_cursor": None, "total": len(rows)}


def revoke_token(session: Session, tenant_id: uuid.UUID, token_id: uuid.UUID,
                 member_id: uuid.UUID | None = None) -> dict:
    """Revoke a token (`token.revoked`). With `member_id`: only a token of that member (another's is
    not found). Revoking twice keeps the first time and tells nothing new."""
    where = [api_tokens.c.tenant_id == tenant_id, api_tokens.c.id == token_id]
    if member_id is not None:
        where.append(api_tokens.c.member_id == member_id)
    row = session.execute(select(api_tokens).where(*where).with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"token {token_id} not found")
    row = dict(row)
    if not _actor_is(row["member_id"]):
        _check_may_manage(session, tenant_id, load_member(session, tenant_id, row["member_id"]))
    if row["revoked_at"] is None:
        row["revoked_at"] = now()
        session.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=row["revoked_at"]))
        outbox.add(session, tenant_id, TokenRevoked(
            token_id=token_id, member_id=row["member_id"], name=row["label"], prefix=row["prefix"],
            revoked_at=row["revoked_at"]))
    return token_shape(row)


def authenticate(session: Session, token, at: datetime) -> tuple[dict | None, bool]:
    """`(identity, last_use_due)`: who a live token (not revoked, not expired, its member active, a
    portal user's contact still with portal access) belongs to, or None; and whether its last use is
    to be recorded (`record_use`)."""
    if not tokens.well_formed(token):
        return None, False
    row = session.execute(
        select(members.c.tenant_id, members.c.id, members.c.role, members.c.customer_id, members.c.email,
               members.c.contact_id, api_tokens.c.id.label("token_id"), api_tokens.c.read_only, api_tokens.c.expires_at,
               api_tokens.c.last_used_at)
        .join(api_tokens, api_tokens.c.member_id == members.c.id)
        .outerjoin(contacts, contacts.c.id == members.c.contact_id)
        .where(api_tokens.c.token_hash == tokens.hash_token(token), api_tokens.c.revoked_at.is_(None),
               or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > at),
               members.c.deactivated_at.is_(None),
               # a portal user's token works only while their contact has portal access, however the
               # member row came to be active again
               or_(members.c.contact_id.is_(None), and_(contacts.c.portal_access, contacts.c.archived_at.is_(None))))
    ).mappings().first()
    if row is None:
        return None, False
    identity = {"tenant_id": str(row["tenant_id"]), "member_id": str(row["id"]), "role": row["role"],
                "customer_id": _str(row["customer_id"]), "contact_id": _str(row["contact_id"]),
                "email": row["email"], "token_id": str(row["token_id"]),
                "read_only": row["read_only"], "expires_at": _iso(row["expires_at"])}
    due = row["last_used_at"] is None or row["last_used_at"] <= at - LAST_USED_RESOLUTION
    return identity, due


def record_use(session: Session, token_id: uuid.UUID, at: datetime) -> None:
    """Set the token's last use, unless another process did within the resolution meanwhile."""
    session.execute(update(api_tokens).where(
        api_tokens.c.id == token_id,
        or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= at - LAST_USED_RESOLUTION))
        .values(last_used_at=at))
