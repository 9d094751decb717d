"""Two gateways (two apps, each with its own login cache and revocation listener, as two gunicorn
workers have) in front of the REAL customers service, its outbox relay (a process of its own) and
RabbitMQ: a revoked token, a deactivated member and a changed role are refused / seen by both
within a second, although their caches hold logins for 30 s."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from custops import caller, config, db
from custops.rpc import RpcClient
from customers.models import api_tokens
from customers.service import CustomersService
from gateway.app import create_app

ROOT = Path(__file__).resolve().parents[2]
WITHIN = 1.0  # seconds: the promise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def customers(container_factory, nameko_config):
    container_factory(CustomersService, nameko_config).start()


@pytest.fixture
def relay(customers):
    """`custops relay customers` as its own process, on the tests' broker and databases."""
    port = _free_port()
    env = dict(os.environ, AMQP_URI=config.amqp_uri(), CUSTOPS_RELAY_PORT=str(port), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "custops"), "relay", "customers"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # its metrics answer once it is up
        assert proc.poll() is None, "the relay exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline, "the relay did not start"
            time.sleep(0.1)
    yield proc
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def team():
    client = RpcClient(config.amqp_uri(), timeout=10, size=1)
    suffix = uuid.uuid4().hex[:8]
    tenant = client.call("customers", "create_tenant", f"Revoke Co {suffix}", f"owner-{suffix}@test.example")
    with caller.using(caller.member(tenant["member_id"])):
        member = client.call("customers", "create_member", tenant["tenant_id"], {
            "email": f"max-{suffix}@test.example", "name": "Max", "role": "member"})
        tokens = [client.call("customers", "issue_token", tenant["tenant_id"], member["id"], f"t{i}")
                  for i in range(3)]
    yield client, tenant, member, tokens
    client.close()


@pytest.fixture
def gateways():
    apps = [create_app({"AMQP_URI": config.amqp_uri(), "RPC_TIMEOUT": 3.0}) for _ in range(2)]
    yield apps
    for app in apps:
        listener = app.extensions.get("custops_revocations")
        if listener is not None:
            listener.stop()
        app.extensions["custops_rpc"].close()


def _me(app, token):
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def _warm(apps, tokens):
    """Each token logged in on each gateway while its listener is live: cached there from now on."""
    for app in apps:
        assert _me(app, tokens[0]).status_code == 200  # starts the listener
        assert app.extensions["custops_revocations"].wait_live(10), "the revocation listener never connected"
        for token in tokens:
            assert _me(app, token).status_code == 200


def _until(apps, token, done, what) -> float:
    """Seconds until `done(response)` holds on every gateway, which it must within WITHIN seconds
    (and keep holding)."""
    started = time.monotonic()
    pending = set(range(len(apps)))
    while pending and time.monotonic() - started < WITHIN:
        pending = {i for i in pending if not done(_me(apps[i], token))}
        if pending:
            time.sleep(0.02)
    elapsed = time.monotonic() - started
    assert not pending and all(done(_me(app, token)) for app in apps), \
        f"{what}: not on gateways {sorted(pending)} within {WITHIN}s"
    print(f"{what}: on both gateways after {elapsed * 1000:.0f} ms")
    return elapsed


def test_a_revoked_token_is_refused_by_every_gateway_within_a_second(relay, team, gateways):
    client, tenant, member, tokens = team
    quiet, revoked, _ = tokens
    _warm(gateways, [t["token"] for t in tokens])

    # the caches are warm: a token revoked behind the service's back (no event) still passes
    with db.engine_for("customers").begin() as conn:
        conn.execute(api_tokens.update().where(api_tokens.c.id == uuid.UUID(quiet["token_id"]))
                     .values(revoked_at=api_tokens.c.created_at))
    assert [_me(app, quiet["token"]).status_code for app in gateways] == [200, 200]

    with caller.using(caller.member(member["id"])):
        client.call("customers", "revoke_token", tenant["tenant_id"], revoked["token_id"], member["id"])
    _until(gateways, revoked["token"], lambda r: r.status_code == 401, "revoked token refused")
    assert [_me(app, tokens[2]["token"]).status_code for app in gateways] == [200, 200]  # the others live on


def test_a_deactivated_members_tokens_and_a_changed_role_reach_every_gateway_within_a_second(relay, team, gateways):
    client, tenant, member, tokens = team
    _warm(gateways, [t["token"] for t in tokens] + [tenant["token"]])
    with caller.using(caller.member(tenant["member_id"])):
        client.call("customers", "update_member", tenant["tenant_id"], member["id"], {"role": "read_only"})
    _until(gateways, tokens[0]["token"], lambda r: r.status_code == 200 and r.get_json()["role"] == "read_only",
           "changed role seen")
    with caller.using(caller.member(tenant["member_id"])):
        client.call("customers", "deactivate_member", tenant["tenant_id"], member["id"])
    for token in tokens:
        _until(gateways, token["token"], lambda r: r.status_code == 401, "deactivated member's token refused")
    assert [_me(app, tenant["token"]).status_code for app in gateways] == [200, 200]


def _publish(event_type: str, data: dict) -> None:
    """An event on the customers exchange, as the relay publishes it."""
    from kombu import Connection, Exchange

    with Connection(config.amqp_uri()) as conn:
        exchange = Exchange("customers.events", type="topic", durable=True, auto_delete=False)
        conn.Producer().publish({"id": str(uuid.uuid4()), "type": event_type, "version": 1, "data": data},
                                exchange=exchange, routing_key=event_type, declare=[exchange],
                                serializer="json")


def _eventually(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_the_listener_outlives_the_broker_going_away_and_distrusts_its_cache_meanwhile(custops_setup):
    from tcp_proxy import TcpProxy

    from gateway.auth import Identity, TtlCache
    from gateway.revocations import RevocationListener

    cache = TtlCache(ttl=30)
    proxy = TcpProxy("127.0.0.1", 5672).start()
    listener = RevocationListener(proxy.uri_for(config.amqp_uri()), cache).start()
    try:
        assert listener.wait_live(10)
        cache.put("a", Identity(tenant_id="t", member_id="m", role="member", token_id="tok-a"))
        cache.put("b", Identity(tenant_id="t", member_id="m", role="member", token_id="tok-b"))
        _publish("token.revoked", {"token_id": "tok-a", "member_id": "m"})
        _eventually(lambda: not cache.get("a")[0], WITHIN, "the revoked token dropped")
        assert cache.get("b")[0]

        proxy.cut()  # the broker goes away for this listener: it stops trusting the cache at once
        _eventually(lambda: not listener.live.is_set(), 5, "the listener noticed the broker gone")
        proxy.restore()
        assert listener.wait_live(15), "the listener did not reconnect"
        assert cache.get("b") == (False, None)  # cleared on reconnection: events may have been missed
        cache.put("c", Identity(tenant_id="t", member_id="m2", role="member", token_id="tok-c"))
        _publish("member.deactivated", {"member_id": "m2"})
        _eventually(lambda: not cache.get("c")[0], WITHIN, "a deactivated member's token dropped after reconnecting")
    finally:
        listener.stop()
        proxy.close()
