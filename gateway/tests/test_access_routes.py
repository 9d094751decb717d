"""The team and token routes, read-only tokens and the login cache, with the RpcClient double."""
from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from gateway import roles
from gateway.app import create_app
from gateway.auth import Identity, TtlCache

TOKEN_ID = str(uuid.uuid4())
MEMBER = {"id": str(uuid.uuid4()), "email": "ada@acme.example", "name": "Ada", "role": "admin", "customer_id": None,
          "timezone": "Europe/Berlin", "active": True, "deactivated_at": None,
          "created_at": "2026-01-05T10:00:00+00:00", "updated_at": "2026-01-05T10:00:00+00:00"}


def _read_only_login(ids, role="owner"):
    def authenticate(token):
        return {"tenant_id": ids["tenant"], "member_id": ids["members"][role], "role": role, "customer_id": None,
                "email": "ro@example.test", "token_id": TOKEN_ID, "read_only": True, "expires_at": None}
    return authenticate


def test_a_read_only_token_reads_but_writes_nothing_whatever_its_role(client, services, bearer, ids, problem):
    services.on("customers", "authenticate", _read_only_login(ids))
    services.on("customers", "list_members", lambda *args: {"items": [], "next_cursor": None, "total": 0})
    assert client.get("/api/v1/members", headers=bearer("owner")).status_code == 200
    writes = [("POST", "/api/v1/members", {"email": "x@y.example", "name": "X", "role": "member"}),
              ("PATCH", "/api/v1/tenant", {"name": "x"}), ("DELETE", f"/api/v1/tokens/{TOKEN_ID}", None),
              ("POST", "/api/v1/me/tokens", {"name": "more"}),
              ("POST", "/api/v1/customers", {"name": "Acme", "tier": "smb"})]
    for method, path, body in writes:
        refused = problem(client.open(path, method=method, json=body, headers=bearer("owner")), 403)
        assert "read-only" in refused["detail"]
    assert [c for c in services.calls if c[1] not in ("authenticate", "list_members")] == []


def test_me_names_the_member_the_tenant_the_permissions_and_the_token(client, services, bearer, ids):
    expires = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    services.on("customers", "authenticate", lambda token: {
        "tenant_id": ids["tenant"], "member_id": MEMBER["id"], "role": "admin", "customer_id": None,
        "email": MEMBER["email"], "token_id": TOKEN_ID, "read_only": False, "expires_at": expires.isoformat()})
    services.on("customers", "whoami", lambda tenant, member: {**MEMBER, "tenant": {"id": tenant, "name": "Acme"}})
    me = client.get("/api/v1/me", headers=bearer("admin")).get_json()
    assert services.calls_to("customers", "whoami") == [(ids["tenant"], MEMBER["id"])]
    assert (me["id"], me["role"], me["email"], me["timezone"]) == (MEMBER["id"], "admin", MEMBER["email"],
                                                                    "Europe/Berlin")
    assert me["tenant"] == {"id": ids["tenant"], "name": "Acme"}
    assert me["permissions"] == roles.permissions_of("admin")
    assert "members:write" in me["permissions"] and "billing:read" not in me["permissions"]
    assert me["token"] == {"id": TOKEN_ID, "read_only": False, "expires_at": expires.isoformat()}


def test_a_member_revokes_only_their_own_tokens_a_manager_anyones(client, services, bearer, ids):
    services.on("customers", "revoke_token", lambda tenant, token, member: {"id": token, "member_id": member})
    for role in ("member", "contractor", "read_only", "admin", "owner"):
        assert client.delete(f"/api/v1/tokens/{TOKEN_ID}", headers=bearer(role)).status_code == 200
    scopes = [member for _, _, member in services.calls_to("customers", "revoke_token")]
    m = ids["members"]
    assert scopes == [m["member"], m["contractor"], m["read_only"], None, None]


def test_tokens_are_issued_with_their_options_to_oneself_or_by_a_manager(client, services, bearer, ids, problem):
    services.on("customers", "issue_token", lambda tenant, member, name, options: {
        "id": TOKEN_ID, "member_id": member, "name": name, "token": "cst_secret", **options})
    later = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
    mine = client.post("/api/v1/me/tokens", json={"name": "ci", "read_only": True, "expires_at": later},
                       headers=bearer("member"))
    assert mine.status_code == 201 and mine.get_json()["token"] == "cst_secret"
    theirs = client.post(f"/api/v1/members/{MEMBER['id']}/tokens", json={"name": "laptop"}, headers=bearer("admin"))
    assert theirs.status_code == 201
    [(tenant, member, name, options), second] = services.calls_to("customers", "issue_token")
    assert (tenant, member, name, options["read_only"]) == (ids["tenant"], ids["members"]["member"], "ci", True)
    assert datetime.fromisoformat(options["expires_at"]) == datetime.fromisoformat(later)
    assert second == (ids["tenant"], MEMBER["id"], "laptop", {})
    problem(client.post(f"/api/v1/members/{MEMBER['id']}/tokens", json={"name": "x"}, headers=bearer("member")), 403)
    problem(client.post("/api/v1/me/tokens", json={"name": "x"}, headers=bearer("portal")), 403)
    for body in ({}, {"name": ""}, {"name": "x", "expires_at": "tomorrow"}, {"name": "x", "read_only": "yes"},
                 {"name": "x", "expires_at": "2030-01-01T00:00:00"}, {"name": "x", "scope": "all"}):
        response = client.post("/api/v1/me/tokens", json=body, headers=bearer("member"))
        assert response.status_code in (400, 422), (body, response.get_data(as_text=True))
    assert len(services.calls_to("customers", "issue_token")) == 2


