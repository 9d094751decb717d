"""The outbox relay inside a service's own process (issue 14), against the real RabbitMQ and
PostgreSQL: in a container (readiness, publishing once) and as a real `custops service` process
that dies after publishing or is killed with SIGKILL (nothing lost: the rows wait in the database)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from custops import config, outbox
from custops.db import transaction
from custops.events import exchange_name
from custops.service_relay import ServiceRelay, with_relay
from harness import eventually, free_port
from probe import PROBE, ProbeHappened, create_probe_database, metadata
from outboxprobe.service import OutboxProbeService

OUTBOX = metadata.tables["outbox"]
HERE = Path(__file__).resolve().parent
CUSTOPS = Path(sys.executable).parent / "custops"
CRASH_EXIT_CODE = 137  # custops.outbox.Relay._before_mark under CUSTOPS_RELAY_CRASH_AFTER_PUBLISH=1


@pytest.fixture
def probe_engine(custops_setup):
    return create_probe_database()


@pytest.fixture
def probe_queue():
    name = f"test-inprocess-relay-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, exchange=Exchange(exchange_name(PROBE), type="topic", durable=True),
                  routing_key="probe.happened", durable=False, auto_delete=False)
    with Connection(config.amqp_uri()) as conn:
        queue.bind(conn.channel()).declare()
        yield conn, queue
        queue.bind(conn.channel()).delete()


def received(conn, queue) -> list[str]:
    """Event ids waiting in the queue, taken off it."""
    ids = []
    with conn.channel() as ch:
        while (msg := queue.bind(ch).get(no_ack=True)) is not None:
            ids.append(json.loads(msg.body)["id"])
    return ids


def add_events(engine, tenant, count, label="x") -> list[str]:
    with transaction(engine, PROBE) as session:
        return [str(outbox.add(session, tenant, ProbeHappened(n=i, label=label)).id) for i in range(count)]


def pending(engine, tenant) -> int:
    with engine.connect() as c:
        return len(c.execute(select(OUTBOX.c.seq).where(OUTBOX.c.tenant_id == tenant,
                                                        OUTBOX.c.published_at.is_(None))).all())


def web_port(container) -> int:
    from nameko.web.server import WebServer

    [server] = [e for e in container.subextensions if isinstance(e, WebServer)]
    return server._sock.getsockname()[1]


# ------------------------------------------------------------------------------ in a container


@pytest.fixture
def service_with_relay(container_factory, nameko_config, probe_engine):
    container = container_factory(with_relay(OutboxProbeService), nameko_config)
    container.start()
    [relay] = [e for e in container.extensions if isinstance(e, ServiceRelay)]
    return container, relay


def test_the_in_process_relay_publishes_each_event_once_and_marks_it_sent(service_with_relay, probe_engine,
                                                                         probe_queue, tenant_id):
    conn, queue = probe_queue
    ids = add_events(probe_engine, tenant_id, 450)  # more than two batches
    got: list[str] = []
    eventually(lambda: got.extend(received(conn, queue)) or len(got) >= 450, 20, "all 450 published")
    time.sleep(0.5)
    got.extend(received(conn, queue))
    assert sorted(got) == sorted(ids)  # each once
    eventually(lambda: pending(probe_engine, tenant_id) == 0, 10, "every row marked sent")
    with probe_engine.connect() as c:
        statuses = set(c.execute(select(OUTBOX.c.status).where(OUTBOX.c.tenant_id == tenant_id)).scalars())
    assert statuses == {"sent"}


def test_readiness_covers_the_in_process_relay(service_with_relay, probe_engine, probe_queue, tenant_id):
    container, relay = service_with_relay
    readyz = f"http://127.0.0.1:{web_port(container)}/readyz"
    assert requests.get(readyz, timeout=5).status_code == 200

    relay.relay.publisher.reset()
    relay.relay.publisher.amqp_uri = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing listens
    add_events(probe_engine, tenant_id, 1)
    def unready(reason: str):
        answer = requests.get(readyz, timeout=5)  # (a Response is falsy when not ok: return its text)
        return answer.status_code == 503 and reason in answer.json()["reason"] and answer.text

    eventually(lambda: unready("outbox relay: last cycle failed (broker"), 10,
               "/readyz 503 while the relay cannot publish")

    relay.thread.kill()  # a relay that no longer runs
    eventually(lambda: unready("outbox relay not running"), 10, "/readyz says the relay is not running")


# ------------------------------------------------------------------- a real `custops service` process


class ProbeProcess:
    """`custops service outboxprobe` (relay in process) as a child process of the test."""

    def __init__(self, **env):
        self.port = free_port()
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
                        CUSTOPS_HTTP_PORT=str(self.port), **env)
        self.env.pop("CUSTOPS_RELAY", None)  # the default: in process
        self.popen = subprocess.Popen([str(CUSTOPS), "service", PROBE], env=self.env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)

    def ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            assert self.popen.poll() is None, self.output()
            return False

    def output(self) -> str:
        if self.popen.poll() is None:
            return "(running)"
        return self.popen.stdout.read()[-3000:]

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def processes():
    started: list[ProbeProcess] = []

    def start(**env) -> ProbeProcess:
        started.append(ProbeProcess(**env))
        return started[-1]

    yield start
    for p in started:
        p.stop()


def test_a_service_dying_between_publish_and_mark_publishes_its_rows_again_after_restart(
        probe_engine, probe_queue, tenant_id, processes):
    conn, queue = probe_queue
    ids = add_events(probe_engine, tenant_id, 5)  # pending before the service starts

    crashing = processes(CUSTOPS_RELAY_CRASH_AFTER_PUBLISH="1")
    assert crashing.popen.wait(timeout=60) == CRASH_EXIT_CODE, crashing.output()
    assert pending(probe_engine, tenant_id) == 5  # published, never marked: still in the outbox
    first: list[str] = []
    eventually(lambda: first.extend(received(conn, queue)) or len(first) >= 5, 10, "the first publish arrived")
    assert sorted(first) == sorted(ids)

    service = processes()
    eventually(service.ready, 60, "the restarted service ready")
    eventually(lambda: pending(probe_engine, tenant_id) == 0, 20, "the rows published again and marked")
    again: list[str] = []
    eventually(lambda: again.extend(received(conn, queue)) or len(again) >= 5, 10, "the second publish arrived")
    assert sorted(again) == sorted(ids)  # once more each (the consumers' inboxes absorb it), no more


def test_a_service_killed_with_sigkill_loses_no_event(probe_engine, probe_queue, tenant_id, processes):
    conn, queue = probe_queue
    service = processes()
    eventually(service.ready, 60, "the service ready")
    before = add_events(probe_engine, tenant_id, 3, label="before")
    eventually(lambda: pending(probe_engine, tenant_id) == 0, 20, "published while running")

    service.kill9()
    during = add_events(probe_engine, tenant_id, 250, label="while dead")  # committed, no relay running
    time.sleep(0.5)
    assert pending(probe_engine, tenant_id) == 250

    restarted = processes()
    eventually(restarted.ready, 60, "the service ready again")
    eventually(lambda: pending(probe_engine, tenant_id) == 0, 20, "the rows of the outage published")
    got: list[str] = []
    eventually(lambda: got.extend(received(conn, queue)) or len(got) >= 253, 10, "all events arrived")
    time.sleep(0.5)
    got.extend(received(conn, queue))
    assert sorted(got) == sorted(before + during)  # each once: nothing lost, nothing doubled
