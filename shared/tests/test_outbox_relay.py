"""The outbox and its relay against the real PostgreSQL and RabbitMQ."""
import json
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import select, text

from custops import config, inbox, outbox
from custops.db import transaction
from custops.events import exchange_name
from probe import PROBE, ProbeHappened, create_probe_database, metadata

OUTBOX = metadata.tables["outbox"]


@pytest.fixture
def probe_engine(custops_setup):
    return create_probe_database()


@pytest.fixture
def probe_queue():
    """A throwaway queue bound to the probe exchange, drained by the test."""
    name = f"test-probe-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(exchange_name(PROBE), type="topic", durable=True)
    queue = Queue(name, exchange=exchange, routing_key="probe.happened", durable=False, auto_delete=False)
    with Connection(config.amqp_uri()) as conn:
        queue.bind(conn.channel()).declare()
        yield conn, queue
        queue.bind(conn.channel()).delete()


def drain(conn, queue, expected, timeout=10):
    got = []
    with conn.channel() as ch:
        bound = queue.bind(ch)
        import time
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            msg = bound.get(no_ack=True)
            if msg is None:
                time.sleep(0.05)
                continue
            got.append(msg)
    return got


def add_events(engine, tenant, labels):
    with transaction(engine, PROBE) as session:
        return [outbox.add(session, tenant, ProbeHappened(n=i, label=lbl)) for i, lbl in enumerate(labels)]


def test_event_is_written_only_with_its_transaction(probe_engine, tenant_id):
    with pytest.raises(RuntimeError):
        with transaction(probe_engine, PROBE) as session:
            outbox.add(session, tenant_id, ProbeHappened(n=1))
            raise RuntimeError("the state change failed")
    with probe_engine.connect() as conn:
        assert conn.execute(select(OUTBOX).where(OUTBOX.c.tenant_id == tenant_id)).first() is None


def test_a_service_cannot_publish_another_services_event(probe_engine, tenant_id):
    from custops.contracts.tickets import TicketCreated
    from datetime import datetime, timezone

    with pytest.raises(ValueError, match="may not publish"):
        with transaction(probe_engine, PROBE) as session:
            outbox.add(session, tenant_id, TicketCreated(
                ticket_id=uuid.uuid4(), number=1, customer_id=uuid.uuid4(), subject="x", priority="low",
                status="new", source="api", created_at=datetime.now(timezone.utc)))


def test_relay_publishes_confirmed_persistent_messages_and_marks_them_sent(probe_engine, probe_queue, tenant_id):
    conn, queue = probe_queue
    envelopes = add_events(probe_engine, tenant_id, ["a", "b", "c"])
    relay = outbox.Relay(PROBE, batch_size=2)
    handled = 0
    while (n := relay.relay_once()):
        handled += n
    assert handled == 3

    messages = drain(conn, queue, 3)
    bodies = [json.loads(m.body) for m in messages]
    assert [b["id"] for b in bodies] == [str(e.id) for e in envelopes]  # in outbox order
    assert all(m.properties["delivery_mode"] == 2 for m in messages)
    assert messages[0].properties["message_id"] == str(envelopes[0].id)
    assert bodies[0]["data"] == {"n": 0, "label": "a"}
    with probe_engine.connect() as c:
        rows = c.execute(select(OUTBOX.c.status, OUTBOX.c.published_at).where(OUTBOX.c.tenant_id == tenant_id)).all()
    assert [r.status for r in rows] == ["sent"] * 3
    assert all(r.published_at is not None for r in rows)


def test_unroutable_event_is_marked_and_does_not_block_the_outbox(probe_engine, probe_queue, tenant_id):
    # no queue is bound to probe.unbound: the broker returns it under `mandatory`
    with transaction(probe_engine, PROBE) as session:
        session.execute(OUTBOX.insert().values(
            id=uuid.uuid4(), type="probe.unbound", tenant_id=tenant_id,
            envelope={"id": str(uuid.uuid4()), "type": "probe.unbound", "producer": PROBE, "version": 1,
                      "occurred_at": "2026-01-01T00:00:00+00:00", "tenant_id": str(tenant_id), "data": {}}))
    add_events(probe_engine, tenant_id, ["after"])
    relay = outbox.Relay(PROBE)
    while relay.relay_once():
        pass
    with probe_engine.connect() as c:
        rows = dict(c.execute(select(OUTBOX.c.type, OUTBOX.c.status).where(OUTBOX.c.tenant_id == tenant_id)).all())
    assert rows == {"probe.unbound": "unroutable", "probe.happened": "sent"}


