#!/usr/bin/env python3
"""The benchmarks page and the per-customer metrics at scale: time per read.

Seeds one bench tenant straight into the reports database of `--db-prefix` (default the environment's
CUSTOPS_DB_PREFIX; migrated with `custops setup` first): 2,000 customers, 200,000 tickets over a year
(two in three resolved two days later), a first-response SLA timer met 45 minutes after each, 100,000
time entries, 60 days of daily health scores per customer. The bench tenant's rows are deleted first
and after. Then, in this process (3–5 rounds each; the machine is shared, read medians and ratios):

- one week's headline figures (`benchmark_store.week_figures`, the week under way on every read);
- a page of 50 customer metrics;
- a benchmarks read of 13 weeks that has to freeze them, then the same read with them frozen;
- the figures of 105 weeks at once (a first read of two years).

Run: `.venv/bin/python tests/bench/benchmarks_bench.py [--db-prefix custops_h8w_]`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone

TENANT = uuid.UUID("00000000-0000-0000-0000-00000000b8b8")
TZ = "America/New_York"
CUSTOMER = "('00000000-0000-0000-0000-' || lpad(to_hex({}), 12, '0'))::uuid"
TABLES = ("ticket_facts", "sla_timers", "time_facts", "health_scores", "report_customers", "health_tickets",
          "week_snapshots", "tenant_settings")


def seed(conn, text) -> None:
    params = {"t": TENANT}
    conn.execute(text("INSERT INTO tenant_settings (tenant_id, timezone, week_start) VALUES (:t, :tz, 'monday')"),
                 {**params, "tz": TZ})
    conn.execute(text(f"INSERT INTO report_customers (tenant_id, customer_id, name, tier) SELECT :t, "
                      f"{CUSTOMER.format('g')}, 'c' || g, 'smb' FROM generate_series(1, 2000) g"), params)
    conn.execute(text(f"""
        INSERT INTO ticket_facts (tenant_id, ticket_id, customer_id, created_at, resolved_at, resolved_seq, priority)
        SELECT :t, gen_random_uuid(), {CUSTOMER.format('1 + g % 2000')}, now() - (g % 52000) * interval '10 minutes',
               CASE WHEN g % 3 > 0 THEN now() - (g % 52000) * interval '10 minutes' + interval '2 days' END, 1, 'normal'
        FROM generate_series(1, 200000) g"""), params)
    conn.execute(text("""
        INSERT INTO sla_timers (tenant_id, ticket_id, timer, customer_id, met_at, business_minutes)
        SELECT tenant_id, ticket_id, 'first_response', customer_id, created_at + interval '45 minutes', 45
        FROM ticket_facts WHERE tenant_id = :t"""), params)
    conn.execute(text("""
        INSERT INTO health_tickets (tenant_id, ticket_id, customer_id, opened_at, is_open)
        SELECT tenant_id, ticket_id, customer_id, created_at, resolved_at IS NULL FROM ticket_facts
        WHERE tenant_id = :t"""), params)
    conn.execute(text(f"""
        INSERT INTO time_facts (tenant_id, entry_id, member_id, customer_id, minutes, billable, work_date, revision)
        SELECT :t, gen_random_uuid(), gen_random_uuid(), {CUSTOMER.format('1 + g % 2000')}, 30, g % 2 = 0,
               (now() - (g % 360) * interval '1 day')::date, 1 FROM generate_series(1, 100000) g"""), params)
    conn.execute(text(f"""
        INSERT INTO health_scores (tenant_id, customer_id, day, score, state)
        SELECT :t, {CUSTOMER.format('c')}, now()::date - d, 50 + (c + d) % 50,
               CASE WHEN (c + d) % 5 = 0 THEN 'at_risk' ELSE 'healthy' END
        FROM generate_series(1, 2000) c, generate_series(0, 60) d"""), params)


def timed(fn, rounds: int) -> tuple[float, float]:
    spent = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        spent.append((time.perf_counter() - start) * 1000)
    return statistics.median(spent), max(spent)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-prefix", default=None)
    args = parser.parse_args()
    if args.db_prefix:
        os.environ["CUSTOPS_DB_PREFIX"] = args.db_prefix
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from custops import db
    from reports import benchmark_store, benchmarks, customer_metrics
    from reports.status_report import DEFAULT_RULES

    engine = db.engine_for("reports")

    def clean():
        with engine.begin() as conn:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :t"), {"t": TENANT})

    clean()
    with engine.begin() as conn:
        seed(conn, text)
        conn.execute(text("ANALYZE"))
    now = datetime.now(timezone.utc)
    weeks = benchmarks.weeks_back(now, TZ, "monday", 13)
    try:
        with Session(engine) as s:
            print("week_figures one week (median, max ms): %.1f %.1f" % timed(
                lambda: benchmark_store.week_figures(s, TENANT, TZ, "monday", weeks[-2], now), 5))
            print("customer_metrics page of 50 (median, max ms): %.1f %.1f" % timed(
                lambda: customer_metrics.customer_metrics(s, TENANT, now, TZ, None, 50, None), 5))
            start = time.perf_counter()
            benchmark_store.weeks_with_figures(s, TENANT, TZ, "monday", DEFAULT_RULES, weeks, now)
            s.commit()
            print("benchmarks 13 weeks, first read (freezes them) ms: %.1f" % ((time.perf_counter() - start) * 1000))
            print("benchmarks 13 weeks, frozen (median, max ms): %.1f %.1f" % timed(
                lambda: benchmark_store.weeks_with_figures(s, TENANT, TZ, "monday", DEFAULT_RULES, weeks, now), 5))
            two_years = benchmarks.weeks_back(now, TZ, "monday", 105)
            print("figures of 105 weeks at once (median, max ms): %.1f %.1f" % timed(
                lambda: benchmark_store.figures_for_weeks(s, TENANT, TZ, "monday", two_years, now), 3))
    finally:
        clean()
    return 0


if __name__ == "__main__":
    sys.exit(main())
