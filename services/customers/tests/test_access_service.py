"""Members, roles and API tokens in the real customers service (real RabbitMQ and PostgreSQL).

Changes are made as a member (`custops.caller`, as the gateway sends it), so the rules that depend
on who acts are exercised for real: an admin cannot touch owners, the last owner stays.
"""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from custops import caller, db, outbox
from custops.errors import Conflict, Forbidden, InvalidInput, NotFound
from customers.models import api_tokens


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@acme.example", "Olive Owner")


def _events(type_: str, tenant_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        rows = conn.execute(select(table.c.envelope).where(
            table.c.type == type_, table.c.tenant_id == uuid.UUID(tenant_id)).order_by(table.c.seq)).scalars().all()
    return list(rows)


def _as(member_id):
    return caller.using(caller.member(member_id))


def _add(rpc, tenant, role, actor=None, **fields):
    payload = {"email": f"{role}-{uuid.uuid4().hex[:6]}@acme.example", "name": f"A {role}", "role": role, **fields}
    with _as(actor or tenant["member_id"]):
        return rpc.call("customers", "create_member", tenant["tenant_id"], payload)


def _token(rpc, tenant, member_id, actor=None, **options):
    with _as(actor or tenant["member_id"]):
        return rpc.call("customers", "issue_token", tenant["tenant_id"], member_id, "laptop", options)


def _who(rpc, token):
    return rpc.call("customers", "authenticate", token)


def test_members_are_added_listed_filtered_and_paged(rpc, tenant):
    t = tenant["tenant_id"]
    admin = _add(rpc, tenant, "admin", timezone="Europe/Berlin", name="Ada Admin")
    assert (admin["role"], admin["timezone"], admin["active"]) == ("admin", "Europe/Berlin", True)
    member = _add(rpc, tenant, "member", name="Max Member")
    _add(rpc, tenant, "contractor", name="Cody Contractor")
    with _as(tenant["member_id"]), pytest.raises(Conflict) as taken:
        rpc.call("customers", "create_member", t, {"email": member["email"].upper(), "name": "Again", "role": "member"})
    assert [e["field"] for e in taken.value.errors] == ["email"]

    everyone = rpc.call("customers", "list_members", t)
    assert [m["name"] for m in everyone["items"]] == ["Cody Contractor", "Max Member", "Ada Admin", "Olive Owner"]
    assert everyone["total"] == 4 and everyone["next_cursor"] is None
    assert [m["name"] for m in rpc.call("customers", "list_members", t, {"role": "admin"})["items"]] == ["Ada Admin"]
    assert [m["name"] for m in rpc.call("customers", "list_members", t, {"q": "MAX"})["items"]] == ["Max Member"]
    first = rpc.call("customers", "list_members", t, {}, 3)
    assert len(first["items"]) == 3 and first["total"] == 4
    rest = rpc.call("customers", "list_members", t, {}, 3, first["next_cursor"])
    assert [m["name"] for m in rest["items"]] == ["Olive Owner"] and rest["next_cursor"] is None

    with _as(tenant["member_id"]):
        rpc.call("customers", "deactivate_member", t, member["id"])
    assert [m["name"] for m in rpc.call("customers", "list_members", t, {"active": False})["items"]] == ["Max Member"]
    assert rpc.call("customers", "list_members", t, {"active": True})["total"] == 3
    for bad in ({"role": "king"}, {"active": "perhaps"}, {"q": ""}, {"colour": "red"}):
        with pytest.raises(InvalidInput):
            rpc.call("customers", "list_members", t, bad)

    # each addition is told (the audit log takes it), by the member who made it
    added = _events("member.created", t)
    assert [e["data"]["name"] for e in added] == ["Olive Owner", "Ada Admin", "Max Member", "Cody Contractor"]
    assert added[1]["actor"] == {"type": "member", "id": tenant["member_id"]}


def test_admins_manage_members_but_not_owners_and_members_manage_nobody(rpc, tenant):
    t = tenant["tenant_id"]
    admin = _add(rpc, tenant, "admin")
    member = _add(rpc, tenant, "member")
    with _as(admin["id"]):
        changed = rpc.call("customers", "update_member", t, member["id"], {"role": "contractor", "name": "Renamed"})
        assert (changed["role"], changed["name"]) == ("contractor", "Renamed")
        for forbidden in [("update_member", t, tenant["member_id"], {"role": "admin"}),
                          ("update_member", t, member["id"], {"role": "owner"}),
                          ("deactivate_member", t, tenant["member_id"]),
                          ("create_member", t, {"email": "boss2@acme.example", "name": "B", "role": "owner"}),
                          ("issue_token", t, tenant["member_id"], "mine now")]:
            with pytest.raises(Forbidden):
                rpc.call("customers", *forbidden)
    with _as(member["id"]), pytest.raises(Forbidden):
        rpc.call("customers", "update_member", t, admin["id"], {"role": "member"})
    assert rpc.call("customers", "get_member", t, tenant["member_id"])["role"] == "owner"

    [role_changed] = _events("member.role_changed", t)
    assert role_changed["data"] == {"member_id": member["id"], "email": member["email"], "previous_role": "member",
                                    "role": "contractor"}
    assert role_changed["actor"] == {"type": "member", "id": admin["id"]}


def test_the_last_active_owner_can_be_neither_demoted_nor_deactivated(rpc, tenant):
    t, owner = tenant["tenant_id"], tenant["member_id"]
    for call in [("update_member", t, owner, {"role": "admin"}), ("deactivate_member", t, owner)]:
        with _as(owner), pytest.raises(Conflict):
            rpc.call("customers", *call)
    second = _add(rpc, tenant, "admin")
    with _as(owner):
        assert rpc.call("customers", "update_member", t, second["id"], {"role": "owner"})["role"] == "owner"
        assert rpc.call("customers", "update_member", t, owner, {"role": "admin"})["role"] == "admin"
    with _as(second["id"]), pytest.raises(Conflict):
        rpc.call("customers", "deactivate_member", t, second["id"])  # now the last one
    # a deactivated owner does not count: promoting them back does not make them active
    with _as(second["id"]):
        rpc.call("customers", "update_member", t, owner, {"role": "owner"})
        rpc.call("customers", "deactivate_member", t, owner)
    with _as(second["id"]), pytest.raises(Conflict):
        rpc.call("customers", "update_member", t, second["id"], {"role": "member"})
    assert rpc.call("customers", "list_members", t, {"role": "owner", "active": True})["total"] == 1


def test_deactivating_a_member_revokes_all_their_tokens_and_reactivating_keeps_them_revoked(rpc, tenant):
    t = tenant["tenant_id"]
    member = _add(rpc, tenant, "member")
    issued = [_token(rpc, tenant, member["id"]) for _ in range(3)]
    assert all(_who(rpc, i["token"])["member_id"] == member["id"] for i in issued)
    with _as(tenant["member_id"]):
        gone = rpc.call("customers", "deactivate_member", t, member["id"])
        assert rpc.call("customers", "deactivate_member", t, member["id"]) == gone  # again: nothing new
    assert (gone["active"], gone["deactivated_at"] is not None) == (False, True)
    assert [_who(rpc, i["token"]) for i in issued] == [None, None, None]
    [told] = _events("member.deactivated", t)
    assert sorted(told["data"]["revoked_token_ids"]) == sorted(i["token_id"] for i in issued)
    assert told["data"]["member_id"] == member["id"] and told["actor"]["id"] == tenant["member_id"]
    with _as(tenant["member_id"]), pytest.raises(Conflict):
        rpc.call("customers", "issue_token", t, member["id"], "while away")

    with _as(tenant["member_id"]):
        back = rpc.call("customers", "reactivate_member", t, member["id"])
    assert back["active"] is True
    assert [_who(rpc, i["token"]) for i in issued] == [None, None, None]
    fresh = _token(rpc, tenant, member["id"])
    assert _who(rpc, fresh["token"])["member_id"] == member["id"]


def test_tokens_are_named_expire_carry_their_scope_and_show_once(rpc, tenant):
    t = tenant["tenant_id"]
    member = _add(rpc, tenant, "member")
    later = datetime.now(timezone.utc) + timedelta(days=7)
    ro = _token(rpc, tenant, member["id"], actor=member["id"], read_only=True, expires_at=later.isoformat())
    assert ro["token"].startswith(ro["prefix"]) and (ro["name"], ro["read_only"]) == ("laptop", True)
    who = _who(rpc, ro["token"])
    assert (who["read_only"], datetime.fromisoformat(who["expires_at"])) == (True, later)

    listed = rpc.call("customers", "list_tokens", t, member["id"])
    assert listed["total"] == 1
    [shown] = listed["items"]
    assert "token" not in shown and "token_hash" not in shown
    assert {k: shown[k] for k in ("id", "name", "prefix", "read_only", "active")} == {
        "id": ro["token_id"], "name": "laptop", "prefix": ro["prefix"], "read_only": True, "active": True}
    assert shown["last_used_at"] is not None  # authenticated once just now

    with db.engine_for("customers").connect() as conn:  # stored hashed, never as given
        stored = conn.execute(select(api_tokens).where(api_tokens.c.id == uuid.UUID(ro["token_id"]))).mappings().one()
    assert ro["token"] not in {str(v) for v in stored.values()}

    with db.engine_for("customers").begin() as conn:  # its expiry passes
        conn.execute(update(api_tokens).where(api_tokens.c.id == uuid.UUID(ro["token_id"]))
                     .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert _who(rpc, ro["token"]) is None
    assert rpc.call("customers", "list_tokens", t, member["id"])["items"][0]["active"] is False

    for bad in ({"expires_at": "2001-01-01T00:00:00+00:00"}, {"read_only": "maybe"}, {"scope": "all"}):
        with _as(member["id"]), pytest.raises(InvalidInput):
            rpc.call("customers", "issue_token", t, member["id"], "bad", bad)
    with _as(member["id"]), pytest.raises(InvalidInput):
        rpc.call("customers", "issue_token", t, member["id"], "", {})


def test_the_last_use_is_written_at_most_once_a_minute(rpc, tenant):
    token_id = uuid.UUID(tenant["token_id"])

    def last_used():
        with db.engine_for("customers").connect() as conn:
            return conn.execute(select(api_tokens.c.last_used_at).where(api_tokens.c.id == token_id)).scalar()

    assert last_used() is None
    _who(rpc, tenant["token"])
    first = last_used()
    assert first is not None
    for _ in range(3):
        _who(rpc, tenant["token"])
    assert last_used() == first  # within the minute: not written again
    with db.engine_for("customers").begin() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                     .values(last_used_at=first - timedelta(minutes=2)))
    _who(rpc, tenant["token"])
    assert last_used() > first - timedelta(minutes=2)


def test_revoking_is_for_the_token_owner_or_a_manager(rpc, tenant):
    t = tenant["tenant_id"]
    admin, member, other = _add(rpc, tenant, "admin"), _add(rpc, tenant, "member"), _add(rpc, tenant, "member")
    mine = _token(rpc, tenant, member["id"], actor=member["id"])
    theirs = _token(rpc, tenant, other["id"])
    with _as(member["id"]):
        with pytest.raises(NotFound):  # another member's token, asked for as one's own: not there
            rpc.call("customers", "revoke_token", t, theirs["token_id"], member["id"])
        revoked = rpc.call("customers", "revoke_token", t, mine["token_id"], member["id"])
        assert rpc.call("customers", "revoke_token", t, mine["token_id"], member["id"]) == revoked
    assert revoked["active"] is False and _who(rpc, mine["token"]) is None
    with _as(admin["id"]):
        rpc.call("customers", "revoke_token", t, theirs["token_id"])  # a manager: anyone's
        with pytest.raises(Forbidden):
            rpc.call("customers", "revoke_token", t, tenant["token_id"])  # but not an owner's
    assert _who(rpc, tenant["token"]) is not None
    told = {e["data"]["token_id"]: e for e in _events("token.revoked", t)}
    assert set(told) == {mine["token_id"], theirs["token_id"]}  # once each, although revoked twice
    assert told[mine["token_id"]]["data"]["prefix"] == mine["prefix"] and mine["token"] not in str(told)
    assert told[mine["token_id"]]["data"]["member_id"] == member["id"]
    assert told[theirs["token_id"]]["actor"] == {"type": "member", "id": admin["id"]}


def test_another_tenant_sees_none_of_this(rpc, tenant, new_tenant):
    other = new_tenant("boss@other.example")
    member = _add(rpc, tenant, "member")
    for call in [("get_member", other["tenant_id"], member["id"]), ("whoami", other["tenant_id"], member["id"]),
                 ("deactivate_member", other["tenant_id"], member["id"]),
                 ("update_member", other["tenant_id"], member["id"], {"name": "x"}),
                 ("list_tokens", other["tenant_id"], member["id"])]:
        with _as(other["member_id"]), pytest.raises(NotFound):
            rpc.call("customers", *call)
    # a member of another tenant acting here manages nothing
    with _as(other["member_id"]), pytest.raises(Forbidden):
        rpc.call("customers", "deactivate_member", tenant["tenant_id"], member["id"])
    assert rpc.call("customers", "list_members", other["tenant_id"])["total"] == 1


def test_whoami_names_the_member_and_the_tenant(rpc, tenant):
    me = rpc.call("customers", "whoami", tenant["tenant_id"], tenant["member_id"])
    assert (me["id"], me["role"], me["name"]) == (tenant["member_id"], "owner", "Olive Owner")
    assert me["tenant"]["id"] == tenant["tenant_id"] and me["tenant"]["name"]


def test_two_owners_demoting_each_other_at_once_leave_one_owner(rpc, tenant):
    """Ownership changes are serialised on the tenant's row: of two concurrent demotions of the only
    two owners, one wins and the other is refused (403 or 409), every time."""
    import eventlet

    t = tenant["tenant_id"]
    for _ in range(5):
        other = _add(rpc, tenant, "owner")
        pairs = [(tenant["member_id"], other["id"]), (other["id"], tenant["member_id"])]

        def demote(actor, target):
            with _as(actor):
                try:
                    return rpc.call("customers", "update_member", t, target, {"role": "admin"})["role"]
                except (Conflict, Forbidden) as exc:
                    return type(exc).__name__

        outcomes = sorted(eventlet.GreenPool(2).starmap(demote, pairs), key=lambda o: o != "admin")
        owners = rpc.call("customers", "list_members", t, {"role": "owner", "active": True})["items"]
        assert len(owners) == 1 and outcomes[0] == "admin" and outcomes[1] in ("Conflict", "Forbidden"), outcomes
        survivor = owners[0]["id"]
        if survivor != tenant["member_id"]:  # hand ownership back for the next round
            with _as(survivor):
                rpc.call("customers", "update_member", t, tenant["member_id"], {"role": "owner"})
        with _as(tenant["member_id"]):
            rpc.call("customers", "deactivate_member", t, other["id"])