def test_members_are_added_changed_and_listed_with_filters(client, services, bearer, ids, problem):
    services.on("customers", "create_member", lambda tenant, body: {**MEMBER, **body})
    services.on("customers", "update_member", lambda tenant, member, body: {**MEMBER, **body})
    services.on("customers", "list_members", lambda tenant, f, limit, cursor: {
        "items": [MEMBER], "next_cursor": None, "total": 1})
    created = client.post("/api/v1/members", json={"email": "ada@acme.example", "name": "Ada", "role": "admin"},
                          headers=bearer("owner"))
    assert created.status_code == 201 and created.headers["Location"] == f"/api/v1/members/{MEMBER['id']}"
    for body in ({"email": "a@b.example", "name": "A", "role": "portal"}, {"email": "a@b.example", "role": "admin"},
                 {"email": "a@b.example", "name": "A", "role": "admin", "password": "x"}):
        assert client.post("/api/v1/members", json=body, headers=bearer("owner")).status_code in (400, 422), body
    problem(client.post("/api/v1/members", json={"email": "a@b.example", "name": "A", "role": "admin"},
                        headers=bearer("member")), 403)
    client.patch(f"/api/v1/members/{MEMBER['id']}", json={"role": "member", "timezone": None}, headers=bearer("admin"))
    assert services.calls_to("customers", "update_member") == [
        (ids["tenant"], MEMBER["id"], {"role": "member", "timezone": None})]

    page = client.get("/api/v1/members?role=admin&active=false&q=ad&limit=10", headers=bearer("contractor"))
    assert page.status_code == 200 and page.get_json() == {"items": [MEMBER], "next_cursor": None, "total": 1}
    assert services.calls_to("customers", "list_members") == [
        (ids["tenant"], {"role": "admin", "active": False, "q": "ad"}, 10, None)]
    problem(client.get("/api/v1/members?active=perhaps", headers=bearer("owner")), 400)
    problem(client.get("/api/v1/members?role=king", headers=bearer("owner")), 422)
    problem(client.get("/api/v1/members", headers=bearer("portal")), 403)


# --- the login cache ---

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _identity(token_id="t1", member_id="m1"):
    return Identity(tenant_id="t", member_id=member_id, role="member", token_id=token_id)


def test_the_cache_drops_entries_by_token_or_member_and_refuses_answers_from_before():
    cache = TtlCache(ttl=30, clock=Clock())
    cache.put("a", _identity("t1", "m1"))
    cache.put("b", _identity("t2", "m1"))
    cache.put("c", _identity("t3", "m2"))
    cache.put("unknown", None)
    assert cache.invalidate("token_id", "t1") == 1
    assert cache.get("a") == (False, None) and cache.get("b")[0]
    assert cache.invalidate("member_id", "m1") == 1
    assert cache.get("b") == (False, None) and cache.get("c")[0] and cache.get("unknown") == (True, None)

    before = cache.generation  # a lookup started here ...
    cache.invalidate("token_id", "t9")  # ... a revocation lands meanwhile ...
    cache.put("d", _identity("t9"), generation=before)  # ... so its answer is not kept
    assert cache.get("d") == (False, None)
    cache.put("d", _identity("t9"), generation=cache.generation)
    assert cache.get("d")[0]
    cache.clear()
    assert cache.get("c") == (False, None)


def test_an_entry_never_outlives_its_tokens_expiry():
    clock = Clock()
    cache = TtlCache(ttl=30, clock=clock)
    cache.put("soon", _identity(), ttl=2.0)
    cache.put("expired", _identity(), ttl=-1.0)
    assert cache.get("expired") == (False, None)
    clock.now += 1.9
    assert cache.get("soon")[0]
    clock.now += 0.2
    assert cache.get("soon") == (False, None)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("listening, logins", [(False, 1), (True, 3)])
def test_the_cache_is_not_trusted_while_revocations_cannot_be_heard(services, bearer, listening, logins):
    """With revocation events on but no broker to hear them, every request asks the customers
    service: a revocation could pass unseen. Without them (an injected client, no broker), the TTL rules."""
    app = create_app({"RPC_CLIENT": services, "TESTING": True, "AUTH_REVOCATION_EVENTS": listening,
                      "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{_closed_port()}//"})
    services.on("customers", "get_tenant", lambda tenant: {"id": tenant})
    client = app.test_client()
    try:
        for _ in range(3):
            assert client.get("/api/v1/tenant", headers=bearer("member")).status_code == 200
        assert len(services.calls_to("customers", "authenticate")) == logins
    finally:
        listener = app.extensions.get("custops_revocations")
        if listener is not None:
            listener.stop()


def test_every_event_the_customers_service_tells_has_a_taker():
    """An event no queue takes is a deployment error (marked `unroutable`): each customers event is
    consumed by a service or, for the access events, by the gateways' revocation listeners."""
    import importlib.util

    from custops import config, topology
    from custops.catalog import published_contracts
    from custops.runtime import load_service_class
    from gateway import revocations

    taken = {(source, kind) for service in config.SERVICES if importlib.util.find_spec(service)
             for source, kind, _ in topology.subscriptions(load_service_class(service))}
    taken |= {("customers", key) for key in revocations.ROUTING_KEYS}
    everything_of = {source for source, kind in taken if kind == "#"}  # the audit log takes all
    told = {(c.PRODUCER, c.TYPE) for c in published_contracts() if c.PRODUCER == "customers"}
    assert {(source, kind) for source, kind in told - taken if source not in everything_of} == set()
    assert {("customers", "token.revoked"), ("customers", "member.deactivated")} <= told
