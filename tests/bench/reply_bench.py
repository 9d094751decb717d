#!/usr/bin/env python3
"""Public replies over RPC: CPU per reply of the tickets and customers services, and how many
`get_member` RPCs the customers service answered (issue 14, the member copy).

Starts the customers and tickets services only (each its own OS process, its relay in-process, as
the Procfile runs them) on a vhost and databases of their own (`custops_bench_reply`,
`custops_bench_reply_*`; a new tenant each run, the queues purged first, never deleted). Seeds a
tenant, a customer and `--replies` tickets, lets the relays settle, then sends one public reply by
the tenant's owner to each ticket, one at a time, and prints the CPU seconds (utime+stime from /proc) each
process and the PostgreSQL backends spent per reply, and the customers service's RPC count.

Bounded: ~30-60 s with the defaults. Loopback only.
    .venv/bin/python tests/bench/reply_bench.py [--replies 300]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/harness.py
sys.path.insert(0, str(HERE))  # load.py
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from harness import ROOT, Suite, local_vhost_uri  # noqa: E402
from load import PgBackends, group_usage, pg_server_url  # noqa: E402

VHOST = "custops_bench_reply"
DB_PREFIX = "custops_bench_reply_"
LOG_DIR = ROOT / "var" / "bench-reply-logs"


def purge_queues(vhost: str) -> None:
    """What earlier runs left in the vhost's queues (the consumers of other services do not run here)."""
    ctl = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin")
    listed = subprocess.run([ctl, "-q", "list_queues", "-p", vhost, "name", "messages"], capture_output=True,
                            text=True, timeout=60)
    for name, count in (line.split() for line in listed.stdout.splitlines() if len(line.split()) == 2):
        if count.isdigit() and int(count) > 0:
            subprocess.run([ctl, "-q", "purge_queue", "-p", vhost, name], capture_output=True, timeout=60)


def cpu(suite: Suite, pg: PgBackends) -> dict[str, float]:
    found = {name: group_usage(p.popen.pid)[0] for name, p in suite.procs.items()}
    found["(postgres backends)"] = pg.usage()[0]
    return found


def rpc_count(suite: Suite, method: str) -> float:
    """Calls of `method` the customers service answered, from its metrics (0 when not exported)."""
    try:
        text = suite.metrics("customers")
    except Exception:  # noqa: BLE001 - a bench prints what it can
        return float("nan")
    total = 0.0
    for line in text.splitlines():
        if line.startswith("custops_entrypoint_calls_total{") and f'entrypoint="{method}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--db-prefix", default=DB_PREFIX)
    parser.add_argument("--vhost", default=VHOST)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    amqp_uri = local_vhost_uri(args.vhost)
    if amqp_uri is None:
        raise SystemExit("the bench needs a broker on this machine and rabbitmqctl")
    suite = Suite(only=["customers", "tickets"], amqp_uri=amqp_uri, log_dir=LOG_DIR,
                  extra_env={"CUSTOPS_DB_PREFIX": args.db_prefix, "OTEL_TRACES_EXPORTER": "none"})
    pg = None
    try:
        purge_queues(args.vhost)
        suite.setup_broker_and_databases()
        suite.start_all()
        rpc = suite.rpc()
        tenant = rpc.call("customers", "create_tenant", "Reply Co", "owner@reply.example", "Owner")
        tenant_id, owner = tenant["tenant_id"], tenant["member_id"]
        customer = rpc.call("customers", "create_customer", tenant_id, {
            "name": "Acme", "tier": "enterprise", "domains": [f"{os.getpid()}.reply.example"]})["id"]
        tickets = [rpc.call("tickets", "create_ticket", tenant_id, {"customer_id": customer, "subject": f"t{i}"})["id"]
                   for i in range(args.replies + 1)]
        # one warm-up reply (a member not copied yet is asked and copied), then let the relays settle
        rpc.call("tickets", "add_message", tenant_id, tickets.pop(),
                 {"kind": "reply", "body": "warm-up", "author_member_id": owner})
        time.sleep(3.0)
        pg = PgBackends(pg_server_url(suite), args.db_prefix)
        before, asked_before = cpu(suite, pg), rpc_count(suite, "get_member")
        started = time.monotonic()
        for ticket_id in tickets:
            rpc.call("tickets", "add_message", tenant_id, ticket_id,
                     {"kind": "reply", "body": "On it.", "author_member_id": owner})
        elapsed = time.monotonic() - started
        time.sleep(2.0)  # the relays publish what the replies told
        after, asked_after = cpu(suite, pg), rpc_count(suite, "get_member")
        n = len(tickets)
        print(f"reply_bench: {n} public replies in {elapsed:.1f} s ({n / elapsed:.0f}/s, one at a time)")
        for name in after:
            print(f"    {name:22s} CPU {1000 * (after[name] - before[name]) / n:6.2f} ms/reply")
        both = sum(after[k] - before[k] for k in ("tickets", "customers"))
        print(f"    tickets + customers    CPU {1000 * both / n:6.2f} ms/reply")
        print(f"    customers get_member RPCs answered: {asked_after - asked_before:g} ({n} replies)")
    finally:
        if pg is not None:
            pg.close()
        suite.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
