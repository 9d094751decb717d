"""Event consumers handle their deliveries in batches, one transaction each (issue 14), against the
real RabbitMQ and PostgreSQL: a poison message is still dead-lettered alone and its handler runs once
per delivery, duplicates are skipped inside a batch and across batches, a transient failure holds
and requeues the messages it concerns, the order of a queue is kept; and the splitting rule itself
(`custops.event_batches.handle`) on real transactions."""
from __future__ import annotations

import os
import time
import uuid

import pytest
from kombu import Connection
from sqlalchemy import func, select, text

import probe
from custops import config, db, deadletters, entrypoints, event_batches, outbox, topology
from custops.db import Database, DatabaseAccess
from custops.entrypoints import Telemetry, consumes
from custops.errors import ServiceUnavailable
from custops.events import Envelope, envelope_for

os.environ["DATABASE_URL_BATCHPROBE"] = config.database_url(probe.PROBE)

HANDLED: list[int] = []  # n, in the order the handler ran
FAIL: set[int] = set()  # n whose handler raises RuntimeError
UNAVAILABLE: dict[int, int] = {}  # n -> how many more times its handler raises ServiceUnavailable


class BatchProbeService:
    name = "batchprobe"

    db = Database()
    telemetry = Telemetry()

    @consumes(probe.PROBE, "probe.happened")
    def on_probe(self, session, envelope, data):
        HANDLED.append(data.n)
        if data.n in FAIL:
            raise RuntimeError(f"probe {data.n} fails on purpose")
        if UNAVAILABLE.get(data.n, 0) > 0:
            UNAVAILABLE[data.n] -= 1
            raise ServiceUnavailable("customers: unreachable (on purpose)")
        session.execute(probe.effects.insert().values(n=data.n, label=data.label))


QUEUE = topology.event_queue_name(probe.PROBE, "probe.happened", BatchProbeService.name, "on_probe")


