"""The customer portal's reads and writes, inside the caller's session: invitations of contacts,
their exchange for a portal API token, and withdrawing portal access.

A portal user is a `members` row with role `portal`, `customer_id` the contact's company and
`contact_id` the contact (one per contact), so `authenticate` answers their tenant, role, company
and contact and the gateway's row scoping applies unchanged. Its tokens are ordinary API tokens:
withdrawing access deactivates that member, which revokes them (`member.deactivated`, which
gateways act on within a second).

Every change is told in the same transaction: `contact.portal_invited` (never the link token),
then on the exchange `member.created` / `member.reactivated` and `token.created` with the contact as
actor; `contact.portal_revoked` when access is withdrawn.
"""
from __future__ import annotations

import uuid
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from custops import caller, outbox
from custops.contracts.customers import (ContactPortalInvited, ContactPortalRevoked, MemberCreated,
                                         MemberReactivated)
from custops.errors import Conflict, Gone, InvalidInput, NotFound
from custops.shapes import utc_now as now
from customers import access_store, portal
from customers.tokens import hash_token
from customers.commands import InvitePortalUser, IssueToken
from customers.models import contacts, members, portal_invites

PORTAL_TOKEN_LABEL = "portal"


def _load_contact(session: Session, tenant_id: uuid.UUID, contact_id: uuid.UUID, customer_id=None,
                  for_update: bool = False) -> dict:
    where = [contacts.c.tenant_id == tenant_id, contacts.c.id == contact_id]
    if customer_id is not None:
        where.append(contacts.c.customer_id == customer_id)
    stmt = select(contacts).where(*where)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise NotFound(f"contact {contact_id} not found")
    return dict(row)


def _portal_member(session: Session, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> dict | None:
    row = session.execute(select(members).where(
        members.c.tenant_id == tenant_id, members.c.contact_id == contact_id).with_for_update()).mappings().first()
    return dict(row) if row else None


def invite(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, contact_id: uuid.UUID,
           cmd: InvitePortalUser) -> dict:
    """A one-time invite for a contact with portal access: its id, expiry and, this once, the link
    token (`invite`). Earlier invites of the contact stay valid until used or expired."""
    actor_role = access_store.actor_role(session, tenant_id)  # a portal user invites nobody (403)
    contact = _load_contact(session, tenant_id, contact_id, customer_id)
    if contact["archived_at"] is not None or not contact["portal_access"]:
        raise InvalidInput("this contact has no portal access",
                           [{"field": "portal_access", "message": "give the contact portal access first"}])
    at = now()
    issued = portal.generate()
    actor = caller.current_actor()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "contact_id": contact_id, "token_hash": issued.invite_hash,
           "invited_by": actor.id if actor_role is not None else None, "created_at": at,
           "expires_at": portal.expiry(at, cmd.expires_in_days), "accepted_at": None}
    session.execute(insert(portal_invites).values(**row))
    outbox.add(session, tenant_id, ContactPortalInvited(
        contact_id=contact_id, customer_id=customer_id, invite_id=row["id"], email=contact["email"],
        expires_at=row["expires_at"]))
    return {"id": str(row["id"]), "contact_id": str(contact_id), "customer_id": str(customer_id),
            "email": contact["email"], "expires_at": row["expires_at"].isoformat(), "invite": issued.invite}


def accept(session: Session, invite_token) -> dict:
    """Exchange an invite for a portal API token: `{tenant_id, member_id, contact_id, customer_id,
    token, token_id, ...}`. Unknown → NotFound; used, expired, or the contact's access withdrawn
    since → Gone; the contact's address taken by a team member → Conflict."""
    if not portal.well_formed(invite_token):
        raise NotFound("no such invite")
    row = session.execute(select(portal_invites).where(portal_invites.c.token_hash == hash_token(invite_token))
                          .with_for_update()).mappings().first()
    if row is None:
        raise NotFound("no such invite")
    at = now()
    refused = portal.refusal(row["accepted_at"], row["expires_at"], at)
    if refused:
        raise Gone(refused)
    tenant_id, contact_id = row["tenant_id"], row["contact_id"]
    contact = _load_contact(session, tenant_id, contact_id, for_update=True)
    if contact["archived_at"] is not None or not contact["portal_access"]:
        raise Gone("this contact's portal access was withdrawn")
    found = caller.current()
    acting = caller.contact(contact_id, request_id=getattr(found, "request_id", None), ip=getattr(found, "ip", None),
                            user_agent=getattr(found, "user_agent", None))
    with caller.using(acting):
        member = _become_portal_user(session, tenant_id, contact, at)
        issued = access_store.issue_token(session, tenant_id, member["id"], IssueToken(label=PORTAL_TOKEN_LABEL),
                                          checked=False)
    session.execute(update(portal_invites).where(portal_invites.c.id == row["id"]).values(accepted_at=at))
    return {"tenant_id": str(tenant_id), "member_id": str(member["id"]), "contact_id": str(contact_id),
            "customer_id": str(contact["customer_id"]), "role": "portal", "token": issued["token"],
            "token_id": issued["token_id"], "prefix": issued["prefix"], "expires_at": issued["expires_at"]}


def _become_portal_user(session: Session, tenant_id: uuid.UUID, contact: dict, at) -> dict:
    """The contact's portal user: made on the first exchange, let in again after a withdrawal."""
    member = _portal_member(session, tenant_id, contact["id"])
    if member is not None:
        if member["deactivated_at"] is not None:
            session.execute(update(members).where(members.c.id == member["id"]).values(deactivated_at=None,
                                                                                       updated_at=at))
            outbox.add(session, tenant_id, MemberReactivated(member_id=member["id"], email=member["email"],
                                                             role=member["role"]))
        return member
    taken = session.execute(select(members.c.id).where(
        members.c.tenant_id == tenant_id, members.c.email == contact["email"])).first()
    if taken:
        raise Conflict(f"{contact['email']} is already a member of this tenant; a team member is not a portal user")
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "email": contact["email"], "name": contact["name"],
           "role": "portal", "customer_id": contact["customer_id"], "contact_id": contact["id"], "timezone": None,
           "deactivated_at": None, "created_at": at, "updated_at": at}
    session.execute(insert(members).values(**row))
    outbox.add(session, tenant_id, MemberCreated(
        member_id=row["id"], email=row["email"], name=row["name"], role="portal", customer_id=row["customer_id"],
        timezone=None))
    return row


def withdraw(session: Session, tenant_id: uuid.UUID, contact: dict) -> None:
    """Stop the contact's portal user, if any: deactivated, every token revoked at once
    (`member.deactivated`). Pending invites fail on exchange (the contact has no access)."""
    member = _portal_member(session, tenant_id, contact["id"])
    if member is not None and member["deactivated_at"] is None:
        access_store.deactivate_member(session, tenant_id, member["id"])


def revoke_access(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, contact_id: uuid.UUID) -> dict:
    """Take a contact's portal access away (`contact.portal_revoked`) and stop its portal user.
    Revoking again changes nothing and tells nothing."""
    from customers.store import contact_shape

    access_store.actor_role(session, tenant_id)
    contact = _load_contact(session, tenant_id, contact_id, customer_id, for_update=True)
    if contact["portal_access"]:
        session.execute(update(contacts).where(contacts.c.id == contact_id).values(portal_access=False))
        outbox.add(session, tenant_id, ContactPortalRevoked(contact_id=contact_id, customer_id=customer_id,
                                                            email=contact["email"]))
        contact = {**contact, "portal_access": False}
    withdraw(session, tenant_id, contact)
    return contact_shape(contact)

