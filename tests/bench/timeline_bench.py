#!/usr/bin/env python3
"""Timeline benchmark (a script, not a test; bounded, prints numbers and ratios).

(1) Ingest: `--ingest-events` `ticket.created` envelopes queued (persistent, as the outbox relay sends
    them) in the bench's own vhost (`--vhost`), then the real service process (`custops service
    timeline`) started on a scratch database (`<db-prefix>ingest_timeline`) and timed from its first
    committed event to its last: events/s with the inbox dedupe on, CPU per event of the service,
    and the transactions and rows written per event (`pg_stat_database`); against a bare psycopg
    loop of the same rows in the same run (the consumer's batch: one multi-row inbox claim and one
    `executemany` of the activities per transaction, `consumer_bench.bare`). Ratio = consumer / bare.
(2) Queries over 1,000,000 activities / 2,000 customers of one tenant (plus a small second tenant),
    seeded with COPY into a database of its own (prefix `custops_bench_timeline_`) with the indexes
    dropped during the COPY and rebuilt after, then VACUUM ANALYZE; kept between runs when its row
    count matches (`--reseed` to start over, `--drop` to drop it at the end). Each query is timed
    through the service's own code (the `ActivityLog` RPC methods, shaping included, without the
    RPC hop and the customers service's existence check), p50/p95 over random customers, beside the
    same SQL written by hand and run with psycopg (raw): a customer's first page (with its total),
    a filtered page deep in a customer's history, a full-text search across the tenant (first page
    with its total), the tenant heatmap (30 days × 2,000 accounts by day, quiet accounts first).
    `--plans` writes EXPLAIN (ANALYZE, BUFFERS) of each into docs/timeline-query-plans.md.

    .venv/bin/python tests/bench/timeline_bench.py [--vhost V] [--db-prefix P] [--plans] [--skip-ingest]
                                                   [--skip-queries] [--iterations 100]
"""
from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # consumer_bench's pieces
sys.path.insert(0, str(HERE.parent))  # tests/harness.py
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

ROWS = 1_000_000
CUSTOMERS = 2_000
MEMBERS = 50
DAYS = 730
NS = uuid.UUID("5b1d7c8e-0000-4000-8000-000000000009")
TENANT = uuid.uuid5(NS, "tenant")
OTHER_TENANT = uuid.uuid5(NS, "other tenant")
CUSTOMER_IDS = [uuid.uuid5(NS, f"customer {i}") for i in range(CUSTOMERS)]
MEMBER_IDS = [uuid.uuid5(NS, f"member {i}") for i in range(MEMBERS)]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)  # fixed: a kept database stays valid
PLANS = ROOT / "docs" / "timeline-query-plans.md"

WORDS = ("renewal pricing contract onboarding workshop invoice login error printer export report dashboard "
         "integration webhook training call meeting budget upgrade downgrade security audit migration backup "
         "feature request bug crash slow password reset billing discount sponsor kickoff review quarterly").split()
TYPES = [("ticket.created", 0.12), ("ticket.status_changed", 0.18), ("ticket.replied", 0.12),
         ("ticket.customer_replied", 0.08), ("ticket.note_added", 0.05), ("interaction.call", 0.08),
         ("interaction.meeting", 0.05), ("interaction.email", 0.07), ("interaction.note", 0.05),
         ("time.logged", 0.1), ("task.completed", 0.05), ("customer.updated", 0.05)]
COLUMNS = ("id", "tenant_id", "customer_id", "type", "occurred_at", "summary", "internal", "subject_type",
           "subject_id", "actor", "actor_type", "sequence", "data", "source_event_id", "created_at", "links")


def say(line: str = "") -> None:
    print(line, flush=True)


# ------------------------------------------------------------------------------------------ ingest

def _db_stats(engine) -> tuple[int, int]:
    """(transactions committed, rows inserted) of the engine's database so far."""
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(text("SELECT xact_commit, tup_inserted FROM pg_stat_database "
                                "WHERE datname = current_database()")).one()
    return int(row[0]), int(row[1])


