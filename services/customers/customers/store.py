"""Reads and writes on the customers service's tables, inside the caller's session.

The entrypoints are thin wiring over these; `seed_demo_tenant` goes through the same create paths
as the RPC commands, so demo data writes the same rows and outbox events. Every query is scoped
by `tenant_id`.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from custops import outbox
from custops.contracts.customers import (ContactArchived, ContactCreated, CustomerCreated, CustomerUpdated,
                                         TenantCreated, TenantUpdated)
from custops.errors import Conflict, InvalidInput, NotFound
from customers import domains, tokens
from customers.commands import CreateContact, CreateCustomer, CreateMember, UpdateCustomer, UpdateTenantSettings
from customers.models import api_tokens, contacts, customer_domains, customers, members, tenants


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- shapes (JSON-able dicts returned over RPC) ---

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _str(value) -> str | None:
    return str(value) if value is not None else None


def member_shape(row) -> dict:
    return {"id": str(row["id"]), "email": row["email"], "name": row["name"], "role": row["role"],
            "customer_id": _str(row["customer_id"]), "created_at": _iso(row["created_at"])}


def token_shape(row) -> dict:
    return {"id": str(row["id"]), "member_id": str(row["member_id"]), "label": row["label"],
            "prefix": row["prefix"], "created_at": _iso(row["created_at"]),
            "revoked_at": _iso(row["revoked_at"])}


def customer_shape(row, domain_names: list[str]) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "tier": row["tier"], "domains": domain_names,
            "owner_id": _str(row["owner_id"]), "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"])}


def contact_shape(row) -> dict:
    return {"id": str(row["id"]), "customer_id": str(row["customer_id"]), "name": row["name"],
            "email": row["email"], "phone": row["phone"], "portal_access": row["portal_access"],
            "created_at": _iso(row["created_at"]), "archived_at": _iso(row["archived_at"])}


def tenant_shape(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "timezone": row["timezone"],
            "created_at": _iso(row["created_at"])}


# --- tenants, members, tokens ---

def create_tenant(session: Session, name: str, owner_email: str, owner_name: str | None,
                  demo: bool = False, timezone_name: str = "UTC") -> dict:
    """A tenant, its owner and a first token for the owner: `{tenant_id, member_id, token}`.
    `tenant.created` (with the tenant's settings) is told in the same transaction."""
    tenant_id = uuid.uuid4()
    session.execute(insert(tenants).values(id=tenant_id, name=name, demo=demo, timezone=timezone_name,
                                           created_at=now()))
    owner = create_member(session, tenant_id, CreateMember(
        email=owner_email, name=owner_name or owner_email.partition("@")[0], role="owner"))
    issued = issue_token(session, tenant_id, uuid.UUID(owner["id"]), "initial")
    outbox.add(session, tenant_id, TenantCreated(tenant_id=tenant_id, name=name, timezone=timezone_name))
    return {"tenant_id": str(tenant_id), "member_id": owner["id"], "token": issued["token"]}


def load_tenant(session: Session, tenant_id: uuid.UUID, for_update: bool = False) -> dict:
    stmt = select(tenants).where(tenants.c.id == tenant_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"tenant {tenant_id} not found")
    return dict(row)


def update_tenant_settings(session: Session, tenant_id: uuid.UUID, cmd: UpdateTenantSettings) -> dict:
    """Change the tenant's name and/or timezone; `tenant.updated` carries the full settings (so a
    consumer can upsert them whatever it saw before) and the changes. Nothing changed: no event."""
    current = load_tenant(session, tenant_id, for_update=True)
    changes = {field: value for field, value in cmd.changes().items() if current[field] != value}
    if not changes:
        return tenant_shape(current)
    session.execute(update(tenants).where(tenants.c.id == tenant_id).values(**changes))
    updated = {**current, **changes}
    outbox.add(session, tenant_id, TenantUpdated(
        tenant_id=tenant_id, name=updated["name"], timezone=updated["timezone"], changes=changes))
    return tenant_shape(updated)


def require_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    if session.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
        raise NotFound(f"tenant {tenant_id} not found")


def create_member(session: Session, tenant_id: uuid.UUID, cmd: CreateMember) -> dict:
    require_tenant(session, tenant_id)
    if cmd.customer_id is not None:
        load_customer(session, tenant_id, cmd.customer_id, missing=InvalidInput(
            "unknown customer", [{"field": "customer_id", "message": "no such customer in this tenant"}]))
    taken = session.execute(select(members.c.id).where(
        members.c.tenant_id == tenant_id, members.c.email == cmd.email)).first()
    if taken:
        raise Conflict(f"a member with email {cmd.email} already exists",
                       [{"field": "email", "message": "already a member of this tenant"}])
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "email": cmd.email, "name": cmd.name,
           "role": cmd.role, "customer_id": cmd.customer_id, "created_at": now()}
    session.execute(insert(members).values(**row))
    return member_shape(row)


