"""Surviving the broker and the database (issue 13), in process, against the real RabbitMQ and
PostgreSQL: the RPC client's circuit and pool, consumers that reconnect, readiness, transient handler
failures, a database outage as `ServiceUnavailable`, and the relay across an outage.

The broker "goes away" through a TCP proxy (tests/tcp_proxy.py) that the test cuts: the clients and
containers behind it lose their connections and are refused new ones, while the broker itself —
shared with everybody else — never stops. The end-to-end tests with a real broker restart are in
tests/faults/test_broker_restart.py.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from kombu import Connection, Exchange, Queue
from nameko.testing.utils import get_extension

import probe
from custops import config, db, entrypoints, metrics, outbox, topology
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Readiness, Telemetry, consumes
from custops.errors import ServiceTimeout, ServiceUnavailable
from custops.events import envelope_for, exchange_name
from custops.rpc import Circuit, RpcClient
from custops.rpc_entrypoint import rpc
from tcp_proxy import TcpProxy

for _svc in ("OUTAGEPROBE",):
    os.environ[f"DATABASE_URL_{_svc}"] = config.database_url(probe.PROBE)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# ------------------------------------------------------------------------------------ the circuit


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_circuit_opens_on_a_failure_fails_fast_then_lets_one_probe_through():
    clock = FakeClock()
    circuit = Circuit(open_for=1.0, clock=clock)
    assert circuit.admit() and circuit.admit()  # closed: everybody
    circuit.failed("refused")
    assert circuit.is_open and not circuit.admit()
    clock.now += 0.99
    assert not circuit.admit()
    clock.now += 0.02
    assert circuit.admit()  # the probe
    assert not circuit.admit(), "one probe at a time"
    circuit.failed("still refused")  # the probe failed: open again for a second
    assert not circuit.admit()
    clock.now += 1.01
    assert circuit.admit()
    circuit.succeeded()
    assert not circuit.is_open and circuit.admit() and circuit.admit()


def test_a_probe_that_said_nothing_about_the_broker_lets_the_next_caller_probe():
    clock = FakeClock()
    circuit = Circuit(open_for=1.0, clock=clock)
    circuit.failed("refused")
    clock.now += 2
    assert circuit.admit()
    circuit.release_probe()
    assert circuit.admit()


def test_a_probe_that_failed_unexpectedly_does_not_leave_the_circuit_open_for_good(monkeypatch):
    clock = FakeClock()
    client = RpcClient(f"amqp://guest:guest@127.0.0.1:{closed_port()}//", timeout=1, circuit=Circuit(clock=clock))
    client.circuit.failed("refused")
    clock.now += 2

    def broken_checkout():
        raise ValueError("not a broker error")

    monkeypatch.setattr(client, "_checkout", broken_checkout)
    with pytest.raises(ValueError):
        client.call("outageprobe", "echo", 1)
    assert client.circuit.admit(), "the next caller may probe"


# --------------------------------------------------------------------- the client, broker unreachable


def test_calls_fail_fast_with_service_unavailable_while_the_broker_is_unreachable():
    client = RpcClient(f"amqp://guest:guest@127.0.0.1:{closed_port()}//", timeout=3)
    before = metrics.RPC_CLIENT_CALLS.labels("outageprobe", "echo", "unavailable")._value.get()
    timings = []
    for _ in range(20):
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="message broker unreachable"):
            client.call("outageprobe", "echo", 1)
        timings.append(time.monotonic() - started)
    # kombu's own retries sleep 2 s and more per attempt: a 503 must not wait for them
    assert max(timings) < 0.5, timings
    assert client.circuit.is_open
    assert metrics.RPC_CLIENT_CALLS.labels("outageprobe", "echo", "unavailable")._value.get() - before == 20


# ------------------------------------------------------------------------- a service behind a proxy

HANDLED: list[int] = []
DEPENDENCY_DOWN: dict[int, int] = {}  # n -> how many more deliveries fail with ServiceUnavailable


class OutageProbeService(HealthEndpoints):
    name = "outageprobe"

    db = Database()
    telemetry = Telemetry()

    @rpc
    def echo(self, value):
        return value

    @consumes(probe.PROBE, "probe.happened")
    def on_probe(self, session, envelope, data):
        if DEPENDENCY_DOWN.get(data.n, 0) > 0:
            DEPENDENCY_DOWN[data.n] -= 1
            raise ServiceUnavailable("customers: message broker unreachable (a dependency, on purpose)")
        session.execute(probe.effects.insert().values(n=data.n, label=data.label))
        HANDLED.append(data.n)


@pytest.fixture
def broker_proxy():
    parts = urlsplit(config.amqp_uri())
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672).start()
    yield proxy
    proxy.close()


@pytest.fixture
def outage_service(container_factory, nameko_config, broker_proxy):
    """The probe service on the proxy, with its queues declared and empty."""
    probe.create_probe_database()
    HANDLED.clear()
    DEPENDENCY_DOWN.clear()
    queue = topology.event_queue_name(probe.PROBE, "probe.happened", OutageProbeService.name, "on_probe")
    with Connection(config.amqp_uri()) as conn:
        topology.declare(conn, topology.service_queues(OutageProbeService))
        for name in (queue, topology.dead_letter_queue_name(queue)):
            conn.default_channel.queue_purge(name)
    cfg = dict(nameko_config, AMQP_URI=broker_proxy.uri_for(config.amqp_uri()))
    container = container_factory(OutageProbeService, cfg)
    container.start()
    return container, queue


def publish(*envelopes):
    outbox.Publisher().publish_batch([e.model_dump(mode="json") for e in envelopes])


def test_a_service_and_its_callers_outlive_the_broker_going_away(outage_service, broker_proxy, tenant_id):
    container, _ = outage_service
    readiness = get_extension(container, Readiness)
    client = RpcClient(broker_proxy.uri_for(config.amqp_uri()), timeout=3)
    try:
        assert client.call("outageprobe", "echo", "before") == "before"
        assert readiness.problems() == []

        broker_proxy.cut()
        down = wait_for(lambda: readiness.problems(), timeout=5)
        assert any("no broker connection" in p for p in down), down
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            client.call("outageprobe", "echo", "during")
        assert time.monotonic() - started < 1.0, "a call while the broker is gone fails at once"
        during = envelope_for(probe.ProbeHappened(n=1, label="published while the service was cut off"), tenant_id)
        publish(during)  # straight to the broker: it waits in the service's queue

        broker_proxy.restore()
        assert wait_for(lambda: readiness.problems() == [], timeout=5), readiness.problems()
        answers = []

        def call_until_answered():
            try:
                answers.append(client.call("outageprobe", "echo", "after"))
            except ServiceUnavailable:  # the circuit's last second
                return False
            return True

        assert wait_for(call_until_answered, timeout=3, interval=0.2)
        assert answers == ["after"]
        assert wait_for(lambda: HANDLED == [1], timeout=10), HANDLED
        assert not container._died.ready(), "the container survived"
    finally:
        client.close()


def test_pooled_connections_the_broker_closed_are_replaced_not_timed_out(outage_service, broker_proxy):
    """The broker dropped every connection between two calls: the next call is answered at once, on
    a new connection (the pooled one is seen to be closed before it is lent)."""
    client = RpcClient(broker_proxy.uri_for(config.amqp_uri()), timeout=3, size=2)
    try:
        assert client.call("outageprobe", "echo", 1) == 1
        broker_proxy.cut()
        broker_proxy.restore()
        container, _ = outage_service
        readiness = get_extension(container, Readiness)
        assert wait_for(lambda: readiness.problems() == [], timeout=5)
        started = time.monotonic()
        assert client.call("outageprobe", "echo", 2) == 2  # no ServiceTimeout, no ServiceUnavailable
        assert time.monotonic() - started < 1.0
    finally:
        client.close()


def test_a_handler_whose_dependency_is_unavailable_is_requeued_never_dead_lettered(outage_service, tenant_id,
                                                                                     monkeypatch):
    """More failed deliveries than the delivery limit, all for want of a dependency: the event is
    handled once the dependency is back, not dead-lettered as a poison message."""
    from custops import deadletters

    monkeypatch.setattr(entrypoints, "DEPENDENCY_PAUSE_SECONDS", 0.1)
    _, queue = outage_service
    failures = config.delivery_limit() + 1  # past our limit, within the broker's backstop (ours + 2)
    DEPENDENCY_DOWN[7] = failures
    publish(envelope_for(probe.ProbeHappened(n=7, label="needs customers"), tenant_id))
    assert wait_for(lambda: HANDLED == [7], timeout=20), (HANDLED, DEPENDENCY_DOWN)
    assert DEPENDENCY_DOWN[7] == 0
    assert deadletters.peek(queue) == []


# ------------------------------------------------------------------------------ database unreachable


class DeadDatabaseService(HealthEndpoints):
    name = "deaddbprobe"

    db = Database()

    @rpc
    def read_something(self):
        with self.db.read() as session:
            from sqlalchemy import text

            return session.execute(text("SELECT 1")).scalar()


def test_a_database_that_does_not_answer_is_a_service_unavailable_for_the_caller(container_factory, nameko_config,
                                                                                  monkeypatch):
    monkeypatch.setenv("DATABASE_URL_DEADDBPROBE", f"postgresql://postgres@127.0.0.1:{closed_port()}/nothing")
    container = container_factory(DeadDatabaseService, nameko_config)
    container.start()
    client = RpcClient(timeout=5)
    try:
        # registered with nameko: the caller gets our exception (the gateway's 503), not a RemoteError (502)
        with pytest.raises(ServiceUnavailable, match="deaddbprobe: database unavailable"):
            client.call("deaddbprobe", "read_something")
        problems = get_extension(container, Readiness).problems()
        assert any("database unreachable" in p for p in problems), problems
        assert not container._died.ready()
    finally:
        client.close()
        db._engines.pop(config.database_url("deaddbprobe"), None)


def test_only_connection_failures_count_as_an_unavailable_database():
    import psycopg
    from sqlalchemy import exc as sa_exc

    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert db.is_unavailable(refused)
    assert db.is_unavailable(sa_exc.OperationalError("SELECT 1", {}, refused))
    assert db.is_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))
    assert not db.is_unavailable(sa_exc.IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("dup")))
    assert not db.is_unavailable(ValueError("not a database error"))


def test_service_errors_travel_over_rpc_as_themselves():
    from nameko.exceptions import deserialize, serialize

    for exc in (ServiceUnavailable("customers: database unavailable"), ServiceTimeout("slow")):
        back = deserialize(serialize(exc))
        assert type(back) is type(exc) and str(back) == str(exc)


# ------------------------------------------------------------------------------- the relay, cut off


def test_the_relay_resumes_after_the_broker_comes_back_and_publishes_each_event_once(broker_proxy, tenant_id,
                                                                                      custops_setup):
    engine = probe.create_probe_database()
    name = f"test-relay-outage-{uuid.uuid4().hex[:8]}"
    exchange = Exchange(exchange_name(probe.PROBE), type="topic", durable=True)
    queue = Queue(name, exchange=exchange, routing_key="probe.happened", durable=False, auto_delete=False)
    relay = outbox.Relay(probe.PROBE, batch_size=50, idle_wait=0.2,
                         publisher=outbox.Publisher(broker_proxy.uri_for(config.amqp_uri())))
    thread = threading.Thread(target=relay.run, daemon=True)
    with Connection(config.amqp_uri()) as conn:
        queue.bind(conn.channel()).declare()
        try:
            thread.start()
            broker_proxy.cut()
            with db.transaction(engine, probe.PROBE) as session:
                ids = {str(outbox.add(session, tenant_id, probe.ProbeHappened(n=i, label="outage")).id)
                       for i in range(30)}
            assert wait_for(lambda: relay.last_failure, timeout=5), "the relay noticed the broker is gone"
            problems = relay.problems()
            assert any("broker unreachable" in p for p in problems), problems
            broker_proxy.restore()
            got = []

            def drained():
                with conn.channel() as ch:
                    while (msg := queue.bind(ch).get(no_ack=True)) is not None:
                        got.append(msg.properties["message_id"])
                return len(got) >= len(ids)

            assert wait_for(drained, timeout=15), f"{len(got)} of {len(ids)} published"
            time.sleep(0.5)
            drained()
            assert sorted(got) == sorted(ids), "each event published once"
            assert wait_for(lambda: relay.problems() == [], timeout=5), relay.problems()
        finally:
            relay.stop()
            thread.join(timeout=5)
            queue.bind(conn.channel()).delete()


# ------------------------------------------------------------------------------------ the services


@pytest.mark.parametrize("service", config.SERVICES)
def test_every_rpc_entrypoint_of_every_service_is_custops_own(service):
    """nameko's own `rpc` beside ours would add a second consumer of the service's queue, one that
    dies with the broker; every service imports `custops.rpc_entrypoint.rpc` only."""
    from nameko.containers import ServiceContainer
    from nameko.rpc import Rpc

    from custops.rpc_entrypoint import ResilientRpc
    from custops.runtime import load_service_class

    container = ServiceContainer(load_service_class(service), {"AMQP_URI": "memory://"})
    rpcs = [ep for ep in container.entrypoints if isinstance(ep, Rpc)]
    assert rpcs, f"{service} has no RPC entrypoint"
    foreign = sorted(ep.method_name for ep in rpcs if not isinstance(ep, ResilientRpc))
    assert not foreign, f"{service}: nameko's own rpc on {foreign}"
