#!/usr/bin/env python3
"""Broker restart under load: how long the suite takes to serve again, and what the outage costs.

Starts a RabbitMQ node and a PostgreSQL cluster of its own (tests/broker_node.py,
tests/pg_cluster.py: their own ports, never the machine's main node or shared server) and every
Procfile process on them. A steady load of ticket creates, replies and time entries runs through the
gateway (tests/fault_load.py, ~9 requests/s); after a warm-up the node's applications are stopped
(`rabbitmqctl stop_app`) for `--outage` seconds, meanwhile tickets are committed straight to the
tickets database so their events wait in its outbox, then started again. Prints:

- the failed requests by status during the outage and the recovery, and how fast the 503s came;
- the recovery time after the broker returns (goal <= 10 s): per request kind, the time from the
  broker's return to the first success after which that kind no longer failed, and the time until
  every process's /readyz says ready;
- the time until every event committed to an outbox during the outage is on the timeline, and a
  consistency check (each write on the timeline and in the reports once, nothing left queued).

Bounded (a few minutes at most); prints numbers, asserts nothing about them. `make bench` runs it
through tests/bench/run_all.py; alone: `.venv/bin/python tests/bench/broker_recovery.py`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/harness.py and friends

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import requests  # noqa: E402

from broker_node import BrokerNode  # noqa: E402
from fault_load import (KINDS, SteadyLoad, check_answers, check_nothing_left_over, check_stored_once,  # noqa: E402
                        commit_tickets_directly)
from harness import LOG_DIR, ROOT, Suite  # noqa: E402
from pg_cluster import PgCluster  # noqa: E402

GOAL_SECONDS = 10.0
DB_PREFIX = "custops_bench_brk_"


def say(line: str = "") -> None:
    print(line, flush=True)


def ready(suite: Suite) -> dict[str, bool]:
    def one(port: int) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    return {name: one(proc.port) for name, proc in suite.procs.items()}


def watch_readiness(suite: Suite, since: float, until_ready: dict, stop: threading.Event) -> None:
    """Record, for each process, the seconds after `since` at which it was first ready again."""
    while not stop.is_set() and len(until_ready) < len(suite.procs):
        for name, ok in ready(suite).items():
            if ok and name not in until_ready:
                until_ready[name] = time.monotonic() - since
        stop.wait(0.2)


def watch_timeline(suite: Suite, tenant_id: uuid.UUID, event_ids: list[str], since: float, found: dict,
                   stop: threading.Event) -> None:
    """Record the seconds after `since` at which every one of `event_ids` was on the timeline."""
    ids = [uuid.UUID(i) for i in event_ids]
    while not stop.is_set():
        count = suite.query("timeline", "SELECT count(*) FROM activities WHERE tenant_id = :t "
                                        "AND source_event_id = ANY(:ids)", t=tenant_id, ids=ids)[0][0]
        found["count"] = count
        if count >= len(ids):
            found["seconds"] = time.monotonic() - since
            return
        stop.wait(0.1)


def seconds(values: list[float]) -> str:
    if not values:
        return "-"
    return f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def run(outage: float, warm_up: float, after: float, committed: int) -> int:
    os.chdir(ROOT)
    say(f"broker restart under load: warm-up {warm_up:.0f}s, broker stopped {outage:.0f}s, "
        f"then {after:.0f}s; {committed} tickets committed to the outbox during the outage")
    cluster = PgCluster.start_new()
    node = BrokerNode.start_new()
    suite = Suite(amqp_uri=node.amqp_uri, extra_env={"DATABASE_URL": cluster.url, "CUSTOPS_DB_PREFIX": DB_PREFIX},
                  log_dir=LOG_DIR / "bench-broker", gateway_port=18580)
    try:
        suite.setup_broker_and_databases()
        suite.start_all()
        tenant = suite.new_tenant()
        load = SteadyLoad(suite, tenant).start()
        try:
            load.run_for(warm_up)
            node.stop_app()
            down_at = time.monotonic()
            during = commit_tickets_directly(suite, tenant, load.customer, committed, "committed during the outage")
            outbox_ids = [str(r[0]) for r in suite.query(
                "tickets", "SELECT id FROM outbox WHERE type = 'ticket.created' "
                           "AND envelope->'data'->>'ticket_id' = ANY(:ids)", ids=during)]
            load.run_for(max(0.0, outage - (time.monotonic() - down_at)))
            restart_at = time.monotonic()
            node.start_app()
            up_at = time.monotonic()
            until_ready: dict[str, float] = {}
            on_timeline: dict = {}
            stop = threading.Event()
            watchers = [threading.Thread(target=watch_readiness, args=(suite, up_at, until_ready, stop), daemon=True),
                        threading.Thread(target=watch_timeline, daemon=True,
                                         args=(suite, uuid.UUID(tenant.id), outbox_ids, up_at, on_timeline, stop))]
            for w in watchers:
                w.start()
            load.run_for(after)
            stop.set()
            for w in watchers:
                w.join(timeout=10)
        finally:
            load.stop()

        outage_answers = load.between(down_at, up_at)
        recovery_answers = load.between(up_at, up_at + GOAL_SECONDS)
        failed = [a for a in load.answers if not a.ok]
        say(f"    broker down {restart_at - down_at:.1f}s (start_app took {up_at - restart_at:.1f}s more); "
            f"{len(load.answers)} requests in all, {len(outage_answers)} during the outage")
        by_status = {label: dict(Counter(a.status for a in answers if not a.ok))
                     for label, answers in (("during the outage", outage_answers),
                                            (f"in the {GOAL_SECONDS:.0f} s after", recovery_answers),
                                            ("in all", failed))}
        say("    failed requests by status: " + ", ".join(f"{k} {v}" for k, v in by_status.items()))
        say(f"    503 answer time while down: {seconds([a.seconds for a in outage_answers if a.status == 503])}")
        recovered = load.first_success_after(up_at)
        for kind in KINDS:
            value = recovered[kind]
            say(f"    recovery ({kind:<6}): "
                + ("never" if value is None else f"{value:5.1f} s after the broker's return"))
        worst = max((v for v in recovered.values() if v is not None), default=None)
        not_ready = sorted(set(suite.procs) - set(until_ready))
        say(f"    readiness: every process ready {max(until_ready.values(), default=float('nan')):.1f} s after the "
            f"broker's return" + (f" (never ready: {not_ready})" if not_ready else ""))
        if "seconds" in on_timeline:
            say(f"    the {len(outbox_ids)} events committed to the outbox during the outage: all on the timeline "
                f"{on_timeline['seconds']:.1f} s after the broker's return")
        else:
            say(f"    the events committed during the outage: {on_timeline.get('count', 0)} of {len(outbox_ids)} on "
                f"the timeline after {after:.0f} s")
        verdict = "goal met" if worst is not None and worst <= GOAL_SECONDS else "GOAL MISSED"
        say(f"    RECOVERY TIME {worst if worst is not None else float('nan'):.1f} s (goal <= {GOAL_SECONDS:.0f} s: "
            f"{verdict})")
        try:
            check_answers(load)
            stored = check_stored_once(suite, tenant, load)
            check_nothing_left_over(suite, node.queue_depths)
            say(f"    consistent: {stored} stored, each once on the timeline and in the reports, nothing queued")
        except AssertionError as exc:
            say(f"    INCONSISTENT: {exc}")
            return 1
        return 0
    finally:
        suite.stop_all()
        suite.dispose_engines()
        node.stop()
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=6.0, help="seconds the broker stays down (default 6)")
    parser.add_argument("--warm-up", type=float, default=5.0)
    parser.add_argument("--after", type=float, default=15.0, help="seconds of load after the broker's return")
    parser.add_argument("--committed", type=int, default=20, help="tickets committed to the outbox meanwhile")
    args = parser.parse_args(argv)
    return run(args.outage, args.warm_up, args.after, args.committed)


if __name__ == "__main__":
    sys.exit(main())
