"""The gateway through the REAL RabbitMQ to the real tickets and customers services."""
from __future__ import annotations

import time
import uuid

import pytest

from custops import config
from customers.service import CustomersService
from custops.rpc import RpcClient
from gateway.app import create_app
from tickets.service import TicketsService

RPC_TIMEOUT = 2.0


@pytest.fixture
def amqp_uri():
    return config.amqp_uri()  # the tests' own vhost (root conftest)


@pytest.fixture
def token(container_factory, nameko_config, amqp_uri):
    """Start the real customers service and return an owner's token of a fresh tenant."""
    container_factory(CustomersService, {**nameko_config, "AMQP_URI": amqp_uri}).start()
    client = RpcClient(amqp_uri, timeout=10, size=1)
    try:
        suffix = uuid.uuid4().hex[:8]
        return client.call("customers", "create_tenant", f"Gateway Co {suffix}",
                           f"owner-{suffix}@test.example")["token"]
    finally:
        client.close()


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
