#!/usr/bin/env python3
"""Event consumer benchmark (a script, not a test; bounded, prints numbers and ratios).

(a) Drain rate: N `ticket.created` envelopes are published (persistent, with their `traceparent`, as
    the outbox relay sends them) into the timeline's and the reports' queues, declared as the setup
    step declares them, in a throwaway virtual host (`custops_bench_consumers`). Then the real
    service process (`custops service timeline`, later `custops service reports`) is started against
    a scratch database (prefix `custops_bench_consumers_`) and timed from its first committed event
    to its last (the inbox row count, polled): events/s and the service's CPU per event.
(b) The bare loop: the same rows (inbox claim plus the activity, resp. the ticket fact) inserted
    with psycopg directly, one transaction per batch of `--batch` events (the consumers' batch
    size), the inbox claim one multi-row statement, the effects one `executemany`. Ratio = (a)/(b).
(c) Latency at a steady rate: with the timeline service idle, envelopes are published one by one
    at `--rate` per second; publish → commit lag from the envelope's `occurred_at` to its inbox row's
    `received_at` (the start of the consuming transaction, same clock): p50 / p99 / max.

Bounded: each drain is capped at `CAP_SECONDS` (the rate so far is printed, marked "capped"). At
the end the bench's queues are deleted (the vhost is kept: it held quorum queues) and the scratch
databases dropped.

    .venv/bin/python tests/bench/consumer_bench.py [--events 20000] [--batch 100] [--rate 150]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # tests/harness.py

os.environ["CUSTOPS_DB_PREFIX"] = "custops_bench_consumers_"

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

BENCH_VHOST = "custops_bench_consumers"
CAP_SECONDS = 60.0
SERVICES = ("timeline", "reports")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def say(line: str = "") -> None:
    print(line, flush=True)


def envelopes(n: int, tenant: uuid.UUID) -> list[dict]:
    from custops.contracts.tickets import TicketCreated
    from custops.events import envelope_for

    customers = [uuid.uuid4() for _ in range(50)]
    now = datetime.now(timezone.utc)
    return [envelope_for(TicketCreated(
        ticket_id=uuid.uuid4(), number=i + 1, customer_id=customers[i % len(customers)], subject=f"bench {i}",
        priority="normal", status="new", source="api", created_at=now), tenant, traceparent=TRACEPARENT,
        sequence=i + 1).model_dump(mode="json") for i in range(n)]


def publish(amqp_uri: str, docs: list[dict], chunk: int = 1000) -> None:
    from custops.outbox import Publisher

    publisher = Publisher(amqp_uri)
    try:
        for i in range(0, len(docs), chunk):
            assert publisher.publish_batch(docs[i:i + chunk]) == set(), "unroutable: queues not declared"
    finally:
        publisher.close()


def service_queues():
    from custops import topology
    from custops.runtime import load_service_class

    return [q for name in SERVICES for q in topology.service_queues(load_service_class(name))]


def purge(amqp_uri: str, queues) -> None:
    from kombu import Connection

    with Connection(amqp_uri) as conn:
        for q in queues:
            conn.default_channel.queue_purge(q.name)


def scratch_databases() -> dict:
    from custops import db, migrations

    engines = {}
    for name in SERVICES:
        migrations.create_database(name)
        migrations.upgrade(name)
        engines[name] = db.engine_for(name)
    empty(engines)
    return engines


def empty(engines) -> None:
    from sqlalchemy import text

    with engines["timeline"].begin() as conn:
        conn.execute(text("TRUNCATE inbox, activities"))
    with engines["reports"].begin() as conn:
        conn.execute(text("TRUNCATE inbox, ticket_facts"))


def inbox_count(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM inbox")).scalar()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServiceProcess:
    def __init__(self, name: str, amqp_uri: str):
        import requests

        from harness import free_port

        self.name, self.port = name, free_port()
        env = {**os.environ, "AMQP_URI": amqp_uri, "CUSTOPS_HTTP_PORT": str(self.port),
               "CUSTOPS_LOG_LEVEL": os.environ.get("CUSTOPS_LOG_LEVEL", "INFO")}
        self.log = open(f"/tmp/consumer_bench_{name}.log", "w")
        self.popen = subprocess.Popen([str(ROOT / ".venv/bin/custops"), "service", name], env=env,
                                      stdout=subprocess.DEVNULL, stderr=self.log)
        started = time.monotonic()
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if self.popen.poll() is not None or time.monotonic() - started > 60:
                raise SystemExit(f"{name} service did not start; see {self.log.name}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
        self.log.close()


def drain(name: str, amqp_uri: str, engine, n: int) -> tuple[float, float, bool]:
    """(events/s, CPU ms per event, capped) of the service draining n queued events."""
    service = ServiceProcess(name, amqp_uri)
    try:
        deadline = time.monotonic() + CAP_SECONDS
        while (first := inbox_count(engine)) == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        t0, cpu0 = time.perf_counter(), cpu_seconds(service.popen.pid)
        done = first
        while done < n and time.monotonic() < deadline:
            time.sleep(0.02)
            done = inbox_count(engine)
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(service.popen.pid) - cpu0
    finally:
        service.stop()
    handled = done - first
    return handled / elapsed, cpu / max(handled, 1) * 1000, done < n


# ------------------------------------------------------------------------------------------ bare

def timeline_rows(docs: list[dict]) -> list[tuple]:
    from psycopg.types.json import Jsonb

    from custops.events import Envelope
    from timeline.recorded_events import row_of
    from timeline.summaries import describe

    rows = []
    for doc in docs:
        envelope = Envelope.model_validate(doc)
        data = envelope.payload()
        r = row_of(uuid.uuid4(), envelope.tenant_id, data.customer_id, describe(data), envelope, data)
        rows.append((r["id"], r["tenant_id"], r["customer_id"], r["type"], r["occurred_at"], r["summary"],
                     r["internal"], r["subject_type"], r["subject_id"], r["actor"], r["actor_type"],
                     r["sequence"], Jsonb(r["data"]), r["source_event_id"], Jsonb(r["links"])))
    return rows


def report_rows(docs: list[dict]) -> list[tuple]:
    return [(doc["tenant_id"], doc["data"]["ticket_id"], doc["data"]["customer_id"], doc["data"]["created_at"])
            for doc in docs]


TIMELINE_INSERT = """
INSERT INTO activities (id, tenant_id, customer_id, type, occurred_at, summary, internal, subject_type,
                        subject_id, actor, actor_type, sequence, data, source_event_id, links)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (source_event_id) DO NOTHING"""
REPORTS_INSERT = """
INSERT INTO ticket_facts (tenant_id, ticket_id, customer_id, created_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (tenant_id, ticket_id) DO UPDATE SET created_at = EXCLUDED.created_at"""


def bare(name: str, docs: list[dict], batch: int) -> float:
    """events/s of a psycopg loop doing the consumer's INSERTs, one transaction per batch."""
    import psycopg

    from custops import config

    rows = timeline_rows(docs) if name == "timeline" else report_rows(docs)
    effect = TIMELINE_INSERT if name == "timeline" else REPORTS_INSERT
    consumer = f"{name}.on_ticket_created"
    url = config.database_url(name).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for i in range(0, len(docs), batch):
            chunk = docs[i:i + batch]
            with conn.transaction(), conn.cursor() as cur:
                values = ", ".join(["(%s, %s, %s)"] * len(chunk))
                params = [p for doc in sorted(chunk, key=lambda d: d["id"])
                          for p in (consumer, doc["id"], doc["type"])]
                cur.execute(f"INSERT INTO inbox (consumer, event_id, event_type) VALUES {values} "
                            "ON CONFLICT DO NOTHING RETURNING event_id", params)
                claimed = {str(r[0]) for r in cur.fetchall()}
                cur.executemany(effect, [r for doc, r in zip(chunk, rows[i:i + batch]) if doc["id"] in claimed])
        return len(docs) / (time.perf_counter() - started)


# --------------------------------------------------------------------------------------- latency

def steady_lag(amqp_uri: str, engine, rate: float, seconds: float) -> list[float]:
    """Publish → commit lag (s) of events published one at a time at `rate` per second."""
    from sqlalchemy import text

    from custops.outbox import Publisher

    n = int(rate * seconds)
    tenant = uuid.uuid4()
    service = ServiceProcess("timeline", amqp_uri)
    publisher = Publisher(amqp_uri)
    try:
        started = time.perf_counter()
        for i in range(n):
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            # occurred_at stamped at publish: the lag includes the broker hop and the batch
            publisher.publish_batch(envelopes(1, tenant))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                lags = conn.execute(text(
                    "SELECT EXTRACT(EPOCH FROM (i.received_at - a.occurred_at)) FROM inbox i "
                    "JOIN activities a ON a.source_event_id = i.event_id WHERE a.tenant_id = :t"),
                    {"t": tenant}).scalars().all()
            if len(lags) >= n:
                break
            time.sleep(0.2)
    finally:
        publisher.close()
        service.stop()
    return sorted(float(x) for x in lags)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="the bare loop's batch (the consumers' batch size)")
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    args = parser.parse_args()

    from kombu import Connection

    from custops import migrations, topology
    from harness import local_vhost_uri

    amqp_uri = local_vhost_uri(BENCH_VHOST)
    if amqp_uri is None:
        raise SystemExit("the consumer bench needs a RabbitMQ on this machine (it makes its own vhost)")
    queues = service_queues()
    with Connection(amqp_uri) as conn:
        topology.declare(conn, queues)
    purge(amqp_uri, queues)
    engines = scratch_databases()
    try:
        tenant = uuid.uuid4()
        docs = envelopes(args.events, tenant)
        say(f"consumer bench: {args.events:,} ticket.created events, bare batches of {args.batch}")
        published = time.perf_counter()
        publish(amqp_uri, docs)
        say(f"  published into the timeline's and the reports' queues in {time.perf_counter() - published:.1f} s")
        consumed = {}
        for name in SERVICES:
            rate, cpu_ms, capped = drain(name, amqp_uri, engines[name], args.events)
            consumed[name] = rate
            say(f"(a) {name} consumer: {rate:,.0f} events/s, {cpu_ms:.2f} ms CPU per event"
                + (f" (capped at {CAP_SECONDS:.0f} s)" if capped else ""))
        empty(engines)
        for name in SERVICES:
            bare_rate = bare(name, docs, args.batch)
            say(f"(b) {name} bare psycopg loop: {bare_rate:,.0f} events/s; "
                f"consumer/bare = {consumed[name] / bare_rate:.2f}x")
        empty(engines)
        purge(amqp_uri, queues)  # what a capped drain left behind
        lags = steady_lag(amqp_uri, engines["timeline"], args.rate, args.rate_seconds)
        if lags:
            say(f"(c) timeline at {args.rate:.0f} events/s for {args.rate_seconds:.0f} s: publish -> commit "
                f"p50 {statistics.median(lags) * 1000:.1f} ms, p99 {percentile(lags, 99) * 1000:.1f} ms, "
                f"max {lags[-1] * 1000:.1f} ms ({len(lags)} events)")
        else:
            say("(c) no event reached the timeline")
    finally:
        for engine in engines.values():
            engine.dispose()
        with Connection(amqp_uri) as conn:
            # the event queues and dead-letter queues, and the RPC queues the services declared
            for name in [q.name for q in queues] + [f"rpc-{service}" for service in SERVICES]:
                conn.default_channel.queue_delete(name)
        for name in SERVICES:
            migrations.drop_database(name)


if __name__ == "__main__":
    main()