def test_two_relays_at_once_publish_each_event_once(probe_engine, probe_queue, tenant_id):
    import eventlet

    conn, queue = probe_queue
    envelopes = add_events(probe_engine, tenant_id, [f"e{i}" for i in range(300)])
    relays = [outbox.Relay(PROBE, batch_size=25), outbox.Relay(PROBE, batch_size=25)]

    def drain_outbox(relay):
        total = 0
        while (n := relay.relay_once()):
            total += n
            eventlet.sleep(0)
        return total

    pool = eventlet.GreenPool()
    totals = list(pool.imap(drain_outbox, relays))
    assert sum(totals) == 300
    ids = [json.loads(m.body)["id"] for m in drain(conn, queue, 300)]
    assert sorted(ids) == sorted(str(e.id) for e in envelopes)  # all, and none twice


def test_crash_between_publish_and_mark_republishes_and_the_inbox_absorbs_it(probe_engine, probe_queue, tenant_id):
    conn, queue = probe_queue
    [envelope] = add_events(probe_engine, tenant_id, ["once"])

    class CrashingRelay(outbox.Relay):
        def _before_mark(self, rows):
            raise SystemExit("killed after publish, before marking sent")

    with pytest.raises(SystemExit):
        CrashingRelay(PROBE).relay_once()
    assert outbox.Relay(PROBE).relay_once() == 1  # the row was still pending: published again

    deliveries = [json.loads(m.body)["id"] for m in drain(conn, queue, 2)]
    assert deliveries == [str(envelope.id), str(envelope.id)]

    # a consumer recording the id in its inbox applies the effect once
    applied = 0
    for _ in deliveries:
        with transaction(probe_engine, PROBE) as session:
            if inbox.claim(session, "probe.consumer", envelope.id, envelope.type):
                applied += 1
    assert applied == 1
    with probe_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM inbox WHERE event_id = :i"), {"i": envelope.id}).scalar() == 1


def test_the_relay_publishes_each_envelope_with_its_outbox_sequence(probe_engine, probe_queue, tenant_id):
    conn, queue = probe_queue
    envelopes = add_events(probe_engine, tenant_id, ["first", "second", "third"])
    while outbox.Relay(PROBE).relay_once():
        pass
    bodies = [json.loads(m.body) for m in drain(conn, queue, 3)]
    with probe_engine.connect() as c:
        seqs = dict(c.execute(select(OUTBOX.c.id, OUTBOX.c.seq).where(OUTBOX.c.tenant_id == tenant_id)).all())
    assert [b["sequence"] for b in bodies] == [seqs[e.id] for e in envelopes] == [e.sequence for e in envelopes]
    assert bodies[0]["sequence"] < bodies[1]["sequence"] < bodies[2]["sequence"]  # the order they were written


# ------------------------------------------------------- relay_pending: batches overlapping (issue 14)


def test_relaying_what_is_pending_publishes_every_batch_once_in_outbox_order(probe_engine, probe_queue, tenant_id):
    conn, queue = probe_queue
    envelopes = add_events(probe_engine, tenant_id, [f"e{i}" for i in range(53)])
    relay = outbox.Relay(PROBE, batch_size=5)  # 11 batches, the last one short

    assert relay.relay_pending() == 53
    bodies = [json.loads(m.body) for m in drain(conn, queue, 53)]
    assert [b["id"] for b in bodies] == [str(e.id) for e in envelopes]  # each once, in outbox order
    assert [b["sequence"] for b in bodies] == [e.sequence for e in envelopes]
    with probe_engine.connect() as c:
        statuses = c.execute(select(OUTBOX.c.status).where(OUTBOX.c.tenant_id == tenant_id)).scalars().all()
    assert statuses == ["sent"] * 53
    assert relay.relay_pending() == 0
    for c in relay.conns:  # no transaction left open, no lock held
        assert c.info.transaction_status == c.info.transaction_status.IDLE


