"""Quorum queues with a delivery limit and a dead-letter queue, against the real RabbitMQ.

nameko by default acks (drops) a message whose handler raised, and `requeue_on_error` alone loops
forever; custops' handler retries a bounded number of times, then dead-letters it with its error.
"""
import json
import time

import pytest
from kombu import Connection
from sqlalchemy import select

import probe
from custops import config, deadletters, outbox, topology
from custops.events import envelope_for, exchange_name


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture
def consumer(container_factory, nameko_config):
    engine = probe.create_probe_database()
    queue = topology.event_queue_name(probe.PROBE, "probe.happened", probe.ProbeService.name, "on_probe")
    with Connection(config.amqp_uri()) as conn:
        topology.declare(conn, topology.service_queues(probe.ProbeService))
        for name in (queue, topology.dead_letter_queue_name(queue)):
            conn.default_channel.queue_purge(name)
    probe.FAILING_LABELS.clear()
    probe.ATTEMPTS.clear()
    container = container_factory(probe.ProbeService, nameko_config)
    container.start()
    yield engine, queue
    probe.FAILING_LABELS.clear()


def effects(engine):
    with engine.connect() as c:
        return sorted(c.execute(select(probe.effects.c.n)).scalars())


def publish(*envelopes):
    outbox.Publisher().publish_batch([e.model_dump(mode="json") for e in envelopes])


def test_failing_event_is_retried_then_dead_lettered_with_its_error_and_later_events_flow(consumer, tenant_id):
    engine, queue = consumer
    probe.FAILING_LABELS.add("bad")
    bad = envelope_for(probe.ProbeHappened(n=1, label="bad"), tenant_id)
    good = envelope_for(probe.ProbeHappened(n=2, label="good"), tenant_id)
    publish(bad, good)

    assert wait_for(lambda: effects(engine) == [2]), "the good event must not be blocked by the bad one"
    dead = wait_for(lambda: deadletters.peek(queue))
    assert len(dead) == 1
    assert "probe 1 fails on purpose" in dead[0]["error"]
    assert json.loads(dead[0]["body"])["id"] == str(bad.id)
    assert probe.ATTEMPTS[1] == config.delivery_limit()  # bounded: not once, not forever
    assert effects(engine) == [2]

    # once the cause is fixed, an operator replays it and it is applied exactly once
    probe.FAILING_LABELS.clear()
    assert deadletters.replay(queue) == 1
    assert wait_for(lambda: effects(engine) == [1, 2])
    assert deadletters.peek(queue) == []


def test_message_that_is_not_an_envelope_is_dead_lettered_at_once(consumer, tenant_id):
    engine, queue = consumer
    with Connection(config.amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            {"hello": "not an envelope"}, exchange=exchange_name(probe.PROBE), routing_key="probe.happened",
            serializer="json", delivery_mode=2)
    dead = wait_for(lambda: deadletters.peek(queue))
    assert len(dead) == 1 and "not a valid probe.happened event" in dead[0]["error"]
    assert dead[0]["deliveries"] == 1

    publish(envelope_for(probe.ProbeHappened(n=7, label="fine"), tenant_id))
    assert wait_for(lambda: effects(engine) == [7])


def test_redelivered_event_changes_nothing(consumer, tenant_id):
    engine, _ = consumer
    event = envelope_for(probe.ProbeHappened(n=3, label="twice"), tenant_id)
    publish(event, event, event)
    assert wait_for(lambda: effects(engine) == [3])
    time.sleep(0.5)  # give the duplicates time to arrive
    assert effects(engine) == [3]
    with engine.connect() as c:
        from sqlalchemy import text

        assert c.execute(text("SELECT count(*) FROM inbox WHERE event_id = :i"), {"i": event.id}).scalar() == 1



def test_body_that_is_not_json_is_dead_lettered_not_dropped(consumer, tenant_id):
    engine, queue = consumer
    with Connection(config.amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            b"{not json at all", exchange=exchange_name(probe.PROBE), routing_key="probe.happened",
            content_type="application/json", content_encoding="utf-8", delivery_mode=2)
    dead = wait_for(lambda: deadletters.peek(queue))
    assert len(dead) == 1 and "undecodable" in dead[0]["error"]
    assert dead[0]["body"] == "{not json at all"

    publish(envelope_for(probe.ProbeHappened(n=8, label="still flowing"), tenant_id))
    assert wait_for(lambda: effects(engine) == [8])
