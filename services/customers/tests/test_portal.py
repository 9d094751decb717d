"""The customer portal in the real customers service (real RabbitMQ and PostgreSQL): a contact with
portal access is invited by a one-time link token, exchanges it (once, before it expires) for a
portal API token that authenticates as that contact, and loses it when access is withdrawn."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from custops import caller, db, outbox
from custops.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from customers import portal
from customers.models import portal_invites


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@acme.example", "Olive Owner")


def _as(member_id):
    return caller.using(caller.member(member_id))


def _events(type_: str, tenant_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        return list(conn.execute(select(table.c.envelope).where(
            table.c.type == type_, table.c.tenant_id == uuid.UUID(tenant_id)).order_by(table.c.seq)).scalars())


def _company(rpc, tenant, portal_access=True):
    t = tenant["tenant_id"]
    with _as(tenant["member_id"]):
        customer = rpc.call("customers", "create_customer", t, {"name": "Globex", "tier": "smb"})
        contact = rpc.call("customers", "create_contact", t, customer["id"], {
            "name": "Pat Portal", "email": f"pat-{uuid.uuid4().hex[:6]}@globex.example",
            "portal_access": portal_access})
    return customer, contact


def _invite(rpc, tenant, customer, contact, **options):
    with _as(tenant["member_id"]):
        return rpc.call("customers", "invite_portal_user", tenant["tenant_id"], customer["id"], contact["id"], options)


def test_an_invite_is_exchanged_once_for_a_portal_token_of_that_contact(rpc, tenant):
    customer, contact = _company(rpc, tenant)
    invited = _invite(rpc, tenant, customer, contact)
    assert invited["invite"].startswith(portal.SCHEME) and invited["email"] == contact["email"]
    expires = datetime.fromisoformat(invited["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=7)
    # stored hashed: the link token itself is nowhere in the table
    with db.engine_for("customers").connect() as conn:
        stored = conn.execute(select(portal_invites).where(portal_invites.c.id == uuid.UUID(invited["id"]))).one()
    assert stored.token_hash != invited["invite"] and invited["invite"] not in str(tuple(stored))

    accepted = rpc.call("customers", "accept_portal_invite", invited["invite"])
    assert (accepted["tenant_id"], accepted["contact_id"], accepted["customer_id"], accepted["role"]) == (
        tenant["tenant_id"], contact["id"], customer["id"], "portal")
    who = rpc.call("customers", "authenticate", accepted["token"])
    assert (who["role"], who["customer_id"], who["contact_id"], who["member_id"], who["email"]) == (
        "portal", customer["id"], contact["id"], accepted["member_id"], contact["email"])

    with pytest.raises(Gone, match="already used"):
        rpc.call("customers", "accept_portal_invite", invited["invite"])
    # a second invite of the same contact gives a second token of the same portal user
    again = rpc.call("customers", "accept_portal_invite", _invite(rpc, tenant, customer, contact)["invite"])
    assert again["member_id"] == accepted["member_id"] and again["token"] != accepted["token"]

    t = tenant["tenant_id"]
    told = _events("contact.portal_invited", t)
    assert [e["data"]["contact_id"] for e in told] == [contact["id"]] * 2
    assert "invite" not in told[0]["data"] and told[0]["actor"] == {"type": "member", "id": tenant["member_id"]}
    created = [e for e in _events("member.created", t) if e["data"]["role"] == "portal"]
    assert len(created) == 1 and created[0]["actor"] == {"type": "contact", "id": contact["id"]}


def test_unknown_and_expired_invites_are_refused_and_change_nothing(rpc, tenant):
    customer, contact = _company(rpc, tenant)
    for unknown in ("", "csi_short", "cst_" + "a" * 43, portal.generate().invite, None, 42):
        with pytest.raises(NotFound):
            rpc.call("customers", "accept_portal_invite", unknown)
    invited = _invite(rpc, tenant, customer, contact, expires_in_days=1)
    with db.engine_for("customers").begin() as conn:
        conn.execute(update(portal_invites).where(portal_invites.c.id == uuid.UUID(invited["id"]))
                     .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    with pytest.raises(Gone, match="expired"):
        rpc.call("customers", "accept_portal_invite", invited["invite"])
    assert [e for e in _events("member.created", tenant["tenant_id"]) if e["data"]["role"] == "portal"] == []


def test_only_a_team_member_invites_a_contact_that_has_portal_access(rpc, tenant):
    t = tenant["tenant_id"]
    customer, without = _company(rpc, tenant, portal_access=False)
    with pytest.raises(InvalidInput, match="no portal access"):
        _invite(rpc, tenant, customer, without)
    customer2, contact = _company(rpc, tenant)
    for days in (0, 31, "soon"):
        with pytest.raises(InvalidInput):
            _invite(rpc, tenant, customer2, contact, expires_in_days=days)
    with pytest.raises(NotFound):  # a contact of another customer is not found under this one
        _invite(rpc, tenant, customer, contact)
    accepted = rpc.call("customers", "accept_portal_invite", _invite(rpc, tenant, customer2, contact)["invite"])
    with caller.using(caller.contact(accepted["contact_id"])), pytest.raises(Forbidden):
        rpc.call("customers", "invite_portal_user", t, customer2["id"], contact["id"], {})


def test_withdrawing_portal_access_or_archiving_the_contact_stops_the_token(rpc, tenant):
    t = tenant["tenant_id"]
    customer, contact = _company(rpc, tenant)
    pending = _invite(rpc, tenant, customer, contact)
    accepted = rpc.call("customers", "accept_portal_invite", _invite(rpc, tenant, customer, contact)["invite"])
    with _as(tenant["member_id"]):
        revoked = rpc.call("customers", "revoke_portal_access", t, customer["id"], contact["id"])
    assert revoked["portal_access"] is False
    assert rpc.call("customers", "authenticate", accepted["token"]) is None
    with pytest.raises(Gone, match="withdrawn"):  # a pending invite no longer opens the portal
        rpc.call("customers", "accept_portal_invite", pending["invite"])
    deactivated = _events("member.deactivated", t)
    assert [e["data"]["revoked_token_ids"] for e in deactivated] == [[accepted["token_id"]]]
    assert [e["data"]["contact_id"] for e in _events("contact.portal_revoked", t)] == [contact["id"]]
    with _as(tenant["member_id"]):  # again: nothing new told
        rpc.call("customers", "revoke_portal_access", t, customer["id"], contact["id"])
    assert len(_events("contact.portal_revoked", t)) == 1

    other_customer, other = _company(rpc, tenant)
    token = rpc.call("customers", "accept_portal_invite", _invite(rpc, tenant, other_customer, other)["invite"])
    with _as(tenant["member_id"]):
        rpc.call("customers", "archive_contact", t, other_customer["id"], other["id"])
    assert rpc.call("customers", "authenticate", token["token"]) is None
    assert len(_events("member.deactivated", t)) == 2


def test_a_team_members_address_is_not_taken_over_by_a_portal_user(rpc, tenant):
    t = tenant["tenant_id"]
    with _as(tenant["member_id"]):
        customer = rpc.call("customers", "create_customer", t, {"name": "Initech", "tier": "smb"})
        email = f"sam-{uuid.uuid4().hex[:6]}@initech.example"
        rpc.call("customers", "create_member", t, {"email": email, "name": "Sam", "role": "member"})
        contact = rpc.call("customers", "create_contact", t, customer["id"],
                           {"name": "Sam", "email": email, "portal_access": True})
    invited = _invite(rpc, tenant, customer, contact)
    with pytest.raises(Conflict):
        rpc.call("customers", "accept_portal_invite", invited["invite"])
    # refused, so not consumed
    with db.engine_for("customers").connect() as conn:
        assert conn.execute(select(portal_invites.c.accepted_at).where(
            portal_invites.c.id == uuid.UUID(invited["id"]))).scalar() is None


def test_a_portal_token_works_only_while_its_contact_has_portal_access(rpc, tenant):
    """However the portal user's row came to be active again (a manager reactivating it and issuing a
    token by the members API), no token of theirs works while their contact has no portal access."""
    t = tenant["tenant_id"]
    customer, contact = _company(rpc, tenant)
    accepted = rpc.call("customers", "accept_portal_invite", _invite(rpc, tenant, customer, contact)["invite"])
    with _as(tenant["member_id"]):
        rpc.call("customers", "revoke_portal_access", t, customer["id"], contact["id"])
        rpc.call("customers", "reactivate_member", t, accepted["member_id"])
        issued = rpc.call("customers", "issue_token", t, accepted["member_id"], "side door")
    assert rpc.call("customers", "authenticate", issued["token"]) is None
