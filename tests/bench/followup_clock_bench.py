#!/usr/bin/env python3
"""Follow-up clock benchmark (a script, not a test; seeds its own data, prints numbers; < 1 min).

Scratch database `custops_bench_followups_timeline` (created and migrated here, emptied of the
scratch tenant's rows after).

(a) Lateness: `N` open follow-ups due over ~`SPREAD` s (overdue_after_minutes 0, so each raises
    due and overdue at the same instant) are written directly; two clocks (`FollowupClock`, as two
    timeline instances run them, here two threads of this process on their own connections) raise
    them. Lateness = the raised_at the claim stamped (PostgreSQL now() of the claiming transaction) -
    due_at; p50 / p99 / max for due and overdue, and that each event is in the outbox exactly once.
(b) Throughput: `N` follow-ups due already, raised by one `raise_due` pass in batches of 500 (the
    claim, the typed contracts and envelopes, one multi-row outbox INSERT and one NOTIFY per batch,
    `outbox.add_many`) against bare SQL doing the same claims and inserting a minimal JSON row per
    event, one INSERT per event and one executemany per batch; same rows, same run. Events/s and
    the ratios.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
os.environ["CUSTOPS_DB_PREFIX"] = "custops_bench_followups_"
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
sys.path.insert(0, str(ROOT / "services" / "timeline"))

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from sqlalchemy import text  # noqa: E402

from custops import db, migrations  # noqa: E402

N = 1000
SPREAD = 10.0
UTC = timezone.utc


def _seed(engine, tenant_id, due_at) -> None:
    from timeline.followup_models import followups

    rows = [{"id": uuid.uuid4(), "tenant_id": tenant_id, "customer_id": uuid.uuid4(), "assignee_id": uuid.uuid4(),
             "note": "n", "due_at": due_at(i), "grace_minutes": 0, "overdue_at": due_at(i), "status": "open"}
            for i in range(N)]
    with engine.begin() as conn:
        conn.execute(followups.insert(), rows)


def _clean(engine, tenant_id) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM followups WHERE tenant_id = :t"), {"t": tenant_id})
        conn.execute(text("DELETE FROM outbox WHERE tenant_id = :t"), {"t": tenant_id})


def _pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_lateness(engine) -> None:
    from timeline.followup_clock import FollowupClock

    tenant_id, start = uuid.uuid4(), datetime.now(UTC) + timedelta(seconds=2)
    _seed(engine, tenant_id, lambda i: start + timedelta(seconds=SPREAD * i / N))
    clocks = [FollowupClock("timeline") for _ in range(2)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clocks]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + SPREAD + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(text("SELECT count(*) FROM followups WHERE tenant_id = :t "
                                         "AND overdue_raised_at IS NULL"), {"t": tenant_id}).scalar()
            if not left:
                break
            time.sleep(0.2)
    finally:
        for c in clocks:
            c.stop()
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_notify('custops_followups', '')"))
            conn.commit()
        for t in threads:
            t.join(timeout=35)
        for c in clocks:
            c.close()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT EXTRACT(EPOCH FROM due_raised_at - due_at) AS due, "
                                 "EXTRACT(EPOCH FROM overdue_raised_at - overdue_at) AS over FROM followups "
                                 "WHERE tenant_id = :t"), {"t": tenant_id}).all()
        events = conn.execute(text("SELECT type, count(*), count(DISTINCT envelope->'data'->>'followup_id') "
                                   "FROM outbox WHERE tenant_id = :t GROUP BY 1 ORDER BY 1"), {"t": tenant_id}).all()
    _clean(engine, tenant_id)
    for name, values in (("due", [float(r.due) * 1000 for r in rows]),
                         ("overdue", [float(r.over) * 1000 for r in rows])):
        print(f"(a) {name:8s} lateness over {len(values)} follow-ups due across {SPREAD:.0f}s, 2 clocks: "
              f"p50 {_pct(values, 50):.1f} ms  p99 {_pct(values, 99):.1f} ms  max {max(values):.1f} ms")
    print("    outbox: " + ", ".join(f"{t} {n} rows / {d} follow-ups" for t, n, d in events))


def bench_throughput(engine) -> None:
    from timeline.followup_clock import raise_due

    past = datetime.now(UTC) - timedelta(minutes=1)
    tenant_id = uuid.uuid4()
    _seed(engine, tenant_id, lambda i: past)
    started = time.perf_counter()
    fired = 0
    while True:
        with db.transaction(engine, "timeline") as session:
            n = raise_due(session)
        fired += n
        if n == 0:
            break
    ours = fired / (time.perf_counter() - started)
    _clean(engine, tenant_id)

    bare_claim = ("""UPDATE followups f SET {c} = now() FROM (SELECT id FROM followups WHERE tenant_id = :t
        AND status = 'open' AND {c} IS NULL AND due_at <= now() ORDER BY due_at LIMIT 500 FOR UPDATE SKIP LOCKED) d
        WHERE f.id = d.id RETURNING f.id""")
    bare_insert = text("INSERT INTO outbox (id, type, tenant_id, envelope) "
                       "VALUES (:id, :type, :t, CAST(:env AS jsonb))")

    def bare(batched: bool) -> float:
        tenant_id = uuid.uuid4()
        _seed(engine, tenant_id, lambda i: past)
        started, fired = time.perf_counter(), 0
        while True:
            n = 0
            with engine.begin() as conn:
                for column, kind in (("due_raised_at", "followup.due"), ("overdue_raised_at", "followup.overdue")):
                    params = [{"id": uuid.uuid4(), "type": kind, "t": tenant_id,
                               "env": f'{{"data": {{"followup_id": "{row.id}"}}}}'}
                              for row in conn.execute(text(bare_claim.replace("{c}", column)), {"t": tenant_id})]
                    if batched and params:
                        conn.execute(bare_insert, params)  # an executemany
                    for p in params if not batched else ():
                        conn.execute(bare_insert, p)
                    n += len(params)
            fired += n
            if n == 0:
                break
        rate = fired / (time.perf_counter() - started)
        _clean(engine, tenant_id)
        return rate

    per_row, batched = bare(False), bare(True)
    print(f"(b) raising {2 * N} events ({N} follow-ups due at once): ours {ours:,.0f} events/s; bare SQL claim + "
          f"INSERT per event {per_row:,.0f}/s (ratio {ours / per_row:.2f}); bare claim + one executemany INSERT "
          f"{batched:,.0f}/s (ratio {ours / batched:.2f})")


def main() -> None:
    migrations.create_database("timeline")
    migrations.upgrade("timeline")
    engine = db.engine_for("timeline")
    print(f"follow-up clock bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
          "(shared by eight engineers' test runs: numbers are noisy)")
    bench_lateness(engine)
    bench_throughput(engine)


if __name__ == "__main__":
    main()