def ingest(vhost: str, prefix: str, n: int) -> None:
    """Part (1): the real timeline consumer draining `n` queued events vs the bare loop."""
    from kombu import Connection
    from sqlalchemy import text

    import consumer_bench as cb
    from custops import db, migrations, topology
    from custops.runtime import load_service_class
    from harness import local_vhost_uri

    amqp_uri = local_vhost_uri(vhost)
    if amqp_uri is None:
        raise SystemExit("the ingest part needs a RabbitMQ on this machine (it makes its own vhost)")
    os.environ["CUSTOPS_DB_PREFIX"] = prefix + "ingest_"  # the service process inherits it
    queues = topology.service_queues(load_service_class("timeline"))
    with Connection(amqp_uri) as conn:
        topology.declare(conn, queues)
    cb.purge(amqp_uri, queues)
    migrations.create_database("timeline")
    migrations.upgrade("timeline")
    engine = db.engine_for("timeline")

    def empty():
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE inbox, activities, accounts"))
            conn.execute(text("TRUNCATE activity_months"))

    try:
        empty()
        docs = cb.envelopes(n, uuid.uuid4())
        say(f"(1) ingest: {n:,} ticket.created events queued in vhost {vhost}, then the timeline service started")
        cb.publish(amqp_uri, docs)
        before = _db_stats(engine)
        rate, cpu_ms, capped = cb.drain("timeline", amqp_uri, engine, n)
        time.sleep(0.6)  # the statistics collector's last flush
        after = _db_stats(engine)
        per_xact = (after[0] - before[0]) / n
        per_rows = (after[1] - before[1]) / n
        empty()
        bare_rate = cb.bare("timeline", docs, 100)
        verdict = "meets" if rate >= 2000 else "MISSES"
        say(f"  timeline consumer (inbox dedupe on): {rate:,.0f} events/s (goal >= 2,000: {verdict}), "
            f"{cpu_ms:.2f} ms service CPU per event, {per_xact:.3f} commits and {per_rows:.2f} rows inserted "
            "per event" + (f" (capped at {cb.CAP_SECONDS:.0f} s)" if capped else ""))
        say(f"  bare psycopg loop, same rows (batches of 100: multi-row inbox claim + executemany): "
            f"{bare_rate:,.0f} events/s; consumer/bare = {rate / bare_rate:.2f}x")
    finally:
        engine.dispose()
        with Connection(amqp_uri) as conn:
            for name in [q.name for q in queues] + ["rpc-timeline"]:
                conn.default_channel.queue_delete(name)
        migrations.drop_database("timeline")


# ----------------------------------------------------------------------------------------- seeding

def _lines(n: int, tenant: uuid.UUID, customers: list[uuid.UUID], start_seq: int, rng: random.Random):
    types, weights = zip(*TYPES)
    out = io.StringIO()
    for i in range(n):
        kind = rng.choices(types, weights)[0]
        customer = customers[rng.randrange(len(customers))]
        at = NOW - timedelta(seconds=rng.randrange(DAYS * 86400))
        words = " ".join(rng.choice(WORDS) for _ in range(5))
        # ~1% mention an escalation: the full-text figure's needle
        summary = f"{kind.split('.')[1].replace('_', ' ')}: {words}" + (" escalation" if rng.random() < 0.01 else "")
        actor_type = "system" if kind in ("ticket.status_changed",) and rng.random() < 0.6 else (
            "contact" if kind == "ticket.customer_replied" else "member")
        actor = "\\N" if actor_type == "system" else str(rng.choice(MEMBER_IDS) if actor_type == "member"
                                                          else uuid.uuid4())
        internal = "f" if kind.startswith("ticket.") and kind != "ticket.note_added" else "t"
        subject = uuid.uuid5(NS, f"ticket {rng.randrange(200_000)}") if kind.startswith("ticket.") else None
        links = f'{{"ticket_id": "{subject}"}}' if subject else "{}"
        data = '{"fields": {"duration_minutes": 15}}' if kind == "interaction.call" else "{}"
        out.write("\t".join((str(uuid.uuid4()), str(tenant), str(customer), kind, at.isoformat(), summary, internal,
                             "ticket" if subject else "\\N", str(subject) if subject else "\\N", actor, actor_type,
                             str(start_seq + i), data, str(uuid.uuid4()), at.isoformat(), links)) + "\n")
    return out.getvalue()


