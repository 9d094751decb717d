#!/usr/bin/env python3
"""SLA recompute benchmark (a script, not a test; bounded, prints numbers).

10,000 open tickets of one scratch tenant (opened within the last 10 minutes, so no warning or breach
falls due under any calendar and the deadline clock stays out of the figures; first-response and
resolution timers, one in ten with a closed pause interval) are written directly into a scratch
database (`<CUSTOPS_DB_PREFIX>tickets`, default prefix `custops_bench_`, created and migrated
here); the real tickets service process (`custops service tickets`) is started, and:

(a) a calendar change (`put_business_calendar` over RPC): the call's time, then the recompute job's
    time to done (job `created_at` -> `finished_at`, the database's clock) and tickets/s, while the
    poll for the job's status also reads a ticket's SLA (`get_ticket_sla`; its p50/max show whether
    the worker starves the process's RPCs); goals: call <= 200 ms, job <= 10 s;
(b) two changes 50 ms apart: the first job superseded, the second recomputes everything once;
(c) for comparison, the previous design's cost: `sla_store.recompute_tenant` (every open ticket in the
    change's transaction, one statement per timer) timed in this process, rolled back (`--no-old` skips it).

Every timer is checked to carry the final calendar version. The scratch rows are deleted after.
`AMQP_URI` selects the broker (a vhost of your own keeps a running demo's services out); the service's
log is var/test-logs/sla_recompute_bench.tickets.log.
"""
from __future__ import annotations

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

os.environ.setdefault("CUSTOPS_DB_PREFIX", "custops_bench_")

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

TICKETS = 10_000
JOB_TIMEOUT = 60.0  # seconds: give up waiting for a job (the goal is 10 s)
CALENDARS = [
    {"timezone": "Europe/Berlin", "weekly_slots": {str(d): [["09:00", "12:30"], ["13:30", "18:00"]] for d in range(5)},
     "holidays": ["2026-12-24", "2026-12-25", "2026-12-31"]},
    {"timezone": "America/New_York", "weekly_slots": {str(d): [["08:00", "17:00"]] for d in range(6)}},
    {"timezone": "Asia/Tokyo", "weekly_slots": {str(d): [["09:00", "18:00"]] for d in range(5)}},
]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _seed(engine, tenant) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO tickets (id, tenant_id, number, customer_id, customer_tier, subject, priority, status, source,
                                 created_at)
            SELECT gen_random_uuid(), :t, n, gen_random_uuid(), (ARRAY['enterprise', 'mid_market', 'smb'])[1 + n % 3],
                   'bench', (ARRAY['low', 'normal', 'high', 'urgent'])[1 + n % 4], 'open', 'api',
                   now() - make_interval(secs => n % 600)
              FROM generate_series(1, :n) AS n"""), {"t": tenant, "n": TICKETS})
        conn.execute(text("""
            INSERT INTO ticket_sla_timers (ticket_id, timer, tenant_id, started_at, target_minutes, deadline,
                                           policy_version, calendar_version)
            SELECT id, timer, tenant_id, created_at, 60, created_at + interval '1 day', 1, 1
              FROM tickets, (VALUES ('first_response'), ('resolution')) AS timers(timer)
             WHERE tenant_id = :t"""), {"t": tenant})
        conn.execute(text("""
            INSERT INTO ticket_sla_pauses (tenant_id, ticket_id, status, started_at, ended_at)
            SELECT tenant_id, id, 'waiting_on_customer', created_at + interval '1 minute',
                   created_at + interval '3 minutes'
              FROM tickets WHERE tenant_id = :t AND number % 10 = 0"""), {"t": tenant})


SERVICE_LOG = ROOT / "var" / "test-logs" / "sla_recompute_bench.tickets.log"


def _start_service(port: int) -> subprocess.Popen:
    import requests

    env = {**os.environ, "CUSTOPS_HTTP_PORT": str(port)}
    SERVICE_LOG.parent.mkdir(parents=True, exist_ok=True)
    with SERVICE_LOG.open("w") as log:  # a file, not a pipe nobody reads (a full pipe stalls the service)
        service = subprocess.Popen([str(ROOT / ".venv/bin/custops"), "service", "tickets"], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    started = time.monotonic()
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return service
        except requests.RequestException:
            pass
        if service.poll() is not None or time.monotonic() - started > 60:
            service.kill()
            raise SystemExit(f"tickets service did not start: {SERVICE_LOG.read_text()[-2000:]}")
        time.sleep(0.2)


def _wait_job(rpc, tenant, job_id, probe=None, latencies: list | None = None) -> dict:
    """Poll the job until it has finished; meanwhile read `probe`'s SLA (the latencies kept, in ms)."""
    began = time.monotonic()
    while True:
        job = rpc.call("tickets", "get_sla_recompute_job", str(tenant), job_id)
        if job["status"] not in ("queued", "running"):
            return job
        if time.monotonic() - began > JOB_TIMEOUT:
            raise SystemExit(f"job not done within {JOB_TIMEOUT:.0f} s: {job}")
        if probe is not None:
            read = time.perf_counter()
            rpc.call("tickets", "get_ticket_sla", str(tenant), str(probe))
            latencies.append((time.perf_counter() - read) * 1000)
        time.sleep(0.02)


