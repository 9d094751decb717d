"""Account teams: which members work on which customer, and so which customers a scoped member sees.

A member's scope (`scope_of`) is the customers they own (`customers.owner_id`) and those whose account
team they are on. The gateway limits members, contractors and read-only users to it (`gateway.scope`);
`internal_access` on an assignment lets a contractor see that customer's internal notes and timeline
entries. Every change is told (`customer.team_changed`) so gateways drop the member's cached scope.
"""
from __future__ import annotations

import uuid

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from custops import outbox
from custops.contracts.customers import CustomerTeamChanged
from custops.errors import InvalidInput
from customers.access_store import load_member
from customers.models import account_team, customers
from customers.store import _iso, load_customer, now

# roles whose access an account team decides (others see the whole tenant, or a portal user their company)
SCOPED_ROLES = ("member", "contractor", "read_only")


def assignment_shape(row) -> dict:
    return {"member_id": str(row["member_id"]), "internal_access": row["internal_access"],
            "added_at": _iso(row["added_at"])}


def team_shape(customer: dict, rows) -> dict:
    return {"customer_id": str(customer["id"]),
            "owner_id": str(customer["owner_id"]) if customer["owner_id"] else None,
            "members": [assignment_shape(r) for r in rows]}


def get_team(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> dict:
    """`{customer_id, owner_id, members: [{member_id, internal_access, added_at}]}`, oldest first."""
    customer = load_customer(session, tenant_id, customer_id)
    rows = session.execute(select(account_team).where(
        account_team.c.tenant_id == tenant_id, account_team.c.customer_id == customer_id)
        .order_by(account_team.c.added_at, account_team.c.member_id)).mappings().all()
    return team_shape(customer, rows)


def put_member(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, member_id: uuid.UUID,
               internal_access: bool) -> dict:
    """Put the member on the customer's team (or change their `internal_access`); the team after it.
    Putting the same assignment again changes and tells nothing."""
    load_customer(session, tenant_id, customer_id, for_update=True)  # one team change per customer at a time
    member = load_member(session, tenant_id, member_id, missing=InvalidInput(
        "unknown member", [{"field": "member_id", "message": "no such member in this tenant"}]))
    if member["role"] == "portal":
        raise InvalidInput("a portal user cannot be on an account team",
                           [{"field": "member_id", "message": "must be a team member, not a portal user"}])
    current = session.execute(select(account_team.c.internal_access).where(
        account_team.c.customer_id == customer_id, account_team.c.member_id == member_id)).first()
    if current is None:
        session.execute(insert(account_team).values(customer_id=customer_id, member_id=member_id, tenant_id=tenant_id,
                                                    internal_access=internal_access, added_at=now()))
        change = "added"
    elif current.internal_access != internal_access:
        session.execute(update(account_team).where(
            account_team.c.customer_id == customer_id, account_team.c.member_id == member_id)
            .values(internal_access=internal_access))
        change = "updated"
    else:
        change = None
    if change:
        outbox.add(session, tenant_id, CustomerTeamChanged(
            customer_id=customer_id, member_id=member_id, change=change, internal_access=internal_access))
    return get_team(session, tenant_id, customer_id)


def remove_member(session: Session, tenant_id: uuid.UUID, customer_id: uuid.UUID, member_id: uuid.UUID) -> dict:
    """Take the member off the customer's team (not on it: nothing changes); the team after it."""
    load_customer(session, tenant_id, customer_id, for_update=True)
    removed = session.execute(delete(account_team).where(
        account_team.c.tenant_id == tenant_id, account_team.c.customer_id == customer_id,
        account_team.c.member_id == member_id)).rowcount
    if removed:
        outbox.add(session, tenant_id, CustomerTeamChanged(
            customer_id=customer_id, member_id=member_id, change="removed", internal_access=False))
    return get_team(session, tenant_id, customer_id)


def scope_of(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> dict:
    """`{customer_ids, internal_customer_ids}`, sorted: the customers the member owns or is on the team of,
    and those of them whose internal notes and timeline entries their assignment opens to them."""
    owned = session.execute(select(customers.c.id).where(
        customers.c.tenant_id == tenant_id, customers.c.owner_id == member_id)).scalars().all()
    assigned = session.execute(select(account_team.c.customer_id, account_team.c.internal_access).where(
        account_team.c.tenant_id == tenant_id, account_team.c.member_id == member_id)).all()
    return {"customer_ids": sorted({str(c) for c in owned} | {str(r.customer_id) for r in assigned}),
            "internal_customer_ids": sorted(str(r.customer_id) for r in assigned if r.internal_access)}