def test_two_relays_relaying_what_is_pending_at_once_publish_each_event_once(probe_engine, probe_queue, tenant_id):
    import eventlet

    conn, queue = probe_queue
    envelopes = add_events(probe_engine, tenant_id, [f"e{i}" for i in range(300)])
    relays = [outbox.Relay(PROBE, batch_size=20), outbox.Relay(PROBE, batch_size=20)]

    def relay_all(relay):
        total = 0
        while (n := relay.relay_pending()):
            total += n
            eventlet.sleep(0)
        return total

    totals = list(eventlet.GreenPool().imap(relay_all, relays))
    assert sum(totals) == 300
    ids = [json.loads(m.body)["id"] for m in drain(conn, queue, 300)]
    assert sorted(ids) == sorted(str(e.id) for e in envelopes)  # all, and none twice


def test_a_crash_after_a_batch_was_confirmed_republishes_that_batch_and_loses_nothing(probe_engine, probe_queue,
                                                                                     tenant_id):
    conn, queue = probe_queue
    envelopes = add_events(probe_engine, tenant_id, [f"e{i}" for i in range(12)])
    ids = [str(e.id) for e in envelopes]

    class CrashingRelay(outbox.Relay):
        batches = 0

        def _before_mark(self, rows):
            self.batches += 1
            if self.batches == 2:  # the first batch is being marked; the third is claimed
                raise SystemExit("killed after publishing the second batch, before marking it")

    with pytest.raises(SystemExit):
        CrashingRelay(PROBE, batch_size=4).relay_pending()
    with probe_engine.connect() as c:
        pending = c.execute(select(OUTBOX.c.id).where(OUTBOX.c.tenant_id == tenant_id,
                                                      OUTBOX.c.published_at.is_(None))).scalars().all()
    assert sorted(str(i) for i in pending) == sorted(ids[4:])  # the first batch was marked, no more

    assert outbox.Relay(PROBE, batch_size=4).relay_pending() == 8
    deliveries = [json.loads(m.body)["id"] for m in drain(conn, queue, 16)]
    assert deliveries == ids[:8] + ids[4:]  # the second batch twice (the inboxes absorb it), nothing lost


@pytest.mark.parametrize("traceparent", ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "", None])
def test_the_relays_own_property_encoding_is_byte_for_byte_py_amqps(traceparent):
    import amqp

    message_id = str(uuid.uuid4())
    standard = amqp.Message(b"{}", **outbox.message_properties(message_id, "ticket.created", "tickets", traceparent))
    assert outbox.encode_properties(message_id, "ticket.created", "tickets", traceparent) \
        == standard._serialize_properties()


def test_a_row_committed_after_later_rows_were_relayed_is_relayed_by_the_next_drain(probe_engine, probe_queue,
                                                                                    tenant_id):
    conn, queue = probe_queue
    from sqlalchemy.orm import Session

    late = Session(probe_engine)
    late.info["service"] = PROBE
    early_seq = outbox.add(late, tenant_id, ProbeHappened(n=99, label="late")).sequence  # not committed yet
    later = add_events(probe_engine, tenant_id, [f"e{i}" for i in range(12)])
    assert all(e.sequence > early_seq for e in later)
    relay = outbox.Relay(PROBE, batch_size=4)
    try:
        assert relay.relay_pending() == 12  # each batch past the last: the drain went beyond early_seq
        late.commit()
    finally:
        late.close()
    assert relay.relay_pending() == 1  # the next drain starts from the bottom
    bodies = [json.loads(m.body) for m in drain(conn, queue, 13)]
    assert [b["sequence"] for b in bodies] == [e.sequence for e in later] + [early_seq]


def test_confirms_settle_singly_and_by_multiple_acks_and_a_nack_is_kept():
    publisher = outbox.Publisher("amqp://guest:guest@127.0.0.1:1//")  # never connects here
    publisher._next_tag = 10  # a batch after ten earlier messages on the channel: tags 11..16
    publisher._pending, publisher._nacked, publisher._unsettled_from = set(range(11, 17)), set(), 11
    publisher._on_ack(12, False)
    publisher._on_ack(13, True)  # 11 and 13 (12 is already settled)
    assert publisher._pending == {14, 15, 16}
    publisher._on_nack(15, False)
    publisher._on_ack(16, True)
    assert publisher._pending == set() and publisher._nacked == {15}


def test_the_published_body_is_the_published_form_of_the_stored_envelope():
    envelope = {"id": "e1", "type": "probe.happened", "data": {"n": 1, "label": "a}"}, "traceparent": None}
    assert json.loads(outbox._body(7, json.dumps(envelope))) == outbox.published_form(7, envelope)
    assert json.loads(outbox._body(8, "{}")) == {"sequence": 8}