def seed(engine, reseed: bool) -> None:
    from sqlalchemy import text

    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM activities WHERE tenant_id = :t"), {"t": TENANT}).scalar()
    if have == ROWS and not reseed:
        say(f"  seeded database kept ({have:,} activities)")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE activity_months"))  # (re)built by a migration perhaps
            conn.execute(text("VACUUM ANALYZE accounts"))
        return
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("TRUNCATE activities, accounts, activity_months")
        # the tenant's calendar for the heatmap: Berlin, weeks from Monday (before the read model is built)
        cur.execute("INSERT INTO tenant_settings (tenant_id, timezone, week_start) VALUES (%s, 'Europe/Berlin', "
                    "'monday') ON CONFLICT (tenant_id) DO NOTHING", (TENANT,))
        # the heatmap's read model is built once after the COPY, not by its triggers row by row
        cur.execute("ALTER TABLE activities DISABLE TRIGGER activities_count_insert")
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'activities' "
                    "AND indexname NOT IN ('pk_activities', 'uq_activities_source_event_id')")
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        raw.commit()
        rng = random.Random(9)
        chunk = 100_000
        with cur.copy(f"COPY activities ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for at in range(0, ROWS, chunk):
                copy.write(_lines(chunk, TENANT, CUSTOMER_IDS, at + 1, rng))
            copy.write(_lines(20_000, OTHER_TENANT, [uuid.uuid4() for _ in range(50)], ROWS + 1, rng))
        cur.execute("ALTER TABLE activities ENABLE TRIGGER activities_count_insert")
        cur.execute("INSERT INTO accounts (tenant_id, customer_id) "
                    "SELECT DISTINCT tenant_id, customer_id FROM activities")
        raw.commit()
        copied = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cur.execute(definition)
        cur.execute("SELECT activity_months_rebuild(tenant_id) FROM (SELECT DISTINCT tenant_id FROM activities) t")
        raw.commit()
        indexed = time.perf_counter()
        raw.driver_connection.autocommit = True
        cur.execute("VACUUM ANALYZE activities")
        cur.execute("VACUUM ANALYZE activity_months")
        cur.execute("VACUUM ANALYZE accounts")
    finally:
        raw.close()
    vacuumed = time.perf_counter() - indexed
    say(f"  seeded {ROWS:,} activities / {CUSTOMERS:,} customers (+20,000 of another tenant) with COPY: "
        f"copy {copied - started:.1f} s, indexes and the heatmap's read model {indexed - copied:.1f} s, "
        f"vacuum {vacuumed:.1f} s")


# ---------------------------------------------------------------------------------------- querying

class Harness:
    """The service's `ActivityLog` methods on the seeded database (no broker, no customers RPC)."""

    def __init__(self, engine):
        from types import SimpleNamespace

        from custops.db import DatabaseAccess
        from timeline.activity_service import ActivityLog

        class Log(ActivityLog):
            pass

        self.log = Log()
        self.log.db = DatabaseAccess(engine, "timeline", None)
        self.log.rpc_client = SimpleNamespace(call=lambda *args, **kwargs: None)


def timed(fn, iterations: int) -> list[float]:
    out = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def p(values: list[float], pct: float) -> float:
    return values[min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))]


SELECT = ("SELECT id, tenant_id, customer_id, type, occurred_at, summary, internal, subject_type, subject_id, "
          "actor, actor_type, sequence, data, source_event_id, created_at, links, root_id, revision, "
          "superseded_by, retracted, correction_reason FROM activities ")
LIVE = "superseded_by IS NULL AND NOT retracted AND created_at <= %(as_of)s"
ORDER = " ORDER BY occurred_at DESC, sequence DESC, id DESC LIMIT 51"
RAW = {
    "first_page": [SELECT + f"WHERE tenant_id = %(t)s AND customer_id = %(c)s AND {LIVE}" + ORDER,
                   f"SELECT count(*) FROM activities WHERE tenant_id = %(t)s AND customer_id = %(c)s AND {LIVE}"],
    "deep_page": [SELECT + f"WHERE tenant_id = %(t)s AND customer_id = %(c)s AND {LIVE} AND type LIKE 'ticket.%%' "
                  "AND (occurred_at, sequence, id) < (%(ko)s, %(ks)s, %(ki)s)" + ORDER],
    "full_text": [SELECT + f"WHERE tenant_id = %(t)s AND {LIVE} AND search @@ websearch_to_tsquery('english', %(q)s)"
                  + ORDER, f"SELECT count(*) FROM activities WHERE tenant_id = %(t)s AND {LIVE} "
                  "AND search @@ websearch_to_tsquery('english', %(q)s)"],
    # the obvious GROUP BY over the log (no read model): a time-zone conversion per row, one row per
    # account and day
    "heatmap": ["SELECT customer_id, CAST(timezone('Europe/Berlin', occurred_at) AS DATE), count(*) FROM activities "
                "WHERE tenant_id = %(t)s AND superseded_by IS NULL AND NOT retracted "
                "AND occurred_at >= %(lo)s AND occurred_at < %(hi)s GROUP BY 1, 2"],
}


