"""A member's scope through the gateway, the REAL customers, tickets and billing services, the customers
outbox relay and RabbitMQ: they see the customers they own or are on the account team of, nothing else,
and a team change reaches the gateway's scope cache by its event (the cache's TTL is set to an hour
here, so only the event can explain a change seen)."""
from __future__ import annotations

import time
import uuid

import pytest

from billing.service import BillingService
from custops import config
from gateway.app import create_app
from gateway.tests.test_revocation_real_broker import customers, relay  # noqa: F401 - fixtures
from tickets.service import TicketsService

WAIT = 5.0  # seconds: generous; the TTL (an hour) is not what ends a cached scope here


@pytest.fixture
def services(relay, container_factory, nameko_config):  # noqa: F811 - relay is the imported fixture
    for service in (TicketsService, BillingService):
        container_factory(service, nameko_config).start()


@pytest.fixture
def gateway(services):
    app = create_app({"AMQP_URI": config.amqp_uri(), "RPC_TIMEOUT": 5.0, "SCOPE_CACHE_SECONDS": 3600})
    yield app
    listener = app.extensions.get("custops_revocations")
    if listener is not None:
        listener.stop()
    app.extensions["custops_rpc"].close()


def _api(app, token):
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}

    def call(method, path, body=None):
        response = client.open("/api/v1" + path, method=method, headers=headers, json=body)
        return response.status_code, response.get_json(silent=True)
    return call


def _tenant(app):
    from custops.rpc import RpcClient

    client = RpcClient(config.amqp_uri(), timeout=10, size=1)
    try:
        suffix = uuid.uuid4().hex[:8]
        return client.call("customers", "create_tenant", f"Scope Co {suffix}", f"owner-{suffix}@test.example")
    finally:
        client.close()


def _until(check, what):
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < WAIT, f"{what}: not within {WAIT}s"
        time.sleep(0.05)


def test_a_member_sees_their_customers_only_and_team_changes_reach_the_gateway(gateway):
    tenant = _tenant(gateway)
    owner = _api(gateway, tenant["token"])
    status, member = owner("POST", "/members", {"name": "Max", "email": f"max-{uuid.uuid4().hex[:6]}@t.example",
                                                "role": "member"})
    assert status == 201, member
    status, issued = owner("POST", f"/members/{member['id']}/tokens", {"name": "laptop"})
    assert status == 201, issued
    max_ = _api(gateway, issued["token"])
    assert gateway.extensions["custops_revocations"].wait_live(10)

    ids = {}
    for name in ("assigned", "owned", "elsewhere"):
        status, customer = owner("POST", "/customers", {"name": f"{name} {uuid.uuid4().hex[:6]}", "tier": "smb"})
        assert status == 201, customer
        status, ticket = owner("POST", "/tickets", {"customer_id": customer["id"], "subject": f"{name} trouble"})
        assert status == 201, ticket
        ids[name] = (customer["id"], ticket["id"])

    # nothing yet: the scope is cached (empty) from here on
    assert max_("GET", "/customers")[1]["items"] == [] and max_("GET", "/tickets")[1]["items"] == []
    assert max_("GET", f"/customers/{ids['assigned'][0]}")[0] == 404

    assert owner("PUT", f"/customers/{ids['assigned'][0]}/team/{member['id']}", {})[0] == 200
    _until(lambda: max_("GET", f"/customers/{ids['assigned'][0]}")[0] == 200, "assignment")
    assert owner("PATCH", f"/customers/{ids['owned'][0]}", {"owner_id": member["id"]})[0] == 200
    _until(lambda: max_("GET", f"/customers/{ids['owned'][0]}")[0] == 200, "ownership")

    mine = {ids["assigned"][0], ids["owned"][0]}
    assert {c["id"] for c in max_("GET", "/customers")[1]["items"]} == mine
    tickets = max_("GET", "/tickets")[1]
    assert {t["customer_id"] for t in tickets["items"]} == mine and tickets["total"] == 2
    assert max_("GET", f"/tickets?customer_id={ids['elsewhere'][0]}")[1]["items"] == []
    for method, path, body in [("GET", f"/customers/{ids['elsewhere'][0]}", None),
                               ("GET", f"/customers/{ids['elsewhere'][0]}/contacts", None),
                               ("GET", f"/tickets/{ids['elsewhere'][1]}", None),
                               ("GET", f"/tickets/{ids['elsewhere'][1]}/messages", None),
                               ("POST", f"/tickets/{ids['elsewhere'][1]}/status", {"status": "open"})]:
        assert max_(method, path, body)[0] == 404, (method, path)
    assert max_("GET", f"/tickets/{ids['assigned'][1]}")[0] == 200

    # time: logged on their customer, refused (as unknown) elsewhere, listed for theirs only
    assert max_("POST", "/time-entries", {"customer_id": ids["assigned"][0], "minutes": 30,
                                          "billable": True})[0] == 201
    status, refused = max_("POST", "/time-entries", {"customer_id": ids["elsewhere"][0], "minutes": 30,
                                                     "billable": True})
    assert status == 422 and [e["field"] for e in refused["errors"]] == ["customer_id"]
    status, theirs = owner("POST", "/time-entries", {"customer_id": ids["elsewhere"][0], "minutes": 15,
                                                     "billable": True})
    assert status == 201
    assert max_("GET", f"/time-entries/{theirs['id']}")[0] == 404
    assert {e["customer_id"] for e in max_("GET", "/time-entries")[1]["items"]} == {ids["assigned"][0]}
    assert len(owner("GET", "/time-entries")[1]["items"]) == 2

    # another tenant's customer is as absent as one out of scope
    other = _api(gateway, _tenant(gateway)["token"])
    status, foreign = other("POST", "/customers", {"name": "Foreign", "tier": "smb"})
    assert status == 201
    assert max_("GET", f"/customers/{foreign['id']}")[0] == 404 == owner("GET", f"/customers/{foreign['id']}")[0]

    # off the team: gone again at once
    assert owner("DELETE", f"/customers/{ids['assigned'][0]}/team/{member['id']}")[0] == 200
    _until(lambda: max_("GET", f"/customers/{ids['assigned'][0]}")[0] == 404, "removal")
    assert {c["id"] for c in max_("GET", "/customers")[1]["items"]} == {ids["owned"][0]}
