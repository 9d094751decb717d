"""Poison messages land in the consumer's dead-letter queue with their error and never block the queue."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from kombu import Connection, Producer

from custops import deadletters, topology
from custops.contracts.tickets import TicketCreated
from custops.events import envelope_for
from custops.runtime import load_service_class
from harness import create_customer, create_ticket, eventually, timeline_types

DEADLINE = 20.0


def consumer_queue(service: str, source: str, event_type: str) -> str:
    [method] = [m for s, t, m in topology.subscriptions(load_service_class(service)) if (s, t) == (source, event_type)]
    return topology.event_queue_name(source, event_type, service, method)


def publish_raw(amqp_uri: str, body: bytes) -> None:
    """Straight onto the tickets exchange, as a broken producer or an outside integrator might."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        Producer(conn).publish(body, exchange=topology.event_exchange("tickets"), routing_key="ticket.created",
                               content_type="application/json", content_encoding="utf-8", delivery_mode=2)


def valid_envelope(marker: str, tenant_id) -> dict:
    data = TicketCreated(ticket_id=uuid.uuid4(), number=1, customer_id=uuid.uuid4(), subject=marker,
                         priority="low", status="new", source="api", created_at=datetime.now(timezone.utc))
    return envelope_for(data, tenant_id).model_dump(mode="json")


def dead_letter_for(queue: str, marker: str):
    found = [item for item in deadletters.peek(queue, limit=1000) if marker in item["body"]]
    return found[0] if found else None


@pytest.fixture
def suite_broker(suite, monkeypatch):
    """`custops.deadletters` reads the broker from AMQP_URI: point it at the suite's."""
    monkeypatch.setenv("AMQP_URI", suite.amqp_uri)
    return suite.amqp_uri


def poison_bodies(tenant_id) -> dict[str, tuple[str, bytes]]:
    """{what is wrong: (a marker to find it by, the body)}"""
    markers = {what: uuid.uuid4().hex for what in ("is not an envelope", "breaks its contract", "has no tenant")}
    breaks_contract = valid_envelope(markers["breaks its contract"], tenant_id)
    breaks_contract["data"] = {"ticket_id": "not-a-uuid", "subject": markers["breaks its contract"]}
    return {
        "is not an envelope": (markers["is not an envelope"],
                               json.dumps({"hello": "world", "marker": markers["is not an envelope"]}).encode()),
        "breaks its contract": (markers["breaks its contract"], json.dumps(breaks_contract).encode()),
        "has no tenant": (markers["has no tenant"],
                          json.dumps(valid_envelope(markers["has no tenant"], None)).encode()),
    }


def test_poison_messages_are_dead_lettered_at_once_and_events_still_flow(suite, suite_broker, tenant):
    queue = consumer_queue("timeline", "tickets", "ticket.created")
    poison = poison_bodies(tenant.id)
    for _, body in poison.values():
        publish_raw(suite_broker, body)

    for what, (marker, _) in poison.items():
        item = eventually(lambda marker=marker: dead_letter_for(queue, marker), DEADLINE,
                          f"the message that {what} in {queue}")
        assert "PoisonMessage" in item["error"], item
        assert item["deliveries"] == 1, item  # not retried: it can never succeed

    customer = create_customer(tenant.api)
    create_ticket(tenant.api, customer["id"])
    eventually(lambda: "ticket.created" in timeline_types(tenant.api, customer["id"]), DEADLINE,
               "a normal ticket on the timeline after the poison")


def test_an_event_whose_handler_keeps_failing_is_dead_lettered_after_the_delivery_limit(suite, suite_broker, tenant):
    """A valid event whose subject holds a NUL character: the contract allows any string, but
    PostgreSQL stores no NUL in text or JSONB, so every attempt to record it fails."""
    from custops import config

    queue = consumer_queue("timeline", "tickets", "ticket.created")
    marker = uuid.uuid4().hex
    publish_raw(suite_broker, json.dumps(valid_envelope(f"{marker}\x00", tenant.id)).encode())
    item = eventually(lambda marker=marker: dead_letter_for(queue, marker), DEADLINE, f"the failing event in {queue}")
    assert item["error"] and "PoisonMessage" not in item["error"], item
    assert item["deliveries"] == config.delivery_limit(), item  # retried, but not forever

    customer = create_customer(tenant.api)
    create_ticket(tenant.api, customer["id"])
    eventually(lambda: "ticket.created" in timeline_types(tenant.api, customer["id"]), DEADLINE,
               "a normal ticket on the timeline after the failing event")


def publish_not_json(suite_broker) -> str:
    marker = uuid.uuid4().hex
    publish_raw(suite_broker, f"<<{marker}: not json at all".encode())
    return marker


def test_a_body_that_is_not_json_does_not_stop_the_consumer(suite, suite_broker, tenant):
    publish_not_json(suite_broker)
    customer = create_customer(tenant.api)
    create_ticket(tenant.api, customer["id"])
    eventually(lambda: "ticket.created" in timeline_types(tenant.api, customer["id"]), DEADLINE,
               "a normal ticket on the timeline after a non-JSON message")
    assert suite.procs["timeline"].alive(), suite.tail("timeline")


def test_a_body_that_is_not_json_is_dead_lettered(suite, suite_broker):
    queue = consumer_queue("timeline", "tickets", "ticket.created")
    marker = publish_not_json(suite_broker)
    eventually(lambda: dead_letter_for(queue, marker), 5.0, f"the non-JSON message in {queue}")
