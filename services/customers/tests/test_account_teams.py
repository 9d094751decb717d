"""Account teams in the real customers service (real RabbitMQ and PostgreSQL): assignment, the
scope it gives a member, the events that tell gateways, and what is refused."""
import uuid

import pytest
from sqlalchemy import select

from custops import caller, db, outbox
from custops.errors import InvalidInput, NotFound


def _events(type_: str, tenant_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        return list(conn.execute(select(table.c.envelope).where(
            table.c.type == type_, table.c.tenant_id == uuid.UUID(tenant_id)).order_by(table.c.seq)).scalars())


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@acme.example", "Olive Owner")


def _member(rpc, tenant, role):
    with caller.using(caller.member(tenant["member_id"])):
        return rpc.call("customers", "create_member", tenant["tenant_id"],
                        {"email": f"{role}-{uuid.uuid4().hex[:6]}@acme.example", "name": f"A {role}", "role": role})


def _customer(rpc, tenant, **fields):
    return rpc.call("customers", "create_customer", tenant["tenant_id"],
                    {"name": f"Co {uuid.uuid4().hex[:6]}", "tier": "smb", **fields})


def test_owned_and_assigned_customers_are_the_scope(rpc, tenant):
    t = tenant["tenant_id"]
    member, contractor = _member(rpc, tenant, "member"), _member(rpc, tenant, "contractor")
    owned = _customer(rpc, tenant, owner_id=member["id"])
    assigned, elsewhere = _customer(rpc, tenant), _customer(rpc, tenant)
    assert rpc.call("customers", "scope_of", t, member["id"]) == {
        "customer_ids": [owned["id"]], "internal_customer_ids": []}

    team = rpc.call("customers", "put_account_team_member", t, assigned["id"], member["id"])
    assert [m["member_id"] for m in team["members"]] == [member["id"]] and team["owner_id"] is None
    rpc.call("customers", "put_account_team_member", t, assigned["id"], contractor["id"], {"internal_access": True})
    assert rpc.call("customers", "scope_of", t, member["id"]) == {
        "customer_ids": sorted([owned["id"], assigned["id"]]), "internal_customer_ids": []}
    assert rpc.call("customers", "scope_of", t, contractor["id"]) == {
        "customer_ids": [assigned["id"]], "internal_customer_ids": [assigned["id"]]}

    # the list filter the gateway passes for a scoped member
    listed = rpc.call("customers", "list_customers", t, {"customer_ids": [owned["id"], assigned["id"]]})
    assert sorted(c["id"] for c in listed["items"]) == sorted([owned["id"], assigned["id"]])
    assert rpc.call("customers", "list_customers", t, {"customer_ids": []})["items"] == []
    assert elsewhere["id"] in {c["id"] for c in rpc.call("customers", "list_customers", t)["items"]}

    # the same assignment again changes and tells nothing; a changed flag and a removal are told
    rpc.call("customers", "put_account_team_member", t, assigned["id"], member["id"])
    rpc.call("customers", "put_account_team_member", t, assigned["id"], contractor["id"], {"internal_access": False})
    rpc.call("customers", "remove_account_team_member", t, assigned["id"], member["id"])
    rpc.call("customers", "remove_account_team_member", t, assigned["id"], member["id"])  # not on it: nothing
    told = [(e["data"]["member_id"], e["data"]["change"], e["data"]["internal_access"])
            for e in _events("customer.team_changed", t)]
    assert told == [(member["id"], "added", False), (contractor["id"], "added", True),
                    (contractor["id"], "updated", False), (member["id"], "removed", False)]
    assert rpc.call("customers", "scope_of", t, member["id"])["customer_ids"] == [owned["id"]]
    assert [m["member_id"] for m in rpc.call("customers", "get_account_team", t, assigned["id"])["members"]] == [
        contractor["id"]]


def test_teams_do_not_cross_tenants_and_bad_assignments_change_nothing(rpc, tenant, new_tenant):
    t = tenant["tenant_id"]
    other = new_tenant(f"owner-{uuid.uuid4().hex[:8]}@other.example")
    mine = _customer(rpc, tenant)
    stranger = _member(rpc, other, "member")
    with pytest.raises(InvalidInput):  # another tenant's member is no member here
        rpc.call("customers", "put_account_team_member", t, mine["id"], stranger["id"])
    with pytest.raises(NotFound):  # nor is this tenant's customer one of the other's
        rpc.call("customers", "put_account_team_member", other["tenant_id"], mine["id"], stranger["id"])
    with pytest.raises(NotFound):
        rpc.call("customers", "get_account_team", other["tenant_id"], mine["id"])
    portal_customer = _customer(rpc, tenant)
    with caller.using(caller.member(tenant["member_id"])):
        portal = rpc.call("customers", "create_member", t, {"email": f"p-{uuid.uuid4().hex[:6]}@c.example",
                                                            "name": "P", "role": "portal",
                                                            "customer_id": portal_customer["id"]})
    with pytest.raises(InvalidInput):
        rpc.call("customers", "put_account_team_member", t, mine["id"], portal["id"])
    with pytest.raises(InvalidInput):
        rpc.call("customers", "put_account_team_member", t, mine["id"], tenant["member_id"],
                 {"internal_access": "perhaps"})
    assert rpc.call("customers", "get_account_team", t, mine["id"])["members"] == []
    assert _events("customer.team_changed", t) == []
    assert rpc.call("customers", "scope_of", other["tenant_id"], stranger["id"])["customer_ids"] == []
