#!/usr/bin/env python3
"""Invoice draft for one customer with 50,000 approved billable time entries: time and memory.

Seeds its own database (prefix `custops_bench_invoice_` or `--db-prefix`, dropped and made again
each run; the rows by COPY): one tenant, one customer, 20 members, 40 projects, 50,000 approved
billable entries over a month, a tenant default rate, 12 member rates and 4 project rates with a
change mid-month, 15-minute rounding per member-day, 20 % VAT. Then, in this process:

- ours: `invoice_store.create_draft` in one transaction (stage the invoiceable entries rounded per
  member-day in SQL, sum them per cell, price the cells by the rate precedence, group into lines,
  tax, insert the invoice, its lines and the 50,000 invoice-entry links by INSERT ... SELECT, the
  outbox event), rolled back and repeated;
- the raw library in the same run: the same selection with one SQL GROUP BY over the raw rows
  (minutes per project and member, no rounding, rates or links), and a plain SELECT of the rows,
  so the ratio says what the rules and the writes cost on top;
- issuing the draft once (lock the entries with one UPDATE ... FROM, number, render and store the PDF).

Peak memory: tracemalloc's peak of Python allocations during one draft, and the process's max RSS.
Bounded: 3 rounds each; the machine is shared (eight engineers), so read ratios over absolutes.
Run: `.venv/bin/python tests/bench/invoice_bench.py [entries] [--db-prefix custops_bench_invoice_h2_]`.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
import uuid
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "billing"))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
_args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_args.add_argument("entries", nargs="?", type=int, default=50_000)
_args.add_argument("--db-prefix", default="custops_bench_invoice_")
ARGS = _args.parse_args()
os.environ["CUSTOPS_DB_PREFIX"] = ARGS.db_prefix

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from billing import invoice_pdf, invoice_store  # noqa: E402
from billing.invoice_models import billing_profiles, customer_billing, rates  # noqa: E402
from billing.models import time_entries  # noqa: E402
from custops import db, migrations  # noqa: E402

ENTRIES = ARGS.entries
ROUNDS = 3
START = date(2026, 3, 1)


def say(line: str = "") -> None:
    print(line, flush=True)


def seed(engine) -> tuple[uuid.UUID, uuid.UUID]:
    tenant, customer = uuid.uuid4(), uuid.uuid4()
    members = [uuid.uuid4() for _ in range(20)]
    projects = [uuid.uuid4() for _ in range(40)]
    now = datetime.now(timezone.utc)
    columns = ("id", "tenant_id", "member_id", "customer_id", "project_id", "work_date", "minutes", "billable",
               "note", "entered_by_member_id", "approved_at", "created_at", "category")
    with engine.begin() as conn:
        with conn.connection.driver_connection.cursor().copy(
                f"COPY time_entries ({', '.join(columns)}) FROM STDIN") as copy:
            for i in range(ENTRIES):
                copy.write_row((uuid.uuid4(), tenant, members[i % 20], customer, projects[i % 40],
                                START + timedelta(days=i % 30), 5 + (i * 7) % 236, True, "", members[i % 20], now,
                                now, ("dev", "design", "support")[i % 3]))
        conn.execute(insert(billing_profiles).values(tenant_id=tenant, company_name="Bench Ltd",
                                                     rounding_increment=15, rounding_scope="day"))
        conn.execute(insert(customer_billing).values(tenant_id=tenant, customer_id=customer, currency="EUR",
                                                     tax_name="VAT", tax_rate_ppm=200_000))
        rate_rows = [{"id": uuid.uuid4(), "tenant_id": tenant, "hourly_amount": 100_00, "currency": "EUR",
                      "effective_from": date(2026, 1, 1)}]
        rate_rows += [{"id": uuid.uuid4(), "tenant_id": tenant, "hourly_amount": 120_00 + i * 5_00, "currency": "EUR",
                       "effective_from": date(2026, 1, 1), "member_id": members[i]} for i in range(12)]
        rate_rows += [{"id": uuid.uuid4(), "tenant_id": tenant, "hourly_amount": 150_00 + i * 10_00, "currency": "EUR",
                       "effective_from": START + timedelta(days=15 * (i % 2)), "project_id": projects[i]}
                      for i in range(4)]
        conn.execute(insert(rates), [{"category": None, "project_id": None, "customer_id": None, "member_id": None,
                                      **r} for r in rate_rows])
        conn.execute(text("ANALYZE time_entries"))
    return tenant, customer


def timed(fn, rounds=ROUNDS) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    started = time.perf_counter()
    say(f"invoice draft benchmark: {ENTRIES:,} approved billable entries, one customer "
        f"(shared 2-core machine, eight engineers at work: read the ratios)")
    migrations.drop_database("billing")  # a fresh database each run
    migrations.create_database("billing")
    migrations.upgrade("billing")
    engine = db.engine_for("billing")
    t0 = time.perf_counter()
    tenant, customer = seed(engine)
    say(f"seeded in {time.perf_counter() - t0:.1f} s")
    end = START + timedelta(days=30)
    now = datetime.now(timezone.utc)

    def draft(session):
        return invoice_store.create_draft(session, tenant, customer, "Bench Customer", START, end, {}, now)

    def ours():
        with Session(engine, info={"service": "billing"}) as session:
            draft(session)
            session.rollback()

    def raw_group_by():
        with engine.connect() as conn:
            conn.execute(select(time_entries.c.project_id, time_entries.c.member_id, func.sum(time_entries.c.minutes))
                         .where(time_entries.c.tenant_id == tenant, time_entries.c.customer_id == customer,
                                time_entries.c.billable, time_entries.c.approved_at.is_not(None),
                                time_entries.c.invoice_id.is_(None), time_entries.c.work_date.between(START, end))
                         .group_by(time_entries.c.project_id, time_entries.c.member_id)).all()

    def raw_select():
        with engine.connect() as conn:
            conn.execute(select(time_entries.c.id, time_entries.c.member_id, time_entries.c.project_id,
                                time_entries.c.work_date, time_entries.c.minutes)
                         .where(time_entries.c.tenant_id == tenant, time_entries.c.customer_id == customer)).all()

    def raw_link_insert():  # the draft's floor: its 50,000 invoice-entry rows, written bare
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO invoice_entries (tenant_id, invoice_id, line_id, entry_id, raw_minutes, "
                              "rounded_minutes) SELECT tenant_id, :i, :i, id, minutes, minutes FROM time_entries "
                              "WHERE tenant_id = :t"), {"i": uuid.uuid4(), "t": tenant})
            conn.rollback()

    def raw_update():  # the issue's floor: the entries' invoice stamp, written bare
        with engine.connect() as conn:
            conn.execute(text("UPDATE time_entries SET invoice_id = :i, invoiced_at = now() WHERE tenant_id = :t"),
                         {"i": uuid.uuid4(), "t": tenant})
            conn.rollback()

    ours()  # warm the caches and the plan
    ours_s, group_s, select_s = timed(ours), timed(raw_group_by), timed(raw_select)
    insert_s, update_s = timed(raw_link_insert, 1), timed(raw_update, 1)
    tracemalloc.start()
    ours()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    with Session(engine, info={"service": "billing"}) as session:
        inv = draft(session)
        session.commit()
    lines = len(inv["_lines"])
    t0 = time.perf_counter()
    with Session(engine, info={"service": "billing"}) as session:
        issued = invoice_store.issue(session, invoice_store.load_invoice(session, tenant, inv["id"], for_update=True),
                                     end, datetime.now(timezone.utc), invoice_pdf.render)
        session.commit()
    issue_s = time.perf_counter() - t0
    with engine.connect() as conn:
        locked = conn.execute(text("SELECT count(*) FROM time_entries WHERE invoice_id = :i"),
                              {"i": inv["id"]}).scalar_one()

    med = statistics.median
    say(f"draft (ours, create_draft)       median {med(ours_s) * 1000:8.0f} ms  (rounds: "
        + ", ".join(f"{s * 1000:.0f}" for s in ours_s) + f")  -> {lines} lines, total {issued['total']} cents")
    for name, runs in (("raw GROUP BY (project, member)", group_s), ("raw SELECT of the rows", select_s)):
        say(f"{name:<32} median {med(runs) * 1000:8.0f} ms   ratio ours/raw {med(ours_s) / med(runs):6.1f}x")
    say(f"raw INSERT of the {ENTRIES:,} link rows   {insert_s[0] * 1000:8.0f} ms   (a draft's floor: it writes them)")
    say(f"time to draft / raw GROUP BY             {med(ours_s) / med(group_s):8.1f}x "
        f"({med(ours_s) * 1000:.0f} ms beside {med(group_s) * 1000:.0f} ms)")
    say(f"time to draft / (GROUP BY + link INSERT) {med(ours_s) / (med(group_s) + insert_s[0]):8.1f}x")
    say(f"per entry (ours)                         {med(ours_s) / ENTRIES * 1e6:8.1f} µs")
    say(f"peak Python memory during a draft        {peak / 2**20:8.1f} MiB ({peak / ENTRIES:.0f} B per entry)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    say(f"max RSS of this process                  {rss:8.1f} MiB")
    say(f"issue (lock {locked:,} entries, number, PDF)  {issue_s * 1000:8.0f} ms  -> {issued['number_text']}")
    say(f"raw UPDATE of the {ENTRIES:,} entries      {update_s[0] * 1000:8.0f} ms   (the issue's floor; "
        f"ratio {issue_s / update_s[0]:.1f}x)")
    say(f"bench run (seed, rounds, issue)          {time.perf_counter() - started:8.1f} s")


if __name__ == "__main__":
    main()
