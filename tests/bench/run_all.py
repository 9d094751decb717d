#!/usr/bin/env python3
"""`make bench`: what the reliability machinery costs, measured on this machine (loopback only).

(a) Outbox relay vs raw publishing: N outbox rows relayed by `custops.outbox.Relay("tickets")`
    (`relay_pending()`, what its run loop does) from a scratch database (`custops_bench_tickets`),
    against publishing the same N envelopes with py-amqp and batched confirms (publish a batch, wait
    for its confirms once). Both persistent, into one durable queue of a throwaway virtual host,
    which is deleted afterwards; connections opened before the clock starts; several alternating
    rounds, the best of each reported (the machine's other load only ever slows a round down).
(b) Gateway reads vs a bare Flask app: `GET /api/v1/tickets/{id}` through the whole suite (auth,
    RPC, tickets service) against a Flask app under the gateway's gunicorn settings that runs the
    same SQL with psycopg directly.

(c) Broker restart under load (tests/bench/broker_recovery.py): the recovery time after RabbitMQ
    returns (goal <= 10 s) and the failed requests by status during the outage, on a broker node of
    its own.

Bounded: fixed request/message counts, a time cap per run; prints numbers and ratios to stdout.
"""
from __future__ import annotations

import os
import re
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/harness.py

os.environ.setdefault("CUSTOPS_DB_PREFIX", "custops_test_")

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import requests  # noqa: E402

from harness import (ROOT, Suite, create_customer, create_ticket, delete_local_vhost, free_port,  # noqa: E402
                     local_vhost_uri)

EVENTS = 5000
BATCH = 200
PUBLISH_ROUNDS = 5
REQUESTS = 2000
WARMUP = 100
CLIENT_THREADS = 8
RUN_CAP_SECONDS = 60.0
BENCH_VHOST = "custops_bench"
BENCH_DATABASE = "custops_bench_tickets"


def say(line: str = "") -> None:
    print(line, flush=True)


# ------------------------------------------------------------------------------------ (a) publishing

def bind_sink(amqp_uri: str, exchange: str, routing_key: str) -> str:
    """A durable queue taking everything `exchange` routes with `routing_key`."""
    from kombu import Connection, Exchange, Queue

    name = f"bench-sink-{uuid.uuid4().hex[:8]}"
    with Connection(amqp_uri) as conn:
        Queue(name, Exchange(exchange, type="topic", durable=True), routing_key=routing_key,
              durable=True).bind(conn.channel()).declare()
    return name


def delete_queue(amqp_uri: str, name: str) -> None:
    """So that the next round's messages go to its own sink only, not to every earlier one too."""
    from kombu import Connection, Queue

    with Connection(amqp_uri) as conn:
        Queue(name, durable=True).bind(conn.channel()).delete()


def queue_depth(amqp_uri: str, name: str) -> int:
    from kombu import Connection, Queue

    with Connection(amqp_uri) as conn:
        return Queue(name, durable=True).bind(conn.channel()).queue_declare(passive=True).message_count