def wait_for(predicate, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def events(*numbers, tenant_id):
    return [envelope_for(probe.ProbeHappened(n=n, label=f"n{n}"), tenant_id) for n in numbers]


def publish(envelopes):
    publisher = outbox.Publisher()
    try:
        assert publisher.publish_batch([e.model_dump(mode="json") for e in envelopes]) == set()
    finally:
        publisher.close()


@pytest.fixture
def engine(custops_setup):
    engine = probe.create_probe_database()
    with Connection(config.amqp_uri()) as conn:
        topology.declare(conn, topology.service_queues(BatchProbeService))
        for name in (QUEUE, topology.dead_letter_queue_name(QUEUE)):
            conn.default_channel.queue_purge(name)
    HANDLED.clear()
    FAIL.clear()
    UNAVAILABLE.clear()
    yield engine
    FAIL.clear()


@pytest.fixture
def start(container_factory, nameko_config):
    """Start the consumer once the test has queued its events, so that they arrive as one backlog."""
    def started():
        container = container_factory(BatchProbeService, nameko_config)
        container.start()
        return container
    return started


def effects(engine):
    with engine.connect() as c:
        return sorted(c.execute(select(probe.effects.c.n)).scalars())


def transactions(engine) -> int:
    """How many consuming transactions committed (now() is the transaction's start, one per batch)."""
    with engine.connect() as c:
        return c.execute(text("SELECT count(DISTINCT received_at) FROM inbox "
                              "WHERE consumer = 'batchprobe.on_probe'")).scalar()


def test_a_backlog_is_consumed_in_batches_in_queue_order(engine, start, tenant_id):
    publish(events(*range(300), tenant_id=tenant_id))
    start()
    assert wait_for(lambda: len(effects(engine)) == 300), len(effects(engine))
    assert HANDLED == list(range(300)), "one batch at a time, each in delivery order"
    assert transactions(engine) <= 300 // 10, f"{transactions(engine)} transactions for 300 events"


def test_a_poison_message_in_a_batch_is_dead_lettered_alone_and_tried_once_per_delivery(engine, start, tenant_id):
    FAIL.add(25)
    batch = events(*range(50), tenant_id=tenant_id)
    publish(batch)
    start()
    assert wait_for(lambda: deadletters.peek(QUEUE)), "the poison message is dead-lettered"
    assert wait_for(lambda: effects(engine) == [n for n in range(50) if n != 25])
    dead = deadletters.peek(QUEUE)
    assert len(dead) == 1 and "probe 25 fails on purpose" in dead[0]["error"]
    assert dead[0]["deliveries"] == config.delivery_limit()
    assert HANDLED.count(25) == config.delivery_limit(), "its handler ran once per delivery, not once per retry"
    assert all(HANDLED.count(n) <= 2 for n in range(50) if n != 25), "the others at most re-run once"
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM inbox WHERE consumer = 'batchprobe.on_probe'")).scalar() == 49


def test_duplicates_inside_a_batch_and_across_batches_change_nothing(engine, start, tenant_id):
    first, second, third = events(1, 2, 3, tenant_id=tenant_id)
    publish([first])
    start()
    assert wait_for(lambda: effects(engine) == [1])
    publish([second, second, first, third, second, third])
    assert wait_for(lambda: effects(engine) == [1, 2, 3])
    time.sleep(0.5)  # the copies have had time to arrive
    assert effects(engine) == [1, 2, 3]
    assert sorted(HANDLED) == [1, 2, 3], "a duplicate never reaches the handler"
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM inbox WHERE consumer = 'batchprobe.on_probe'")).scalar() == 3


def test_a_transient_failure_in_a_batch_holds_and_requeues_never_dead_letters(engine, start, tenant_id, monkeypatch):
    monkeypatch.setattr(entrypoints, "DEPENDENCY_PAUSE_SECONDS", 0.1)
    UNAVAILABLE[10] = config.delivery_limit() + 1  # past our limit, within the broker's backstop
    publish(events(*range(20), tenant_id=tenant_id))
    start()
    assert wait_for(lambda: effects(engine) == list(range(20))), effects(engine)
    assert UNAVAILABLE[10] == 0
    assert deadletters.peek(QUEUE) == []
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM inbox WHERE consumer = 'batchprobe.on_probe'")).scalar() == 20


# ---------------------------------------------------------------- the splitting rule, on real transactions

def parsed(numbers, tenant_id):
    deliveries = []
    for envelope in events(*numbers, tenant_id=tenant_id):
        doc = envelope.model_dump(mode="json")
        d = event_batches.Delivery(doc, message=None)
        d.envelope = Envelope.model_validate(doc)
        d.data = d.envelope.payload()
        deliveries.append(d)
    return deliveries


def run(engine, deliveries, fail=(), unavailable=()):
    calls = []

    def handler(session, envelope, data):
        calls.append(data.n)
        if data.n in fail:
            raise RuntimeError(f"{data.n} fails")
        if data.n in unavailable:
            raise ServiceUnavailable("down")
        session.execute(probe.effects.insert().values(n=data.n, label=data.label))

    access = DatabaseAccess(engine, probe.PROBE, "batchprobe.split")
    event_batches.handle(access, deliveries, handler, lambda exc: isinstance(exc, ServiceUnavailable))
    return calls


def outcomes(deliveries):
    return [d.outcome for d in deliveries]


def test_a_failing_message_splits_its_batch_the_others_commit_and_it_ran_once(engine, tenant_id):
    deliveries = parsed(range(6), tenant_id)
    calls = run(engine, deliveries, fail={2, 4})
    assert outcomes(deliveries) == ["new", "new", "failed", "new", "failed", "new"]
    assert "2 fails" in str(deliveries[2].exc_info[1]) and "4 fails" in str(deliveries[4].exc_info[1])
    assert calls.count(2) == 1 and calls.count(4) == 1
    assert effects(engine) == [0, 1, 3, 5]


def test_a_transient_failure_fails_its_message_and_the_rest_the_ones_before_commit(engine, tenant_id):
    deliveries = parsed(range(5), tenant_id)
    run(engine, deliveries, unavailable={2})
    assert outcomes(deliveries) == ["new", "new", "failed", "failed", "failed"]
    assert effects(engine) == [0, 1]


def test_a_failure_of_the_whole_batch_is_retried_one_message_at_a_time(engine, tenant_id, monkeypatch):
    deliveries = parsed(range(3), tenant_id)
    real = event_batches.inbox.claim_many
    seen = []

    def claim_fails_for_batches(session, consumer, ids):
        seen.append(len(ids))
        if len(ids) > 1:
            raise RuntimeError("the claim of a batch fails")
        return real(session, consumer, ids)

    monkeypatch.setattr(event_batches.inbox, "claim_many", claim_fails_for_batches)
    run(engine, deliveries)
    assert seen == [3, 1, 1, 1]
    assert outcomes(deliveries) == ["new", "new", "new"]
    assert effects(engine) == [0, 1, 2]


def test_the_inbox_claims_a_batch_in_one_statement_and_reports_only_new_ids(engine):
    from custops import inbox

    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with db.transaction(engine, probe.PROBE) as session:
        assert inbox.claim_many(session, "batchprobe.claim", [(a, "t"), (b, "t")]) == {a, b}
    with db.transaction(engine, probe.PROBE) as session:
        assert inbox.claim_many(session, "batchprobe.claim", [(b, "t"), (c, "t"), (c, "t")]) == {c}
        assert inbox.claim_many(session, "batchprobe.claim", []) == set()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inbox._TABLE)
                            .where(inbox._TABLE.c.consumer == "batchprobe.claim")).scalar() == 3