def load_member(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, missing=None) -> dict:
    row = session.execute(select(members).where(
        members.c.tenant_id == tenant_id, members.c.id == member_id)).mappings().first()
    if row is None:
        raise missing or NotFound(f"member {member_id} not found")
    return dict(row)


def issue_token(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, label: str) -> dict:
    load_member(session, tenant_id, member_id)
    issued = tokens.generate()
    token_id = uuid.uuid4()
    session.execute(insert(api_tokens).values(
        id=token_id, tenant_id=tenant_id, member_id=member_id, label=label, prefix=issued.prefix,
        token_hash=issued.token_hash, created_at=now()))
    return {"token": issued.token, "token_id": str(token_id), "prefix": issued.prefix}


def revoke_token(session: Session, tenant_id: uuid.UUID, token_id: uuid.UUID) -> dict:
    row = session.execute(select(api_tokens).where(
        api_tokens.c.tenant_id == tenant_id, api_tokens.c.id == token_id).with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"token {token_id} not found")
    row = dict(row)
    if row["revoked_at"] is None:  # revoking twice keeps the first revocation time
        row["revoked_at"] = now()
        session.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=row["revoked_at"]))
    return token_shape(row)


def authenticate(session: Session, token) -> dict | None:
    if not tokens.well_formed(token):
        return None
    row = session.execute(
        select(members.c.tenant_id, members.c.id, members.c.role, members.c.customer_id, members.c.email)
        .join(api_tokens, api_tokens.c.member_id == members.c.id)
        .where(api_tokens.c.token_hash == tokens.hash_token(token), api_tokens.c.revoked_at.is_(None))
    ).mappings().first()
    if row is None:
        return None
    return {"tenant_id": str(row["tenant_id"]), "member_id": str(row["id"]), "role": row["role"],
            "customer_id": _str(row["customer_id"]), "email": row["email"]}


# --- customers ---

def load_customer(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, for_update=False,
                  missing=None) -> dict:
    stmt = select(customers).where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise missing or NotFound(f"customer {customer_id} not found")
    return dict(row)


def domains_of(session: Session, tenant_id: uuid.UUID, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {cid: [] for cid in customer_ids}
    if customer_ids:
        rows = session.execute(
            select(customer_domains.c.customer_id, customer_domains.c.domain)
            .where(customer_domains.c.tenant_id == tenant_id, customer_domains.c.customer_id.in_(customer_ids))
            .order_by(customer_domains.c.domain))
        for customer_id, domain in rows:
            found[customer_id].append(domain)
    return found


def _check_owner(session: Session, tenant_id: uuid.UUID, owner_id: uuid.UUID | None) -> None:
    if owner_id is None:
        return
    unknown = InvalidInput("unknown owner", [{"field": "owner_id", "message": "no such member in this tenant"}])
    owner = load_member(session, tenant_id, owner_id, missing=unknown)
    if owner["role"] == "portal":
        raise InvalidInput("a portal user cannot own a customer",
                           [{"field": "owner_id", "message": "must be a team member, not a portal user"}])


def _claim_domains(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, names: list[str]) -> None:
    """Give `names` to the customer; Conflict when another customer of the tenant has any of them.

    (A concurrent claim that slips past the check hits the primary key: the caller maps that.)
    """
    if not names:
        return
    taken = session.execute(
        select(customer_domains.c.domain).where(
            customer_domains.c.tenant_id == tenant_id, customer_domains.c.domain.in_(names),
            customer_domains.c.customer_id != customer_id).order_by(customer_domains.c.domain)).scalars().all()
    if taken:
        raise Conflict(f"domain already belongs to another customer: {', '.join(taken)}",
                       [{"field": "domains", "message": f"{d} already belongs to another customer"} for d in taken])
    session.execute(insert(customer_domains), [
        {"tenant_id": tenant_id, "domain": name, "customer_id": customer_id} for name in names])


def create_customer(session: Session, tenant_id: uuid.UUID, cmd: CreateCustomer) -> dict:
    require_tenant(session, tenant_id)
    _check_owner(session, tenant_id, cmd.owner_id)
    created = now()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "tier": cmd.tier,
           "owner_id": cmd.owner_id, "created_at": created, "updated_at": created}
    session.execute(insert(customers).values(**row))
    _claim_domains(session, tenant_id, row["id"], cmd.domains)
    outbox.add(session, tenant_id, CustomerCreated(
        customer_id=row["id"], name=cmd.name, tier=cmd.tier, domains=cmd.domains, owner_id=cmd.owner_id))
    return customer_shape(row, cmd.domains)


