#!/usr/bin/env python3
"""SLA benchmark (a script, not a test; bounded, prints numbers).

(a) Pure engine: `compute_timer` calls per second with a split-slot Europe/Berlin calendar (09:00-12:30
    and 13:30-18:00 Mon-Fri, two holidays), a 24 h target and three pauses, for ~3 s.
(b) Deadline clock under load: 10,000 open tickets' breach deadlines spread over ~20 s, written
    directly into a scratch database (`custops_bench_tickets`, created and migrated here) for a scratch
    tenant; then the real tickets service process (`custops service tickets`) is started and each
    breach's delay is measured as outbox.created_at - deadline. `created_at` is the start of the
    clock's claiming transaction (PostgreSQL's now()), so the figure is "deadline to claim"; the
    commit follows within the same batch. Prints p50 / p99 / max. The scratch rows are deleted after.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # tests/harness.py

os.environ["CUSTOPS_DB_PREFIX"] = "custops_bench_"

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

TICKETS = 10_000
SPREAD_SECONDS = 20.0
LEAD_SECONDS = 8.0  # the first deadline, after the service has had time to start
ENGINE_SECONDS = 3.0


def bench_engine() -> None:
    from tickets.business_hours import Calendar
    from tickets.sla import PauseInterval, compute_timer

    utc = timezone.utc
    calendar = Calendar.workweek("Europe/Berlin", ["09:00-12:30", "13:30-18:00"],
                                 holidays=[date(2026, 10, 3), date(2026, 12, 25)])
    start = datetime(2026, 10, 1, 16, 45, tzinfo=utc)  # Thursday, across a holiday and the DST switch
    pauses = [PauseInterval(start + timedelta(hours=2), start + timedelta(hours=20), "waiting_on_customer"),
              PauseInterval(start + timedelta(days=2), start + timedelta(days=2, hours=3), "waiting_on_customer"),
              PauseInterval(start + timedelta(days=5), start + timedelta(days=6), "waiting_on_customer")]
    now = start + timedelta(days=3)
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < ENGINE_SECONDS:
        for offset in range(100):
            compute_timer(calendar, start + timedelta(minutes=offset), 1440, pauses, now=now)
        count += 100
    elapsed = time.perf_counter() - began
    print(f"(a) pure engine: {count / elapsed:,.0f} deadline computations/s "
          f"(compute_timer, Berlin split slots, 24 h target, 3 pauses; {count} in {elapsed:.1f} s)")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_clock() -> None:
    import requests
    from sqlalchemy import text

    from custops import db, migrations
    from harness import free_port

    migrations.create_database("tickets")
    migrations.upgrade("tickets")
    engine = db.engine_for("tickets")
    tenant = uuid.uuid4()
    port = free_port()
    env = {**os.environ, "CUSTOPS_HTTP_PORT": str(port)}
    service = subprocess.Popen([str(ROOT / ".venv/bin/custops"), "service", "tickets"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = time.monotonic()
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if service.poll() is not None or time.monotonic() - started > 60:
                raise SystemExit(f"tickets service did not start: {service.stderr.read()[-2000:]}")
            time.sleep(0.2)
        print(f"(b) tickets service up in {time.monotonic() - started:.1f} s; inserting {TICKETS:,} timers")
        with engine.begin() as conn:
            conn.execute(text("""
                INSERT INTO tickets (id, tenant_id, number, customer_id, customer_tier, subject, priority, status, source)
                SELECT gen_random_uuid(), :t, n, gen_random_uuid(), 'smb', 'bench', 'normal', 'open', 'api'
                  FROM generate_series(1, :n) AS n"""), {"t": tenant, "n": TICKETS})
            conn.execute(text("""
                INSERT INTO ticket_sla_timers (ticket_id, timer, tenant_id, started_at, target_minutes, deadline)
                SELECT id, 'resolution', tenant_id, now(), 1440,
                       now() + make_interval(secs => :lead + :spread * (number - 1) / :n)
                  FROM tickets WHERE tenant_id = :t"""),
                {"t": tenant, "n": TICKETS, "lead": LEAD_SECONDS, "spread": SPREAD_SECONDS})
            conn.execute(text("NOTIFY custops_sla"))
        limit = time.monotonic() + LEAD_SECONDS + SPREAD_SECONDS + 30
        done = 0
        while time.monotonic() < limit:
            with engine.connect() as conn:
                done = conn.execute(text("SELECT count(*) FROM outbox WHERE tenant_id = :t "
                                         "AND type = 'ticket.sla_breached'"), {"t": tenant}).scalar()
            if done >= TICKETS:
                break
            time.sleep(0.5)
        with engine.connect() as conn:
            delays = conn.execute(text("""
                SELECT EXTRACT(EPOCH FROM (o.created_at - t.deadline))
                  FROM outbox o JOIN ticket_sla_timers t
                    ON t.ticket_id = CAST(o.envelope->'data'->>'ticket_id' AS uuid) AND t.timer = 'resolution'
                 WHERE o.tenant_id = :t AND o.type = 'ticket.sla_breached'"""), {"t": tenant}).scalars().all()
            duplicates = conn.execute(text("""
                SELECT count(*) - count(DISTINCT envelope->'data'->>'ticket_id') FROM outbox
                 WHERE tenant_id = :t AND type = 'ticket.sla_breached'"""), {"t": tenant}).scalar()
        delays = [float(d) for d in delays]
        print(f"(b) deadline -> breach outbox row, {len(delays):,}/{TICKETS:,} breaches over {SPREAD_SECONDS:.0f} s "
              f"({duplicates} duplicates): p50 {statistics.median(delays) * 1000:.0f} ms, "
              f"p99 {_percentile(delays, 99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms, "
              f"min {min(delays) * 1000:.0f} ms")
    finally:
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
        with engine.begin() as conn:
            for table in ("outbox", "ticket_sla_timers", "tickets"):
                conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": tenant})


if __name__ == "__main__":
    bench_engine()
    bench_clock()