def fill_outbox(n: int) -> list[dict]:
    """N pending `ticket.created` rows in the scratch tickets database (emptied first)."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from custops import db, migrations, outbox
    from custops.contracts.tickets import TicketCreated

    migrations.create_database("tickets")
    migrations.upgrade("tickets")
    engine = db.engine_for("tickets")
    tenant = uuid.uuid4()
    with db.transaction(engine, "tickets") as session:
        session.execute(text("TRUNCATE outbox"))  # no dead rows left from earlier rounds (DELETE bloated it)
        envelopes = [outbox.add(session, tenant, TicketCreated(
            ticket_id=uuid.uuid4(), number=i + 1, customer_id=uuid.uuid4(), subject=f"bench {i}",
            priority="normal", status="new", source="api", created_at=datetime.now(timezone.utc)))
            for i in range(n)]
    engine.dispose()
    return [e.model_dump(mode="json") for e in envelopes]


def relay_rate(amqp_uri: str) -> float:
    from custops.outbox import Publisher, Relay

    relay = Relay("tickets", batch_size=BATCH, publisher=Publisher(amqp_uri))
    relay.connect()  # connections opened before the clock starts, as raw_rate's
    relay.publisher.connect()
    started = time.perf_counter()
    handled = relay.relay_pending()  # what `Relay.run()` does on each wake-up
    elapsed = time.perf_counter() - started
    relay.publisher.close()
    assert handled == EVENTS, handled
    return handled / elapsed


def raw_rate(amqp_uri: str, envelopes: list[dict], exchange: str) -> float:
    """py-amqp, persistent, confirms awaited once per batch: the floor any relay pays."""
    import json

    import amqp
    from kombu.utils.url import parse_url

    p = parse_url(amqp_uri)
    conn = amqp.Connection(host=f"{p['hostname']}:{p['port'] or 5672}", userid=p["userid"],
                           password=p["password"], virtual_host=p["virtual_host"])
    conn.connect()
    channel = conn.channel()
    channel.confirm_select()
    acked = [0]
    channel.events["basic_ack"].add(lambda tag, multiple: acked.__setitem__(0, max(acked[0], tag)))
    bodies = [json.dumps(e).encode() for e in envelopes]
    published, started = 0, time.perf_counter()
    for i in range(0, len(bodies), BATCH):
        for body in bodies[i:i + BATCH]:
            channel.basic_publish(amqp.Message(body, content_type="application/json", delivery_mode=2),
                                  exchange=exchange, routing_key="ticket.created", mandatory=True)
            published += 1
        while acked[0] < published:
            conn.drain_events(timeout=RUN_CAP_SECONDS)
    elapsed = time.perf_counter() - started
    conn.close()
    return published / elapsed


def bench_publishing() -> None:
    from custops import config

    say(f"(a) outbox relay vs raw publishing: {EVENTS} persistent events, confirms per {BATCH}, "
        f"{PUBLISH_ROUNDS} rounds of each, alternating")
    scratch = config.database_url("tickets").rsplit("/", 1)[0] + "/" + BENCH_DATABASE
    os.environ["DATABASE_URL_TICKETS"] = scratch.replace("postgresql+psycopg://", "postgresql://")
    rounds: list[tuple[float, float]] = []
    try:
        # a throwaway vhost, so the benchmark's events reach no real subscriber
        amqp_uri = local_vhost_uri(BENCH_VHOST)
        if amqp_uri is None:
            raise SystemExit("bench (a) needs a broker on this machine and rabbitmqctl, for a vhost of its own")
        try:
            for _ in range(PUBLISH_ROUNDS):
                envelopes = fill_outbox(EVENTS)
                relay_sink = bind_sink(amqp_uri, "tickets.events", "ticket.created")
                relayed = relay_rate(amqp_uri)
                assert queue_depth(amqp_uri, relay_sink) == EVENTS
                raw_exchange = f"bench-raw-{uuid.uuid4().hex[:8]}"
                raw_sink = bind_sink(amqp_uri, raw_exchange, "#")
                raw = raw_rate(amqp_uri, envelopes, raw_exchange)
                assert queue_depth(amqp_uri, raw_sink) == EVENTS
                delete_queue(amqp_uri, relay_sink)
                delete_queue(amqp_uri, raw_sink)
                rounds.append((relayed, raw))
                say(f"    round {len(rounds)}: relay {relayed:7.0f} events/s, raw {raw:7.0f} events/s, "
                    f"relay / raw {relayed / raw:5.2f}")
        finally:
            delete_local_vhost(BENCH_VHOST)
    finally:
        os.environ.pop("DATABASE_URL_TICKETS")
    # Best of each: on shared cores, a round's rate mostly says how much CPU the others left it.
    relayed, raw = max(r[0] for r in rounds), max(r[1] for r in rounds)
    say(f"    outbox relay      {relayed:10.0f} events/s   (claim rows FOR UPDATE, publish, confirm, mark sent; best)")
    say(f"    raw py-amqp       {raw:10.0f} events/s   (publish, confirm; best)")
    say(f"    relay / raw       {relayed / raw:10.2f}   (best / best; median of the rounds' ratios "
        f"{statistics.median(r[0] / r[1] for r in rounds):.2f})")


# ---------------------------------------------------------------------------------------- (b) reads

def load(url: str, headers: dict, count: int) -> tuple[float, list[float]]:
    """`count` GETs from CLIENT_THREADS threads; returns (requests/s, latencies in seconds)."""
    latencies: list[float] = []
    errors: list[str] = []
    remaining = [count]
    lock = threading.Lock()
    cap = time.monotonic() + RUN_CAP_SECONDS

    def client():
        session = requests.Session()
        while time.monotonic() < cap:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            t0 = time.perf_counter()
            response = session.get(url, headers=headers, timeout=10)
            elapsed = time.perf_counter() - t0
            with lock:
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} failed requests to {url}, e.g. {errors[0]}")
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


def bare_app_command(gateway_command: str) -> str:
    """The gateway's gunicorn command line, serving bare_app instead of the gateway."""
    app_spec = re.compile(r"""(['"]?)[\w.]+:create_app\(\)\1""")
    if not app_spec.search(gateway_command):
        raise SystemExit(f"cannot find the app in the gateway command: {gateway_command}")
    command = app_spec.sub("'bare_app:create_app()'", gateway_command)
    if re.search(r"--pythonpath[ =]", command):
        return re.sub(r"--pythonpath[ =](\S+)", lambda m: f"--pythonpath {HERE},{m.group(1)}", command, count=1)
    return command.replace("gunicorn ", f"gunicorn --pythonpath {HERE} ", 1)