def update_customer(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, cmd: UpdateCustomer) -> dict:
    current = load_customer(session, tenant_id, customer_id, for_update=True)
    current_domains = domains_of(session, tenant_id, [customer_id])[customer_id]
    before = {**current, "domains": current_domains}
    changes = {field: value for field, value in cmd.changes().items() if before[field] != value}
    if not changes:
        return customer_shape(current, current_domains)
    if "owner_id" in changes:
        _check_owner(session, tenant_id, changes["owner_id"])
    if "domains" in changes:
        session.execute(delete(customer_domains).where(
            customer_domains.c.tenant_id == tenant_id, customer_domains.c.customer_id == customer_id))
        _claim_domains(session, tenant_id, customer_id, changes["domains"])
    row_changes = {k: v for k, v in changes.items() if k != "domains"}
    updated = {**current, **row_changes, "updated_at": now()}
    session.execute(update(customers).where(customers.c.id == customer_id)
                    .values(**row_changes, updated_at=updated["updated_at"]))
    outbox.add(session, tenant_id, CustomerUpdated(
        customer_id=customer_id,
        changes={k: str(v) if isinstance(v, uuid.UUID) else v for k, v in changes.items()}))
    return customer_shape(updated, changes.get("domains", current_domains))


# --- contacts ---

def create_contact(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, cmd: CreateContact) -> dict:
    load_customer(session, tenant_id, customer_id)
    taken = session.execute(select(contacts.c.customer_id, contacts.c.archived_at).where(
        contacts.c.tenant_id == tenant_id, contacts.c.email == cmd.email)).first()
    if taken:
        where = "an archived contact" if taken.archived_at else "a contact"
        raise Conflict(f"{where} with email {cmd.email} already exists",
                       [{"field": "email", "message": f"already {where} in this tenant"}])
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "customer_id": customer_id, "name": cmd.name,
           "email": cmd.email, "phone": cmd.phone, "portal_access": cmd.portal_access, "created_at": now(),
           "archived_at": None}
    session.execute(insert(contacts).values(**row))
    outbox.add(session, tenant_id, ContactCreated(
        contact_id=row["id"], customer_id=customer_id, name=cmd.name, email=cmd.email))
    return contact_shape(row)


def list_contacts(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID,
                  include_archived: bool = False) -> dict:
    """A customer's contacts, oldest first, as one page (a customer has few): `{items, next_cursor,
    total}`. Archived contacts only when asked for."""
    load_customer(session, tenant_id, customer_id)
    stmt = select(contacts).where(contacts.c.tenant_id == tenant_id, contacts.c.customer_id == customer_id)
    if not include_archived:
        stmt = stmt.where(contacts.c.archived_at.is_(None))
    rows = session.execute(stmt.order_by(contacts.c.created_at, contacts.c.id)).mappings().all()
    return {"items": [contact_shape(r) for r in rows], "next_cursor": None, "total": len(rows)}


def archive_contact(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID,
                    contact_id: uuid.UUID) -> dict:
    """Archive a contact of the customer (idempotent: archiving again keeps the first time and
    tells nothing new). Its address stays taken: a person is one contact, archived or not."""
    load_customer(session, tenant_id, customer_id)
    row = session.execute(select(contacts).where(
        contacts.c.tenant_id == tenant_id, contacts.c.customer_id == customer_id, contacts.c.id == contact_id)
        .with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"contact {contact_id} not found")
    row = dict(row)
    if row["archived_at"] is None:
        row["archived_at"] = now()
        session.execute(update(contacts).where(contacts.c.id == contact_id).values(archived_at=row["archived_at"]))
        outbox.add(session, tenant_id, ContactArchived(
            contact_id=contact_id, customer_id=customer_id, name=row["name"], email=row["email"],
            archived_at=row["archived_at"]))
    return contact_shape(row)


def match_sender(session: Session, tenant_id: uuid.UUID, sender: str) -> dict | None:
    email = domains.sender_email(sender)
    if email is None:
        return None
    # an archived contact's mail still belongs to their company, through its domain below
    contact = session.execute(select(contacts.c.id, contacts.c.customer_id).where(
        contacts.c.tenant_id == tenant_id, contacts.c.email == email, contacts.c.archived_at.is_(None))).first()
    if contact:
        return {"customer_id": str(contact.customer_id), "contact_id": str(contact.id)}
    candidates = domains.candidate_domains(email)
    owned = dict(session.execute(select(customer_domains.c.domain, customer_domains.c.customer_id).where(
        customer_domains.c.tenant_id == tenant_id, customer_domains.c.domain.in_(candidates))).all())
    customer_id = domains.most_specific(owned, candidates)
    return {"customer_id": str(customer_id), "contact_id": None} if customer_id else None
