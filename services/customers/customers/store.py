"""Reads and writes of the customer directory — customers and contacts — inside the caller's session
(tenants, members and tokens: `customers.access_store`).

The entrypoints are thin wiring over these; `seed_demo_tenant` goes through the same create paths
as the RPC commands, so demo data writes the same rows and outbox events. Every query is scoped
by `tenant_id`.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from custops import outbox
from custops.contracts.customers import ContactArchived, ContactCreated, CustomerCreated, CustomerUpdated
from custops.errors import Conflict, InvalidInput, NotFound
from customers import domains, portal_store, profile
from customers.access_store import load_member, require_tenant
from customers.commands import CreateContact, CreateCustomer, UpdateCustomer
from customers.models import contacts, customer_domains, customers


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- shapes (JSON-able dicts returned over RPC) ---

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _str(value) -> str | None:
    return str(value) if value is not None else None


def customer_shape(row, domain_names: list[str]) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "tier": row["tier"], "domains": domain_names,
            "owner_id": _str(row["owner_id"]), "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
            # the work plan's profile (`customers.profile`)
            "lifecycle_stage": row.get("lifecycle_stage") or "onboarding",
            "lifecycle_changed_at": _iso(row.get("lifecycle_changed_at")),
            "start_date": _iso(row.get("start_date")), "renewal_date": _iso(row.get("renewal_date")),
            "exec_sponsor_contact_id": _str(row.get("exec_sponsor_contact_id")),
            "custom_fields": dict(row.get("custom_fields") or {}),
            # the latest satisfaction scores its contacts gave (`work_plan.forms_store`)
            "latest_csat": row.get("latest_csat"), "latest_nps": row.get("latest_nps"),
            "latest_score_at": _iso(row.get("latest_score_at"))}


def contact_shape(row) -> dict:
    return {"id": str(row["id"]), "customer_id": str(row["customer_id"]), "name": row["name"],
            "email": row["email"], "phone": row["phone"], "portal_access": row["portal_access"],
            "created_at": _iso(row["created_at"]), "archived_at": _iso(row["archived_at"])}


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
    values = profile.merged_values(session, tenant_id, {}, cmd.custom_fields, creating=True)
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "tier": cmd.tier,
           "owner_id": cmd.owner_id, "created_at": created, "updated_at": created,
           "lifecycle_stage": cmd.lifecycle_stage, "lifecycle_changed_at": created, "start_date": cmd.start_date,
           "renewal_date": cmd.renewal_date, "exec_sponsor_contact_id": None, "custom_fields": values}
    session.execute(insert(customers).values(**row))
    _claim_domains(session, tenant_id, row["id"], cmd.domains)
    outbox.add(session, tenant_id, CustomerCreated(
        customer_id=row["id"], name=cmd.name, tier=cmd.tier, domains=cmd.domains, owner_id=cmd.owner_id))
    profile.record_lifecycle(session, tenant_id, row["id"], cmd.lifecycle_stage, None, created)
    return customer_shape(row, cmd.domains)


def update_customer(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, cmd: UpdateCustomer) -> dict:
    current = load_customer(session, tenant_id, customer_id, for_update=True)
    current_domains = domains_of(session, tenant_id, [customer_id])[customer_id]
    before = {**current, "domains": current_domains}
    given = cmd.changes()
    nulls = [f for f in ("lifecycle_stage", "custom_fields") if f in given and given[f] is None]
    if nulls:
        raise InvalidInput("invalid customer", [{"field": f, "message": "must not be null"} for f in nulls])
    if "custom_fields" in given:
        given["custom_fields"] = profile.merged_values(session, tenant_id, current["custom_fields"],
                                                       given["custom_fields"])
    changes = {field: value for field, value in given.items() if before[field] != value}
    if not changes:
        return customer_shape(current, current_domains)
    if "exec_sponsor_contact_id" in changes:
        profile.check_exec_sponsor(session, tenant_id, customer_id, changes["exec_sponsor_contact_id"])
    if "owner_id" in changes:
        _check_owner(session, tenant_id, changes["owner_id"])
    if "domains" in changes:
        session.execute(delete(customer_domains).where(
            customer_domains.c.tenant_id == tenant_id, customer_domains.c.customer_id == customer_id))
        _claim_domains(session, tenant_id, customer_id, changes["domains"])
    row_changes = {k: v for k, v in changes.items() if k != "domains"}
    updated = {**current, **row_changes, "updated_at": now()}
    if "lifecycle_stage" in changes:
        updated["lifecycle_changed_at"] = row_changes["lifecycle_changed_at"] = updated["updated_at"]
    session.execute(update(customers).where(customers.c.id == customer_id)
                    .values(**row_changes, updated_at=updated["updated_at"]))
    outbox.add(session, tenant_id, CustomerUpdated(
        customer_id=customer_id,
        changes={k: str(v) if isinstance(v, (uuid.UUID, date)) else v for k, v in changes.items()}))
    shape = customer_shape(updated, changes.get("domains", current_domains))
    if "lifecycle_stage" in changes:
        profile.record_lifecycle(session, tenant_id, customer_id, changes["lifecycle_stage"],
                                 current["lifecycle_stage"], updated["updated_at"])
    if "start_date" in changes:  # every onboarding plan of the customer follows its Day 0
        from customers.work_plan import templates_store

        shape["replanned"] = templates_store.replan_customer(session, tenant_id, customer_id, changes["start_date"])
    return shape


# --- contacts ---

def create_contact(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, cmd: CreateContact,
                   contact_id: uuid.UUID | None = None) -> dict:
    """`contact_id`: the id another service already gave the contact (a mail sender, `mail_contacts`)."""
    load_customer(session, tenant_id, customer_id)
    taken = session.execute(select(contacts.c.customer_id, contacts.c.archived_at).where(
        contacts.c.tenant_id == tenant_id, contacts.c.email == cmd.email)).first()
    if taken:
        where = "an archived contact" if taken.archived_at else "a contact"
        raise Conflict(f"{where} with email {cmd.email} already exists",
                       [{"field": "email", "message": f"already {where} in this tenant"}])
    row = {"id": contact_id or uuid.uuid4(), "tenant_id": tenant_id, "customer_id": customer_id, "name": cmd.name,
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
    portal_store.withdraw(session, tenant_id, row)  # an archived contact's portal user stops at once
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