def deep_key(harness, customer) -> tuple:
    """The cursor to page 5 of a customer's ticket activities (~200 rows deep), and its key (for the raw
    query)."""
    from custops.pagination import decode_key
    from timeline.queries import _KEY_KINDS

    cursor = None
    for _ in range(4):
        cursor = harness.log.list_activities(str(TENANT), str(customer), {"type_prefix": "ticket."}, 50, cursor)[
            "next_cursor"]
    return cursor, decode_key(cursor, _KEY_KINDS)


def run_queries(engine, iterations: int, plans: bool) -> None:
    import psycopg

    from custops import config

    harness = Harness(engine)
    rng = random.Random(1)
    t = str(TENANT)
    heat_end = date(2026, 11, 30)
    heat = {"start": (heat_end - timedelta(days=29)).isoformat(), "end": heat_end.isoformat(), "bucket": "day",
            "quiet_days": 14}
    deep = {c: deep_key(harness, c) for c in rng.sample(CUSTOMER_IDS, 20)}
    deep_customers = list(deep)

    ours = {
        "first_page": lambda: harness.log.list_activities(t, str(rng.choice(CUSTOMER_IDS)), {}, 50),
        "deep_page": lambda: (lambda c: harness.log.list_activities(t, str(c), {"type_prefix": "ticket."}, 50,
                                                                    deep[c][0]))(rng.choice(deep_customers)),
        "full_text": lambda: harness.log.list_tenant_activities(t, {"q": "escalation"}, 50),
        "heatmap": lambda: harness.log.activity_heatmap(t, heat),
        "member_heatmap": lambda: harness.log.member_heatmap(t, heat),
    }
    goals = {"first_page": 50, "deep_page": 50, "full_text": 100, "heatmap": 200, "member_heatmap": None}
    names = {"first_page": "a customer's first page (+ total)",
             "deep_page": "a filtered page deep in a customer's history (page 5 of ticket.*)",
             "full_text": "full-text search across the tenant ('escalation', first page + total)",
             "heatmap": "tenant heatmap, 30 days x 2,000 accounts by day, quiet first",
             "member_heatmap": "member heatmap, 30 days x 50 members by day"}
    url = config.database_url("timeline").replace("postgresql+psycopg://", "postgresql://")
    lo = datetime(2026, 10, 31, 23, 0, tzinfo=timezone.utc)
    hi = datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc)
    with psycopg.connect(url, autocommit=True) as raw:
        def raw_run(name):
            c = rng.choice(deep_customers if name == "deep_page" else CUSTOMER_IDS)
            key = deep[c][1] if name == "deep_page" else (None, None, None)
            params = {"t": TENANT, "c": c, "as_of": datetime.now(timezone.utc), "q": "escalation", "ko": key[0],
                      "ks": key[1], "ki": key[2], "lo": lo, "hi": hi}
            for sql in RAW[name]:
                raw.execute(sql, params).fetchall()

        say(f"(2) queries over {ROWS:,} activities / {CUSTOMERS:,} customers, {iterations} runs each "
            "(shared machine: eight engineers' suites run beside it)")
        for name, fn in ours.items():
            n = iterations if "heatmap" not in name else max(10, iterations // 4)
            fn()  # warm
            mine = timed(fn, n)
            if name not in RAW:
                say(f"  {names[name]}: ours p50 {p(mine, 50):.1f} ms, p95 {p(mine, 95):.1f} ms (no goal)")
                continue
            bare = timed(lambda name=name: raw_run(name), n)
            verdict = "meets" if p(mine, 95) <= goals[name] else "MISSES"
            say(f"  {names[name]}: ours p50 {p(mine, 50):.1f} ms, p95 {p(mine, 95):.1f} ms "
                f"(goal <= {goals[name]} ms: {verdict}); raw psycopg p50 {p(bare, 50):.1f} ms, "
                f"p95 {p(bare, 95):.1f} ms; ours/raw p95 = {p(mine, 95) / max(p(bare, 95), 0.001):.2f}x")
        found = ours["full_text"]()
        say(f"  (full text: {found['total']:,} matches; heatmap: "
            f"{len(ours['heatmap']()['accounts']):,} accounts)")
    if plans:
        write_plans(engine, harness, deep, heat)


# ----------------------------------------------------------------------------------------- plans

def write_plans(engine, harness, deep, heat) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.compiler import compiles
    from sqlalchemy.sql.expression import ClauseElement, Executable

    from timeline import activity_months, heatmap, queries
    from timeline.commands import ActivityFilters

    class Explain(Executable, ClauseElement):
        inherit_cache = False

        def __init__(self, statement):
            self.statement = statement

    @compiles(Explain)
    def _explain(element, compiler, **kw):
        return "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + compiler.process(element.statement, **kw)

    customer = CUSTOMER_IDS[7]
    as_of = datetime.now(timezone.utc)
    deep_customer = next(iter(deep))
    key = deep[deep_customer][1][:3]
    cases = [
        ("A customer's first page", queries.page_statement(
            queries.conditions(TENANT, ActivityFilters(), customer), None, as_of, 50)),
        ("Its total", queries.count_statement(queries.conditions(TENANT, ActivityFilters(), customer), as_of)),
        ("A filtered page deep in a customer's history (page 5 of ticket.*)", queries.page_statement(
            queries.conditions(TENANT, ActivityFilters(type_prefix="ticket."), deep_customer), key, as_of, 50)),
        ("Full-text search across the tenant, first page", queries.page_statement(
            queries.conditions(TENANT, ActivityFilters(q="escalation")), None, as_of, 50)),
        ("Its total", queries.count_statement(queries.conditions(TENANT, ActivityFilters(q="escalation")), as_of)),
        ("Heatmap counts, 30 days by day (Europe/Berlin): the read model (activity_months)",
         activity_months.counts_statement(ActivityFilters()).bindparams(
             tenant=TENANT, first_month=date(2026, 11, 1), end=date(2026, 12, 1))),
        ("Heatmap counts from the log itself (a filter the read model does not keep, e.g. a type: "
         "here none, to compare)", queries.count_by(
            queries.a.customer_id, queries.conditions(TENANT, ActivityFilters()), heatmap.boundaries(
                heatmap.buckets(date(2026, 11, 1), date(2026, 11, 30), "day"), "day", "Europe/Berlin"))),
    ]
    out = ["# Timeline query plans", "",
           "`EXPLAIN (ANALYZE, BUFFERS)` of the timeline's queries over 1,000,000 activities / 2,000 customers, as "
           "seeded by `tests/bench/timeline_bench.py --plans` (which rewrites this page). A plan that stops using "
           "its index — a `Seq Scan on activities`, a sort of the whole customer — is the regression to look for.",
           f"Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on a shared 2-core machine.", ""]
    with engine.connect() as conn:
        for title, stmt in cases:
            plan = "\n".join(r[0] for r in conn.execute(Explain(stmt)))
            out += [f"## {title}", "", "```", plan, "```", ""]
        for title, sql in [("Heatmap: every account and its last human touch (kept on the account)",
                            queries.ACCOUNTS_LAST_HUMAN)]:
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql.text),
                                                        {"tenant": TENANT}))
            out += [f"## {title}", "", "```", plan, "```", ""]
    PLANS.write_text("\n".join(out))
    say(f"  wrote {PLANS.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--plans", action="store_true", help="write docs/timeline-query-plans.md")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--vhost", default=os.environ.get("CUSTOPS_TEST_VHOST", "custops_bench_timeline"),
                        help="the broker vhost of the ingest part (made when missing, kept)")
    parser.add_argument("--db-prefix", default="custops_bench_timeline_",
                        help="database prefix: <prefix>timeline (the seeded 1M, kept) and <prefix>ingest_timeline")
    parser.add_argument("--ingest-events", type=int, default=5_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--drop", action="store_true", help="drop the seeded database at the end")
    args = parser.parse_args()
    started = time.perf_counter()
    say("timeline bench (shared machine: eight engineers' suites run beside it)")
    if not args.skip_ingest:
        ingest(args.vhost, args.db_prefix, args.ingest_events)
    if args.skip_queries:
        say(f"bench took {time.perf_counter() - started:.0f} s")
        return
    os.environ["CUSTOPS_DB_PREFIX"] = args.db_prefix
    from custops import db, migrations

    migrations.create_database("timeline")
    migrations.upgrade("timeline")
    engine = db.engine_for("timeline")
    try:
        seed(engine, args.reseed)
        run_queries(engine, args.iterations, args.plans)
    finally:
        engine.dispose()
        if args.drop:
            migrations.drop_database("timeline")
    say(f"bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