def bench_reads() -> None:
    from load import machine_cpu

    say(f"(b) gateway vs bare Flask: GET one ticket, {REQUESTS} requests from {CLIENT_THREADS} threads")
    suite = Suite()
    missing = suite.missing()
    if missing:
        say("    skipped: the suite is not complete yet: " + "; ".join(missing))
        return
    bare_port = free_port(18090)
    suite.add("bench-bare-flask", bare_app_command(suite.procs["gateway"].command),
              extra_env={"CUSTOPS_GATEWAY_PORT": str(bare_port)},
              ready_url=f"http://127.0.0.1:{bare_port}/healthz")
    suite.setup_broker_and_databases()
    try:
        suite.start_all()
        tenant = suite.new_tenant()
        ticket = create_ticket(tenant.api, create_customer(tenant.api)["id"], subject="bench read")
        targets = {
            "gateway": (f"{suite.url}/api/v1/tickets/{ticket['id']}", {"Authorization": f"Bearer {tenant.token}"}),
            "bare Flask": (f"http://127.0.0.1:{bare_port}/tickets/{ticket['id']}", {"X-Tenant-Id": tenant.id}),
        }
        # whose CPU serves each target: the suite's processes (gateway, tickets, customers...) or the bare app
        serving = {"gateway": [n for n in suite.procs if n != "bench-bare-flask"], "bare Flask": ["bench-bare-flask"]}
        results, cpu = {}, {}
        for label, (url, headers) in targets.items():
            load(url, headers, WARMUP)
            before, machine_before = serving_cpu(suite, serving[label]), machine_cpu()[0]
            rate, latencies = load(url, headers, REQUESTS)
            after, machine_after = serving_cpu(suite, serving[label]), machine_cpu()[0]
            n = len(latencies)
            cpu[label] = ({name: (after[name] - before[name]) * 1000 / n for name in after},
                          (machine_after - machine_before) * 1000 / n)
            results[label] = (rate, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000)
            say(f"    {label:<12} {rate:8.0f} req/s   p50 {results[label][1]:7.2f} ms   "
                f"p99 {results[label][2]:7.2f} ms")
    finally:
        suite.stop_all()
    (g_rate, g50, g99), (b_rate, b50, b99) = results["gateway"], results["bare Flask"]
    say(f"    gateway / bare   {g_rate / b_rate:8.2f} x req/s   p50 {g50 / b50:7.2f} x   p99 {g99 / b99:7.2f} x")
    # the machine is shared: CPU per request varies much less than requests/s
    for label, (per_process, machine) in cpu.items():
        busy = ", ".join(f"{name} {ms:.2f}" for name, ms in sorted(per_process.items(), key=lambda kv: -kv[1])
                         if ms >= 0.01)
        say(f"    CPU ms/request, {label}: {sum(per_process.values()):.2f} ({busy}); "
            f"whole machine {machine:.2f} (client, broker, PostgreSQL and anything else running)")


def serving_cpu(suite: Suite, names: list[str]) -> dict[str, float]:
    """CPU seconds so far of each named process's group (gunicorn: master and workers)."""
    from load import group_usage

    return {name: group_usage(suite.procs[name].popen.pid)[0] for name in names
            if suite.procs[name].popen is not None}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", choices=["a", "b", "c"], default=[],
                        help="which parts to run (default: all), e.g. `run_all.py a`")
    parts = parser.parse_args(argv).parts or ["a", "b", "c"]
    os.chdir(ROOT)
    started = time.monotonic()
    failed = 0
    if "a" in parts:
        bench_publishing()
        say()
    if "b" in parts:
        bench_reads()
        say()
    if "c" in parts:
        say("(c) broker restart under load")
        import broker_recovery

        failed = broker_recovery.main([])
    say(f"\ntotal {time.monotonic() - started:.0f}s")
    return failed


if __name__ == "__main__":
    sys.exit(main())