def _job_seconds(job: dict) -> float:
    return (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["created_at"])).total_seconds()


def _stale(engine, tenant, version: int) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ticket_sla_timers WHERE tenant_id = :t AND met_at IS NULL "
                                 "AND calendar_version IS DISTINCT FROM :v"), {"t": tenant, "v": version}).scalar()


def bench(run_old: bool) -> None:
    from sqlalchemy import text

    from custops import db, migrations
    from custops.rpc import RpcClient
    from harness import free_port

    migrations.create_database("tickets")
    migrations.upgrade("tickets")
    engine = db.engine_for("tickets")
    tenant = uuid.uuid4()
    began = time.monotonic()
    _seed(engine, tenant)
    print(f"seeded {TICKETS:,} open tickets ({2 * TICKETS:,} timers, {TICKETS // 10:,} pauses) "
          f"in {time.monotonic() - began:.1f} s")
    with engine.connect() as conn:
        probe = conn.execute(text("SELECT id FROM tickets WHERE tenant_id = :t ORDER BY id DESC LIMIT 1"),
                             {"t": tenant}).scalar()
    service = _start_service(free_port())
    rpc = RpcClient(timeout=30)
    try:
        rpc.call("tickets", "get_business_calendar", str(tenant))  # warm the client and the service
        # (a) one calendar change
        rpc.call("tickets", "get_ticket_sla", str(tenant), str(probe))
        began = time.perf_counter()
        answer = rpc.call("tickets", "put_business_calendar", str(tenant), CALENDARS[0])
        call_ms = (time.perf_counter() - began) * 1000
        during: list[float] = []
        job = _wait_job(rpc, tenant, answer["recompute"]["id"], probe, during)
        seconds = _job_seconds(job)
        print(f"(a) PUT calendar (RPC put_business_calendar) with {TICKETS:,} open tickets: {call_ms:.0f} ms "
              f"(goal <= 200 ms); answered with job {job['id'][:8]} '{answer['recompute']['status']}'")
        print(f"(a) recompute job: {job['status']}, {job['done']:,}/{job['total']:,} tickets in {seconds:.2f} s "
              f"({job['done'] / seconds:,.0f} tickets/s; goal <= 10 s); stale timers after: "
              f"{_stale(engine, tenant, answer['version'])}")
        if during:
            print(f"(a) get_ticket_sla while it ran: {len(during)} calls, p50 {statistics.median(during):.1f} ms, "
                  f"p99 {_percentile(during, 99):.1f} ms, max {max(during):.1f} ms")

        # (b) two changes in a row
        first = rpc.call("tickets", "put_business_calendar", str(tenant), CALENDARS[1])
        time.sleep(0.05)
        began = time.perf_counter()
        second = rpc.call("tickets", "put_business_calendar", str(tenant), CALENDARS[2])
        second_ms = (time.perf_counter() - began) * 1000
        done = _wait_job(rpc, tenant, second["recompute"]["id"])
        older = rpc.call("tickets", "get_sla_recompute_job", str(tenant), first["recompute"]["id"])
        print(f"(b) two changes 50 ms apart: second call {second_ms:.0f} ms; first job {older['status']} after "
              f"{older['done']:,} tickets, second {done['status']}, {done['done']:,} tickets in "
              f"{_job_seconds(done):.2f} s; stale timers after: {_stale(engine, tenant, second['version'])}")
    finally:
        rpc.close()
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()

    try:
        if run_old:  # (c) the previous design, in this process, rolled back
            from tickets import sla_store

            began = time.perf_counter()
            with db.transaction(engine, "tickets") as session:
                recomputed = sla_store.recompute_tenant(session, tenant, datetime.now(timezone.utc))
                elapsed = time.perf_counter() - began
                session.rollback()
            print(f"(c) before (recompute_tenant inside the change's transaction): {recomputed:,} timers in "
                  f"{elapsed:.2f} s -- the request waited that long (RPC timeout 5 s)")
    finally:
        with engine.begin() as conn:
            for table in ("sla_recompute_jobs", "ticket_sla_pauses", "ticket_sla_timers", "tickets", "outbox",
                          "business_calendars", "sla_policies"):
                conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant})
        engine.dispose()


if __name__ == "__main__":
    bench(run_old="--no-old" not in sys.argv)
