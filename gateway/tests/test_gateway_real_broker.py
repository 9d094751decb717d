"""The gateway through the REAL RabbitMQ to the real tickets service (and customers).

The real `CustomersService` is used when its package is installed; until then a minimal in-test
nameko "customers" responder answers the three calls this flow needs. The test runs in its own
RabbitMQ virtual host when it can make one, so other people's service containers on the shared
broker cannot answer its calls (nor be stopped by it).
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
import uuid

import pytest
from nameko.rpc import rpc

from custops import config
from custops.errors import EXPECTED, NotFound
from custops.rpc import RpcClient
from gateway.app import create_app
from tickets.service import TicketsService

VHOST = "custops_gateway_test"
RPC_TIMEOUT = 2.0


def _private_vhost_uri() -> str:
    ctl = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin")
    if ctl is None:
        return config.amqp_uri()
    try:
        listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True, timeout=30)
        if VHOST not in listed.stdout.split():
            subprocess.run([ctl, "-q", "add_vhost", VHOST], capture_output=True, timeout=30, check=True)
        subprocess.run([ctl, "-q", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
                       capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return config.amqp_uri()
    return config.DEFAULT_AMQP_URI.rstrip("/") + "/" + VHOST


class CustomersResponder:
    """Stands in for the customers service (not written yet): tokens, and customers in memory."""

    name = "customers"
    tokens: dict = {}
    customers: dict = {}

    @rpc(expected_exceptions=EXPECTED)
    def authenticate(self, token):
        return self.tokens.get(token)

    @rpc(expected_exceptions=EXPECTED)
    def create_customer(self, tenant_id, payload):
        customer = {"id": str(uuid.uuid4()), **payload}
        self.customers[(tenant_id, customer["id"])] = customer
        return customer

    @rpc(expected_exceptions=EXPECTED)
    def get_customer(self, tenant_id, customer_id):
        try:
            return self.customers[(tenant_id, customer_id)]
        except KeyError:
            raise NotFound(f"customer {customer_id} not found") from None


@pytest.fixture
def amqp_uri():
    return _private_vhost_uri()


@pytest.fixture
def token(container_factory, nameko_config, amqp_uri):
    """Start customers (real or responder) and return an owner's token of a fresh tenant."""
    cfg = {**nameko_config, "AMQP_URI": amqp_uri}
    if importlib.util.find_spec("customers") is not None:
        from customers.service import CustomersService

        container_factory(CustomersService, cfg).start()
        client = RpcClient(amqp_uri, timeout=10, size=1)
        try:
            suffix = uuid.uuid4().hex[:8]
            return client.call("customers", "create_tenant", f"Gateway Co {suffix}",
                               f"owner-{suffix}@test.example")["token"]
        finally:
            client.close()
    container_factory(CustomersResponder, cfg).start()
    token = uuid.uuid4().hex
    CustomersResponder.tokens[token] = {"tenant_id": str(uuid.uuid4()), "member_id": str(uuid.uuid4()),
                                        "role": "owner", "customer_id": None, "email": "owner@test.example"}
    return token


@pytest.fixture
def tickets(container_factory, nameko_config, amqp_uri):
    container = container_factory(TicketsService, {**nameko_config, "AMQP_URI": amqp_uri})
    container.start()
    return container


@pytest.fixture
def api(token, amqp_uri):
    app = create_app({"AMQP_URI": amqp_uri, "RPC_TIMEOUT": RPC_TIMEOUT})
    yield app.test_client(), {"Authorization": f"Bearer {token}"}
    app.extensions["custops_rpc"].close()


def test_create_and_read_back_through_real_rabbitmq_then_tickets_down_is_a_quick_503_or_504(api, tickets):
    client, auth = api
    customer = client.post("/api/v1/customers", headers=auth, json={
        "name": "Acme", "tier": "smb", "domains": [f"acme-{uuid.uuid4().hex[:8]}.example"]})
    assert customer.status_code == 201, customer.get_data(as_text=True)
    customer_id = customer.get_json()["id"]

    created = client.post("/api/v1/tickets", headers=auth, json={
        "customer_id": customer_id, "subject": "Printer on fire", "priority": "urgent"})
    assert created.status_code == 201, created.get_data(as_text=True)
    ticket = created.get_json()
    assert ticket["status"] == "new" and created.headers["Location"] == f"/api/v1/tickets/{ticket['id']}"
    assert len(created.headers["X-Trace-Id"]) == 32

    fetched = client.get(f"/api/v1/tickets/{ticket['id']}", headers=auth)
    assert fetched.status_code == 200
    assert (fetched.get_json()["subject"], fetched.get_json()["customer_id"]) == ("Printer on fire", customer_id)

    unknown = client.post("/api/v1/tickets", headers=auth, json={"customer_id": str(uuid.uuid4()), "subject": "x"})
    assert unknown.status_code == 422 and unknown.mimetype == "application/problem+json"
    assert [e["field"] for e in unknown.get_json()["errors"]] == ["customer_id"]

    tickets.stop()
    started = time.monotonic()
    down = client.post("/api/v1/tickets", headers=auth, json={"customer_id": customer_id, "subject": "nobody home"})
    elapsed = time.monotonic() - started
    assert down.status_code in (503, 504), down.get_data(as_text=True)
    assert down.mimetype == "application/problem+json" and down.get_json()["status"] == down.status_code
    assert elapsed < RPC_TIMEOUT + 2, f"answered after {elapsed:.1f}s"