def test_a_batch_span_links_each_event_trace_parsed_by_hand():
    link = entrypoints._link({"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    assert format(link.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert format(link.context.span_id, "016x") == "00f067aa0ba902b7" and link.context.trace_flags == 1
    for broken in ({}, {"traceparent": None}, {"traceparent": "garbage"}, "not a dict",
                   {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
                   {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"}):
        assert entrypoints._link(broken) is None


def test_held_inserts_run_in_order_before_a_read_and_before_the_commit(engine, tenant_id):
    deliveries = parsed(range(4), tenant_id)
    counted = []

    def handler(session, envelope, data):
        session.execute(probe.effects.insert().values(n=data.n, label=data.label))
        if data.n == 2:  # sees the INSERTs the handlers before it held, and its own
            counted.append(session.execute(select(func.count()).select_from(probe.effects)).scalar())

    access = DatabaseAccess(engine, probe.PROBE, "batchprobe.held")
    event_batches.handle(access, deliveries, handler, lambda exc: False)
    assert counted == [3]
    assert outcomes(deliveries) == ["new"] * 4
    assert effects(engine) == [0, 1, 2, 3]


def test_a_held_insert_that_fails_is_found_by_retrying_one_message_at_a_time(engine, tenant_id):
    deliveries = parsed(range(4), tenant_id)
    calls = []

    def handler(session, envelope, data):
        calls.append(data.n)
        # NOT NULL violated for 1, known only when the held INSERTs are sent
        session.execute(probe.effects.insert().values(n=data.n, label=None if data.n == 1 else data.label))

    access = DatabaseAccess(engine, probe.PROBE, "batchprobe.held")
    event_batches.handle(access, deliveries, handler, lambda exc: False)
    assert outcomes(deliveries) == ["new", "failed", "new", "new"]
    assert "label" in str(deliveries[1].exc_info[1])
    assert calls == [0, 1, 2, 3, 0, 1, 2, 3], "the batch, then each message alone"
    assert effects(engine) == [0, 2, 3]


def test_work_once_per_batch_runs_once_per_key_after_the_last_handler_in_the_transaction(engine, tenant_id):
    deliveries = parsed(range(5), tenant_id)
    summaries = []

    def handler(session, envelope, data):
        session.execute(probe.effects.insert().values(n=data.n, label=data.label))

        def summarise(key=data.n % 2):
            count = session.execute(select(func.count()).select_from(probe.effects)).scalar()
            summaries.append((key, count))
        event_batches.once_before_commit(session, ("parity", data.n % 2), summarise)

    access = DatabaseAccess(engine, probe.PROBE, "batchprobe.once")
    event_batches.handle(access, deliveries, handler, lambda exc: False)
    assert outcomes(deliveries) == ["new"] * 5
    assert summaries == [(0, 5), (1, 5)], "once per key, after every handler of the batch"
    assert effects(engine) == [0, 1, 2, 3, 4]


def test_work_once_per_batch_that_fails_isolates_its_message(engine, tenant_id):
    deliveries = parsed(range(4), tenant_id)
    runs = []

    def handler(session, envelope, data):
        session.execute(probe.effects.insert().values(n=data.n, label=data.label))

        def summarise(n=data.n):
            runs.append(n)
            if n == 2:
                raise RuntimeError("the summary of 2 fails")
        event_batches.once_before_commit(session, ("n", data.n), summarise)

    access = DatabaseAccess(engine, probe.PROBE, "batchprobe.once")
    event_batches.handle(access, deliveries, handler, lambda exc: False)
    assert outcomes(deliveries) == ["new", "new", "failed", "new"]
    assert effects(engine) == [0, 1, 3]


def test_work_once_per_batch_runs_at_once_outside_a_batch():
    class Session:
        info: dict = {}
    ran = []
    event_batches.once_before_commit(Session(), "k", lambda: ran.append(1))
    assert ran == [1]


def test_only_an_insert_whose_result_is_not_needed_is_held():
    from sqlalchemy import update

    table = probe.effects
    assert event_batches._holdable(table.insert().values(n=1, label="x"), None)
    assert event_batches._holdable(table.insert(), {"n": 1, "label": "x"})
    assert not event_batches._holdable(table.insert().values(label="x"), None), "its key is generated"
    assert not event_batches._holdable(table.insert().values(n=1, label="x").returning(table.c.n), None)
    assert not event_batches._holdable(table.insert(), [{"n": 1, "label": "x"}, {"n": 2, "label": "y"}])
    assert not event_batches._holdable(update(table).values(label="y"), None)
    assert not event_batches._holdable(select(table), None)
