"""What the tickets service asks the customers service (it asks, never tells: DESIGN §2).

Every id a ticket command receives that the customers service owns (customer, contact, member) is
checked here, in the caller's tenant (a member against the copy its events keep, `member_copies`;
the rest over RPC); an unknown or foreign id is an `InvalidInput` naming the field.
`ServiceUnavailable` / `ServiceTimeout` propagate: the caller sees a 503/504, not a 4xx.
"""
from __future__ import annotations

from custops.errors import InvalidInput, NotFound
from tickets import member_copies

# members who can work tickets (portal users and read-only members cannot)
ASSIGNABLE_ROLES = ("owner", "admin", "member", "contractor")


def customer(rpc_client, tenant_id, customer_id, field: str = "customer_id") -> dict:
    """The customer (`{id, name, tier, ...}`) of this tenant."""
    try:
        return rpc_client.call("customers", "get_customer", str(tenant_id), str(customer_id))
    except NotFound:
        raise _unknown_customer(field) from None


def _unknown_customer(field: str) -> InvalidInput:
    return InvalidInput("unknown customer", [{"field": field, "message": "no such customer in this tenant"}])


def check_contact(rpc_client, tenant_id, customer_id, contact_id, field: str = "contact_id") -> None:
    """The contact exists and belongs to this customer (itself one of this tenant)."""
    try:
        contacts = rpc_client.call("customers", "list_contacts", str(tenant_id), str(customer_id))["items"]
    except NotFound:
        raise _unknown_customer("customer_id") from None
    if str(contact_id) not in {c["id"] for c in contacts}:
        raise InvalidInput("unknown contact", [{"field": field, "message": "no such contact of this customer"}])


def check_member(rpc_client, db, tenant_id, member_id, field: str = "assignee_id",
                 copied: member_copies.Member | None = None) -> None:
    """An active team member of this tenant who can work tickets. Read from the member copy
    (`member_copies`; `copied`: what the caller read of it in its own session); one not copied is
    asked of the customers service and its answer copied."""
    if copied is None:
        with db.read() as session:
            copied = member_copies.copied(session, tenant_id, member_id)
    if copied is None:
        try:
            answer = rpc_client.call("customers", "get_member", str(tenant_id), str(member_id))
        except NotFound:
            answer = None
        if answer is not None:
            copied = member_copies.Member(answer["role"], answer["active"])
            with db.transaction() as session:
                member_copies.remember_asked(session, tenant_id, member_id, copied)
    if copied is None or copied.role not in ASSIGNABLE_ROLES:
        raise InvalidInput("unknown member", [{"field": field, "message": "no such team member in this tenant"}])
    if not copied.active:
        raise InvalidInput("member deactivated", [{"field": field, "message": "this team member is deactivated"}])


def check_members(rpc_client, db, tenant_id, member_ids, field: str = "member_ids") -> None:
    """Each of `member_ids` is an active team member of this tenant who can work tickets: checked
    against the copy in one statement; only those it does not hold are asked of the customers
    service, one by one, and copied (a tenant's member list is paged: asking for it once saw only
    its newest page)."""
    if not member_ids:
        return
    with db.read() as session:
        copies = member_copies.copied_many(session, tenant_id, member_ids)
    for member_id in member_ids:
        check_member(rpc_client, db, tenant_id, member_id, field, copied=copies.get(member_id))
