#!/usr/bin/env python3
"""Reports benchmark (a script, not a test; bounded, prints numbers and ratios) — issue 12.

Seeds one tenant (America/New_York, Monday weeks) with 2,000 customers, 4,000 projects, 50,000
tasks, 200,000 tickets (with their replies, resolutions and SLA breaches), 1,000,000 activities
(interaction.logged) and 100,000 time entries (some corrected, some deleted) over 400 days into
the reports service's read models AND its event log (`reports.replay.event_log`: every event as
each consumer logged it), with `INSERT … SELECT generate_series` in a database of its own
(`<db-prefix>reports`, migrated to heads; kept between runs when its row counts match,
`--reseed` to start over, `--drop` to drop it at the end). The read-model rows are what the
handlers write for those events; that is checked in the same run: a small second tenant is seeded
by the same SQL, then rebuilt from its event log through the real handlers (`reports.replay`),
and every row of every seeded table must be the same before and after.

Then, p50/p95 over `--iterations` calls of the service's own code (the RPC methods' bodies,
shaping included, without the RPC hop) for the status report (last finished week), the SLA
dashboard (last month, with the month before), the time report (last 30 days by customer) and
the at-risk list — beside the same answer computed by GROUP BY over the raw events (the event
log's JSON, as a peer that keeps only the log would, `--raw-iterations` times), and the two
answers compared. Goal: ours ≤ 100 ms p95 each.

    .venv/bin/python tests/bench/reports_bench.py [--db-prefix P] [--vhost V] [--iterations 30]
                                                  [--raw-iterations 3] [--reseed] [--drop]
"""
# ruff: noqa: E501 - the seed and the raw GROUP BYs are SQL, kept one clause a line
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

TENANT = "7e5b0a00-0000-4000-8000-000000000012"
SAMPLE_TENANT = "7e5b0a00-0000-4000-8000-0000000000a7"
TZ = "America/New_York"
FULL = {"customers": 2_000, "projects": 4_000, "tasks": 50_000, "tickets": 200_000, "activities": 1_000_000,
        "time": 100_000, "members": 50}
SAMPLE = {"customers": 10, "projects": 20, "tasks": 150, "tickets": 200, "activities": 800, "time": 150,
          "members": 5}
DAYS = 400
GOAL_MS = 100.0
# the tables the seed writes (and the sample check compares)
SEEDED = ("tenant_settings", "report_customers", "report_projects", "task_facts", "ticket_facts", "sla_timers",
          "time_facts", "health_customers", "health_tickets", "health_sla_breaches", "health_interactions",
          "health_milestones")


def say(line: str = "") -> None:
    print(line, flush=True)


def envelope(event_id: str, type_: str, producer: str, at: str, seq: str, data: str) -> str:
    """SQL building an envelope as the relay publishes it (custops.events.Envelope, JSON)."""
    return (f"jsonb_build_object('id', {event_id}, 'type', '{type_}', 'version', 1, 'occurred_at', {at}, "
            f"'tenant_id', :t, 'producer', '{producer}', 'sequence', {seq}, 'data', {data})")


def log_events(consumers: list[str], type_: str, producer: str, id_expr: str, at: str, seq: str, data: str,
               source: str) -> str:
    """SQL logging one event per row of `source` for each consumer (as `replay.projects` does)."""
    values = ", ".join(f"('reports.{c}')" for c in consumers)
    return f"""
INSERT INTO event_log (consumer, event_id, event_type, tenant_id, occurred_at, sequence, envelope)
SELECT c.consumer, {id_expr}, '{type_}', CAST(:t AS uuid), {at}, {seq},
       {envelope(id_expr, type_, producer, at, seq, data)}
FROM (SELECT * FROM {source}) AS src CROSS JOIN (VALUES {values}) AS c(consumer)"""


def seed_statements(n: dict) -> list[tuple[str, str]]:
    """(what, SQL) in order; parameters :t (tenant), :now (the seed's now), :base (its first day)."""
    cust = "CAST(md5(:t || 'c' || ({i} % {C})) AS uuid)"
    C = n["customers"]
    tickets = f"""(SELECT i, CAST(md5(:t || 't' || i) AS uuid) AS tid, {cust.format(i='i', C=C)} AS cid,
        (ARRAY['low','normal','high','urgent'])[i % 4 + 1] AS prio, created,
        CASE WHEN i % 5 <> 0 AND created + ((i * 104729) % 4320) * interval '1 minute' < :now
             THEN created + ((i * 104729) % 4320) * interval '1 minute' END AS resolved_at,
        CASE WHEN i % 7 <> 0 AND created + ((i * 31) % 480) * interval '1 minute' < :now
             THEN created + ((i * 31) % 480) * interval '1 minute' END AS replied_at,
        created + interval '240 minutes' AS fr_deadline, created + interval '2880 minutes' AS res_deadline
      FROM (SELECT i, :base + (i::float8 / {n['tickets']}) * ({DAYS} * interval '1 day')
                   + ((i * 7919) % 3600) * interval '1 second' AS created
            FROM generate_series(CAST(0 AS bigint), {n['tickets'] - 1}) AS i) g) tk"""
    timed = f"""(SELECT *, (replied_at IS NULL AND fr_deadline < :now) OR replied_at > fr_deadline AS fr_breached,
        (resolved_at IS NULL AND res_deadline < :now) OR resolved_at > res_deadline AS res_breached
      FROM {tickets}) tb"""
    ticket_ids = "'ticket_id', tid, 'number', i + 1, 'customer_id', cid"
    tasks = f"""(SELECT i, CAST(md5(:t || 'k' || i) AS uuid) AS task_id, CAST(md5(:t || 'p' || (i % {n['projects']})) AS uuid)
            AS pid, {cust.format(i=f"(i % {n['projects']})", C=C)} AS cid, done_at - interval '5 days' AS created_at,
        CASE WHEN i % 4 <> 0 THEN done_at END AS completed_at,
        CAST(done_at AS date) + CAST(i % 11 - 5 AS int) AS due_date, i % 10 = 0 AS milestone
      FROM (SELECT i, :base + (i::float8 / {n['tasks']}) * ({DAYS} * interval '1 day') AS done_at
            FROM generate_series(CAST(0 AS bigint), {n['tasks'] - 1}) AS i) g) tt"""
    entries = f"""(SELECT i, CAST(md5(:t || 'e' || i) AS uuid) AS eid, CAST(md5(:t || 'm' || (i % {n['members']})) AS uuid) AS mid,
        {cust.format(i='i', C=C)} AS cid,
        CASE WHEN i % 10 <> 9 THEN CAST(md5(:t || 'p' || (i % {C} + {C} * ((i / {C}) % 2))) AS uuid) END AS pid,
        (ARRAY['development','meeting','support'])[i % 3 + 1] AS category, 15 * (1 + i % 16) AS minutes,
        i % 3 <> 0 AS billable, CAST(:base AS date) + CAST((i::float8 / {n['time']}) * {DAYS} AS int) AS work_date,
        :base + (i::float8 / {n['time']}) * ({DAYS} * interval '1 day') AS logged_at,
        i % 5 = 0 AS updated, i % 20 = 1 AS deleted
      FROM generate_series(CAST(0 AS bigint), {n['time'] - 1}) AS i) te"""
    shift = f"CASE WHEN (i % {C}) % 10 = 0 AND at > :now - interval '30 days' THEN interval '31 days' ELSE interval '0' END"
    activities = f"""(SELECT i, CAST(md5(:t || 'a' || i) AS uuid) AS aid, {cust.format(i='i', C=C)} AS cid, at - {shift} AS at
      FROM (SELECT i, :base + (i::float8 / {n['activities']}) * ({DAYS} * interval '1 day') AS at
            FROM generate_series(CAST(0 AS bigint), {n['activities'] - 1}) AS i) g) ta"""
    entry_data = ("'entry_id', eid, 'member_id', mid, 'customer_id', cid, 'project_id', pid, 'category', category, "
                  "'billable', billable, 'work_date', work_date")
    return [
        ("settings", f"""
INSERT INTO tenant_settings (tenant_id, timezone, week_start, settings_at, settings_seq)
VALUES (CAST(:t AS uuid), '{TZ}', 'monday', :base - interval '30 days', 1);
{log_events(["on_tenant_created"], "tenant.created", "customers", "CAST(md5(:t || 'et') AS uuid)",
            ":base - interval '30 days'", "1",
            f"jsonb_build_object('tenant_id', :t, 'name', 'Bench', 'timezone', '{TZ}', 'week_start', 'monday')",
            "(SELECT 1) AS one")}"""),
        ("customers", f"""
INSERT INTO report_customers (tenant_id, customer_id, name, tier, tier_at, tier_seq)
SELECT CAST(:t AS uuid), {cust.format(i='i', C=C)}, 'Customer ' || i, (ARRAY['enterprise','mid_market','smb'])[i % 3 + 1],
       :base - interval '20 days', 100 + i FROM generate_series(CAST(0 AS bigint), {C - 1}) AS i;
{log_events(["on_customer_created"], "customer.created", "customers", "CAST(md5(:t || 'ec' || i) AS uuid)",
            ":base - interval '20 days'", "100 + i",
            f"jsonb_build_object('customer_id', {cust.format(i='i', C=C)}, 'name', 'Customer ' || i, "
            "'tier', (ARRAY['enterprise','mid_market','smb'])[i % 3 + 1], 'domains', '[]'::jsonb)",
            f"generate_series(CAST(0 AS bigint), {C - 1}) AS i")}"""),
        ("projects", f"""
INSERT INTO report_projects (tenant_id, project_id, customer_id, name, name_at, name_seq)
SELECT CAST(:t AS uuid), CAST(md5(:t || 'p' || k) AS uuid), {cust.format(i='k', C=C)}, 'Project ' || k,
       :base - interval '15 days', 10000 + k FROM generate_series(CAST(0 AS bigint), {n['projects'] - 1}) AS k;
{log_events(["on_project_created"], "project.created", "customers", "CAST(md5(:t || 'ep' || k) AS uuid)",
            ":base - interval '15 days'", "10000 + k",
            f"jsonb_build_object('project_id', CAST(md5(:t || 'p' || k) AS uuid), 'customer_id', {cust.format(i='k', C=C)}, "
            "'name', 'Project ' || k, 'status', 'active')",
            f"generate_series(CAST(0 AS bigint), {n['projects'] - 1}) AS k")}"""),
        ("tasks", f"""
INSERT INTO task_facts (tenant_id, task_id, project_id, customer_id, due_date, milestone, plan_at, plan_seq,
                        completed_at, completed_seq)
SELECT CAST(:t AS uuid), task_id, pid, cid, due_date, milestone, coalesce(completed_at, created_at),
       CASE WHEN completed_at IS NULL THEN 100000 + i ELSE 200000 + i END, completed_at,
       CASE WHEN completed_at IS NULL THEN 0 ELSE 200000 + i END FROM {tasks};
INSERT INTO health_milestones (tenant_id, task_id, customer_id, due_date, milestone, plan_at, plan_seq, completed_at,
                               completed_seq)
SELECT CAST(:t AS uuid), task_id, cid, due_date, milestone, coalesce(completed_at, created_at),
       CASE WHEN completed_at IS NULL THEN 100000 + i ELSE 200000 + i END, completed_at,
       CASE WHEN completed_at IS NULL THEN 0 ELSE 200000 + i END FROM {tasks};
{log_events(["on_task_created", "health_on_task_created"], "task.created", "customers",
            "CAST(md5(:t || 'ek' || i) AS uuid)", "created_at", "100000 + i",
            "jsonb_build_object('task_id', task_id, 'project_id', pid, 'customer_id', cid, 'title', 't', "
            "'status', 'todo', 'category', 'todo', 'due_date', due_date, 'milestone', milestone)", tasks)};
{log_events(["on_task_completed", "health_on_task_completed"], "task.completed", "customers",
            "CAST(md5(:t || 'eK' || i) AS uuid)", "completed_at", "200000 + i",
            "jsonb_build_object('task_id', task_id, 'project_id', pid, 'customer_id', cid, 'title', 't', "
            "'completed_at', completed_at, 'due_date', due_date, 'milestone', milestone)",
            tasks + " WHERE completed_at IS NOT NULL")}"""),
        ("tickets", f"""
INSERT INTO ticket_facts (tenant_id, ticket_id, customer_id, created_at, resolved_at, resolved_seq, priority,
                          priority_at, category, category_at, source)
SELECT CAST(:t AS uuid), tid, cid, created, resolved_at, CASE WHEN resolved_at IS NULL THEN 0 ELSE 3000000 + i END,
       prio, created, 'general', created, 'email' FROM {timed};
INSERT INTO sla_timers (tenant_id, ticket_id, timer, customer_id, deadline, target_minutes, breached_at, met_at)
SELECT CAST(:t AS uuid), tid, 'first_response', cid, CASE WHEN fr_breached THEN fr_deadline END,
       CASE WHEN fr_breached THEN 240 END, CASE WHEN fr_breached THEN fr_deadline END, replied_at
FROM {timed} WHERE fr_breached OR replied_at IS NOT NULL;
INSERT INTO sla_timers (tenant_id, ticket_id, timer, customer_id, deadline, target_minutes, breached_at, met_at)
SELECT CAST(:t AS uuid), tid, 'resolution', cid, CASE WHEN res_breached THEN res_deadline END,
       CASE WHEN res_breached THEN 2880 END, CASE WHEN res_breached THEN res_deadline END, resolved_at
FROM {timed} WHERE res_breached OR resolved_at IS NOT NULL;
INSERT INTO health_tickets (tenant_id, ticket_id, customer_id, opened_at, is_open, moved_at, moved_seq)
SELECT CAST(:t AS uuid), tid, cid, created, resolved_at IS NULL, coalesce(resolved_at, created),
       CASE WHEN resolved_at IS NULL THEN 2000000 + i ELSE 3000000 + i END FROM {timed};
INSERT INTO health_sla_breaches (tenant_id, ticket_id, timer, customer_id, breached_at)
SELECT CAST(:t AS uuid), tid, 'first_response', cid, fr_deadline FROM {timed} WHERE fr_breached
UNION ALL SELECT CAST(:t AS uuid), tid, 'resolution', cid, res_deadline FROM {timed} WHERE res_breached;
{log_events(["on_ticket_created", "health_on_ticket_created"], "ticket.created", "tickets",
            "CAST(md5(:t || 'et' || i) AS uuid)", "created", "2000000 + i",
            f"jsonb_build_object({ticket_ids}, 'subject', 's', 'priority', prio, 'status', 'new', "
            "'source', 'email', 'created_at', created, 'category', 'general')", timed)};
{log_events(["on_ticket_status_changed", "health_on_ticket_status_changed"], "ticket.status_changed", "tickets",
            "CAST(md5(:t || 'es' || i) AS uuid)", "resolved_at", "3000000 + i",
            f"jsonb_build_object({ticket_ids}, 'old_status', 'new', 'new_status', 'resolved', 'changed_at', resolved_at)",
            timed + " WHERE resolved_at IS NOT NULL")};
{log_events(["on_ticket_resolved"], "ticket.resolved", "tickets", "CAST(md5(:t || 'eR' || i) AS uuid)", "resolved_at",
            "3500000 + i", f"jsonb_build_object({ticket_ids}, 'resolved_at', resolved_at)",
            timed + " WHERE resolved_at IS NOT NULL")};
{log_events(["on_ticket_replied", "health_on_ticket_replied"], "ticket.replied", "tickets",
            "CAST(md5(:t || 'er' || i) AS uuid)", "replied_at", "4000000 + i",
            f"jsonb_build_object({ticket_ids}, 'message_id', CAST(md5(:t || 'msg' || i) AS uuid), "
            f"'author_member_id', CAST(md5(:t || 'm' || (i % {n['members']})) AS uuid), 'subject', 're', 'body', 'b', "
            "'replied_at', replied_at, 'automatic', false)", timed + " WHERE replied_at IS NOT NULL")};
{log_events(["on_ticket_sla_breached", "health_on_sla_breached"], "ticket.sla_breached", "tickets",
            "CAST(md5(:t || 'eb' || i) AS uuid)", "fr_deadline", "6000000 + i",
            f"jsonb_build_object({ticket_ids}, 'timer', 'first_response', 'deadline', fr_deadline, 'target_minutes', 240)",
            timed + " WHERE fr_breached")};
{log_events(["on_ticket_sla_breached", "health_on_sla_breached"], "ticket.sla_breached", "tickets",
            "CAST(md5(:t || 'eB' || i) AS uuid)", "res_deadline", "7000000 + i",
            f"jsonb_build_object({ticket_ids}, 'timer', 'resolution', 'deadline', res_deadline, 'target_minutes', 2880)",
            timed + " WHERE res_breached")}"""),
        ("time entries", f"""
INSERT INTO time_facts (tenant_id, entry_id, member_id, customer_id, project_id, category, minutes, billable,
                        work_date, revision, deleted)
SELECT CAST(:t AS uuid), eid, mid, cid, pid, category, minutes + CASE WHEN updated THEN 15 ELSE 0 END, billable,
       work_date, CASE WHEN updated THEN 2 ELSE 1 END, deleted FROM {entries};
{log_events(["on_time_logged"], "time.logged", "billing", "CAST(md5(:t || 'el' || i) AS uuid)", "logged_at",
            "8000000 + i", f"jsonb_build_object({entry_data}, 'minutes', minutes, 'revision', 1)", entries)};
{log_events(["on_time_updated"], "time.updated", "billing", "CAST(md5(:t || 'eu' || i) AS uuid)",
            "logged_at + interval '1 hour'", "8500000 + i",
            f"jsonb_build_object({entry_data}, 'minutes', minutes + 15, 'revision', 2, 'updated_at', "
            "logged_at + interval '1 hour', 'changes', jsonb_build_object('minutes', jsonb_build_object("
            "'old', minutes, 'new', minutes + 15)))", entries + " WHERE updated")};
{log_events(["on_time_deleted"], "time.deleted", "billing", "CAST(md5(:t || 'ed' || i) AS uuid)",
            "logged_at + interval '2 hours'", "8800000 + i",
            f"jsonb_build_object({entry_data}, 'minutes', minutes, 'revision', 1, 'deleted_at', "
            "logged_at + interval '2 hours')", entries + " WHERE deleted")}"""),
        ("activities", f"""
INSERT INTO health_interactions (tenant_id, customer_id, day, count)
SELECT CAST(:t AS uuid), cid, CAST(timezone('UTC', at) AS date), count(*) FROM {activities} GROUP BY 2, 3;
{log_events(["health_on_interaction_logged"], "interaction.logged", "timeline", "aid", "at", "10000000 + i",
            "jsonb_build_object('activity_id', aid, 'customer_id', cid, 'kind', 'call', 'summary', 'c', "
            "'internal', false, 'occurred_at', at)", activities)};
INSERT INTO health_customers (tenant_id, customer_id, last_human_touch_at)
SELECT CAST(:t AS uuid), cid, max(at) FROM (
    SELECT cid, at FROM {activities}
    UNION ALL SELECT cid, replied_at FROM {tickets} WHERE replied_at IS NOT NULL) touches
GROUP BY cid"""),
    ]


def connect(dsn: str):
    import psycopg

    return psycopg.connect(dsn)


def run_sql(conn, sql: str, params: dict) -> None:
    """A script of statements with :name parameters (psycopg takes %(name)s)."""
    import re

    for statement in [s for s in sql.split(";\n") if s.strip()]:
        conn.execute(re.sub(r"(?<!:):(\w+)", r"%(\1)s", statement.replace("%", "%%")), params)


def seed(conn, tenant: str, n: dict, now: datetime) -> None:
    base = now - timedelta(days=DAYS, hours=1)
    params = {"t": tenant, "now": now, "base": base}
    for what, sql in seed_statements(n):
        t0 = time.perf_counter()
        run_sql(conn, sql, params)
        conn.commit()
        say(f"  seeded {what} ({tenant[-4:]}) in {time.perf_counter() - t0:.1f}s")


def table_rows(conn, tenant: str) -> dict:
    out = {}
    for table in SEEDED:
        keys = [r[0] for r in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary", (table,))]
        out[table] = conn.execute(f"SELECT * FROM {table} WHERE tenant_id = %s ORDER BY {', '.join(keys)}",
                                  (tenant,)).fetchall()
    return out


def sample_check(conn, engine, now: datetime) -> None:
    """The seed's rows are the handlers' rows: a sample tenant seeded by the same SQL, rebuilt from
    its log through the real handlers, must have every row unchanged."""
    from reports import replay

    seed(conn, SAMPLE_TENANT, SAMPLE, now)
    before = table_rows(conn, SAMPLE_TENANT)
    conn.commit()
    t0 = time.perf_counter()
    counts = {m: replay.rebuild_model(engine, m, tenant_id=SAMPLE_TENANT)
              for m in ("settings", "sla", "facts", "status", "time", "health")}
    elapsed = time.perf_counter() - t0
    after = table_rows(conn, SAMPLE_TENANT)
    conn.commit()
    bad = [t for t in SEEDED if before[t] != after[t]]
    say(f"  sample tenant rebuilt through the handlers: {sum(counts.values())} events in {elapsed:.1f}s "
        f"({sum(counts.values()) / elapsed:.0f} events/s); rows {'IDENTICAL' if not bad else 'DIFFER in ' + str(bad)}")
    for table in bad:
        diff = [(a, b) for a, b in zip(before[table], after[table]) if a != b][:1]
        say(f"    {table}: {len(before[table])} vs {len(after[table])} rows; first difference {diff}")
    if bad:
        raise SystemExit("the seed does not look like what the handlers write")


# --- the raw answers: GROUP BY over the event log's JSON

RAW_TIME = """
WITH versions AS (
    SELECT DISTINCT ON (envelope->'data'->>'entry_id') envelope->'data' AS d, event_type
    FROM event_log WHERE tenant_id = %(t)s AND consumer IN ('reports.on_time_logged', 'reports.on_time_updated',
                                                           'reports.on_time_deleted')
    ORDER BY envelope->'data'->>'entry_id', event_type = 'time.deleted' DESC, (envelope->'data'->>'revision')::int DESC)
SELECT d->>'customer_id', sum((d->>'minutes')::int), sum((d->>'minutes')::int) FILTER (WHERE (d->>'billable')::bool)
FROM versions WHERE event_type <> 'time.deleted' AND (d->>'work_date')::date BETWEEN %(first)s AND %(last)s
GROUP BY 1"""

RAW_SLA = """
WITH e AS (SELECT event_type, envelope->'data' AS d FROM event_log WHERE tenant_id = %(t)s AND consumer IN (
        'reports.on_ticket_created', 'reports.on_ticket_replied', 'reports.on_ticket_resolved',
        'reports.on_ticket_sla_breached', 'reports.on_customer_created')),
tickets AS (SELECT d->>'ticket_id' AS tid, d->>'customer_id' AS cid, d->>'priority' AS prio FROM e
            WHERE event_type = 'ticket.created'),
tiers AS (SELECT d->>'customer_id' AS cid, d->>'tier' AS tier FROM e WHERE event_type = 'customer.created'),
stops AS (SELECT d->>'ticket_id' AS tid, CASE event_type WHEN 'ticket.replied' THEN 'first_response' ELSE 'resolution' END
                 AS timer, min(COALESCE(d->>'replied_at', d->>'resolved_at')::timestamptz) AS met_at
          FROM e WHERE event_type = 'ticket.resolved' OR (event_type = 'ticket.replied' AND NOT (d->>'automatic')::bool)
          GROUP BY 1, 2),
breaches AS (SELECT d->>'ticket_id' AS tid, d->>'timer' AS timer, min((d->>'deadline')::timestamptz) AS at FROM e
             WHERE event_type = 'ticket.sla_breached' GROUP BY 1, 2),
ended AS (SELECT COALESCE(s.tid, b.tid) AS tid, COALESCE(s.timer, b.timer) AS timer, b.at IS NOT NULL AS breached,
                 COALESCE(b.at, s.met_at) AS at
          FROM stops s FULL JOIN breaches b ON b.tid = s.tid AND b.timer = s.timer)
SELECT ended.timer, t.prio, tiers.tier, count(*) FILTER (WHERE NOT breached), count(*) FILTER (WHERE breached)
FROM ended JOIN tickets t ON t.tid = ended.tid LEFT JOIN tiers ON tiers.cid = t.cid
WHERE CAST(timezone(%(tz)s, ended.at) AS date) BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2, 3"""

RAW_STATUS = """
WITH e AS (SELECT event_type, occurred_at, envelope->'data' AS d FROM event_log WHERE tenant_id = %(t)s AND consumer IN (
        'reports.on_task_created', 'reports.on_task_completed', 'reports.on_ticket_status_changed')),
done AS (SELECT d->>'task_id' AS task, d->>'project_id' AS pid, d->>'customer_id' AS cid,
                max((d->>'completed_at')::timestamptz) AS at FROM e WHERE event_type = 'task.completed' GROUP BY 1, 2, 3),
plans AS (SELECT DISTINCT ON (d->>'task_id') d->>'task_id' AS task, d->>'project_id' AS pid, d->>'customer_id' AS cid,
                 (d->>'due_date')::date AS due, (d->>'milestone')::bool AS milestone
          FROM e WHERE event_type IN ('task.created', 'task.completed') ORDER BY d->>'task_id', occurred_at DESC),
weekly AS (SELECT pid, cid, date_trunc('week', timezone(%(tz)s, at))::date AS week, count(*) AS n FROM done
           WHERE timezone(%(tz)s, at)::date BETWEEN %(last_week)s AND %(week_end)s GROUP BY 1, 2, 3),
late AS (SELECT p.pid, p.cid, count(*) FILTER (WHERE d.at IS NULL OR timezone(%(tz)s, d.at)::date >= %(as_of)s) AS overdue,
                count(*) FILTER (WHERE p.milestone AND p.due >= %(last_week)s
                                 AND (d.at IS NULL OR timezone(%(tz)s, d.at)::date > p.due)) AS missed
         FROM plans p LEFT JOIN done d ON d.task = p.task WHERE p.due < %(as_of)s GROUP BY 1, 2),
resolved AS (SELECT d->>'customer_id' AS cid, date_trunc('week', timezone(%(tz)s, max((d->>'changed_at')::timestamptz)))::date
                    AS week FROM e WHERE event_type = 'ticket.status_changed' AND d->>'new_status' = 'resolved'
             GROUP BY d->>'ticket_id', 1)
SELECT 'task', pid, cid, week, n FROM weekly
UNION ALL SELECT 'late', pid, cid, NULL, overdue * 1000000 + missed FROM late
UNION ALL SELECT 'ticket', NULL, cid, week, count(*) FROM resolved WHERE week BETWEEN %(last_week)s AND %(week)s GROUP BY cid, week
"""

RAW_SIGNALS = """
WITH e AS (SELECT consumer, event_type, envelope->'data' AS d FROM event_log WHERE tenant_id = %(t)s AND consumer IN (
        'reports.health_on_ticket_created', 'reports.health_on_ticket_status_changed', 'reports.health_on_sla_breached',
        'reports.health_on_ticket_replied', 'reports.health_on_interaction_logged', 'reports.health_on_task_created',
        'reports.health_on_task_completed')),
moves AS (SELECT DISTINCT ON (d->>'ticket_id') d->>'ticket_id' AS tid, d->>'customer_id' AS cid,
                 COALESCE(d->>'new_status', d->>'status') AS status
          FROM e WHERE event_type IN ('ticket.created', 'ticket.status_changed')
          ORDER BY d->>'ticket_id', COALESCE(d->>'changed_at', d->>'created_at')::timestamptz DESC),
opened AS (SELECT d->>'ticket_id' AS tid, (d->>'created_at')::timestamptz AS at FROM e WHERE event_type = 'ticket.created'),
open_tickets AS (SELECT m.cid, count(*) AS n, min(o.at) AS oldest FROM moves m JOIN opened o ON o.tid = m.tid
                 WHERE m.status NOT IN ('resolved', 'closed') GROUP BY 1),
breaches AS (SELECT d->>'customer_id' AS cid, count(DISTINCT (d->>'ticket_id', d->>'timer')) AS n FROM e
             WHERE event_type = 'ticket.sla_breached' AND (d->>'deadline')::timestamptz > %(now)s - interval '30 days'
               AND (d->>'deadline')::timestamptz <= %(now)s GROUP BY 1),
activity AS (SELECT d->>'customer_id' AS cid,
                    count(*) FILTER (WHERE CAST(timezone('UTC', (d->>'occurred_at')::timestamptz) AS date) >= %(last_from)s
                                     AND CAST(timezone('UTC', (d->>'occurred_at')::timestamptz) AS date) <= %(today)s) AS last_30,
                    count(*) FILTER (WHERE CAST(timezone('UTC', (d->>'occurred_at')::timestamptz) AS date) >= %(previous_from)s
                                     AND CAST(timezone('UTC', (d->>'occurred_at')::timestamptz) AS date) < %(last_from)s) AS previous_30
             FROM e WHERE event_type = 'interaction.logged' GROUP BY 1),
touches AS (SELECT cid, max(at) AS at FROM (
                SELECT d->>'customer_id' AS cid, (d->>'occurred_at')::timestamptz AS at FROM e WHERE event_type = 'interaction.logged'
                UNION ALL SELECT d->>'customer_id', (d->>'replied_at')::timestamptz FROM e
                WHERE event_type = 'ticket.replied' AND NOT (d->>'automatic')::bool) t GROUP BY 1),
milestones AS (SELECT p.cid, p.due, NOT (d.at IS NOT NULL AND CAST(timezone('UTC', d.at) AS date) <= p.due) AS missed
               FROM (SELECT DISTINCT ON (d->>'task_id') d->>'task_id' AS task, d->>'customer_id' AS cid,
                            (d->>'due_date')::date AS due, (d->>'milestone')::bool AS milestone
                     FROM e WHERE event_type IN ('task.created', 'task.completed')
                     ORDER BY d->>'task_id', event_type = 'task.completed' DESC) p
               LEFT JOIN (SELECT d->>'task_id' AS task, max((d->>'completed_at')::timestamptz) AS at FROM e
                          WHERE event_type = 'task.completed' GROUP BY 1) d ON d.task = p.task
               WHERE p.milestone)
SELECT 'open', cid, n, extract(epoch FROM %(now)s - oldest), NULL FROM open_tickets
UNION ALL SELECT 'breaches', cid, n, NULL, NULL FROM breaches
UNION ALL SELECT 'activity', cid, last_30, previous_30, NULL FROM activity
UNION ALL SELECT 'touch', cid, NULL, extract(epoch FROM %(now)s - at), NULL FROM touches
UNION ALL SELECT 'milestone', cid, NULL, NULL, CASE WHEN due < %(today)s AND missed THEN due::text END FROM milestones
"""


def raw_time(conn, first, last) -> dict:
    rows = conn.execute(RAW_TIME, {"t": TENANT, "first": first, "last": last}).fetchall()
    return {cid: (int(tracked), int(billable or 0)) for cid, tracked, billable in rows}


def raw_sla(conn, first, last) -> dict:
    rows = conn.execute(RAW_SLA, {"t": TENANT, "tz": TZ, "first": first, "last": last}).fetchall()
    out: dict = {}
    for timer, prio, tier, met, breached in rows:
        for key in (("overall",), ("priority", prio), ("tier", tier)):
            total = out.setdefault((timer, *key), [0, 0])
            total[0] += met
            total[1] += breached
    return {k: tuple(v) for k, v in out.items()}


def raw_status(conn, week) -> dict:
    last_week = week - timedelta(days=7)
    rows = conn.execute(RAW_STATUS, {"t": TENANT, "tz": TZ, "week": week, "last_week": last_week,
                                     "week_end": week + timedelta(days=6), "as_of": week + timedelta(days=7)}).fetchall()
    out: dict = {}
    for kind, pid, cid, w, n in rows:
        item = out.setdefault((cid, pid), [0, 0, 0, 0])
        if kind == "late":
            item[2], item[3] = divmod(int(n), 1_000_000)
        else:
            item[0 if w == week else 1] += int(n)
    return {k: tuple(v) for k, v in out.items() if any(v)}


def raw_at_risk(conn, now: datetime) -> list:
    from reports import health

    today = now.date()
    rows = conn.execute(RAW_SIGNALS, {"t": TENANT, "now": now, "today": today, "last_from": today - timedelta(days=29),
                                      "previous_from": today - timedelta(days=59)}).fetchall()
    signals: dict = {}

    def of(cid):
        return signals.setdefault(cid, {"open_tickets": 0, "oldest_open_ticket_days": 0, "sla_breaches_30d": 0,
                                        "overdue_invoices": 0, "_misses": [], "_milestone": False})

    for kind, cid, n, seconds, due in rows:
        item = of(cid)
        if kind == "open":
            item["open_tickets"], item["oldest_open_ticket_days"] = n, max(0.0, float(seconds) / 86400)
        elif kind == "breaches":
            item["sla_breaches_30d"] = n
        elif kind == "activity":
            item["interaction_drop"] = health.interaction_drop(int(n), int(seconds))
        elif kind == "touch":
            item["days_since_human_touch"] = max(0.0, float(seconds) / 86400)
        else:
            item["_milestone"] = True
            if due is not None:
                item["_misses"].append(datetime.fromisoformat(due).date())
    items = []
    for cid, item in signals.items():
        misses, milestone = item.pop("_misses"), item.pop("_milestone")
        if milestone:
            item["onboarding_misses"] = health.weighted_misses(misses, None)
        result = health.score(item, health.Settings())
        if result.state in ("at_risk", "critical"):
            items.append((result.score, cid, result.state))
    return sorted(items)


# --- ours: the service's own code


def timed(fn, n: int) -> tuple[list[float], object]:
    say(f"  timing {getattr(fn, '__name__', 'a query')} x{n} …")
    times, result = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-prefix", default=os.environ.get("CUSTOPS_BENCH_DB_PREFIX", "custops_bench_h7_"))
    parser.add_argument("--vhost", default=None, help="unused: the benchmark needs no broker (kept for symmetry)")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--raw-iterations", type=int, default=3)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    os.environ["CUSTOPS_DB_PREFIX"] = args.db_prefix

    from custops import config, db as custops_db, migrations
    from reports.service import ReportsService
    from reports.status_report import week_start_of
    from reports.weeks import zone

    started = time.perf_counter()
    if args.reseed:
        _drop(config)
    created = migrations.create_database("reports")
    # 0004a first: on an empty database a sibling branch's later migration (0006s) can otherwise run
    # before the 0004a it alters (told to its author; harmless once fixed)
    migrations.upgrade("reports", "0004a")
    migrations.upgrade("reports")
    engine = custops_db.engine_for("reports")
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = connect(dsn)
    conn.execute("SET TIME ZONE 'UTC'")
    stamp = conn.execute("SELECT max(occurred_at) FROM event_log WHERE tenant_id = %s", (TENANT,)).fetchone()[0]
    logged = conn.execute("SELECT count(*) FROM event_log WHERE tenant_id = %s", (TENANT,)).fetchone()[0]
    conn.commit()
    say(f"reports bench: database {config.database_name('reports')} ({'created' if created else 'kept'})")
    if stamp is None or logged < FULL["activities"]:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        for table in (*SEEDED, "event_log"):
            conn.execute(f"DELETE FROM {table} WHERE tenant_id IN (%s, %s)", (TENANT, SAMPLE_TENANT))
        conn.commit()
        sample_check(conn, engine, now)
        t0 = time.perf_counter()
        seed(conn, TENANT, FULL, now)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
        conn.autocommit = False
        say(f"  seeded in {time.perf_counter() - t0:.0f}s")
    else:
        now = stamp + timedelta(hours=1)
        say(f"  kept seed of {stamp:%Y-%m-%d %H:%M} UTC ({logged} logged events); reports as of then")
    counts = {t: conn.execute(f"SELECT count(*) FROM {t} WHERE tenant_id = %s", (TENANT,)).fetchone()[0]
              for t in ("report_customers", "ticket_facts", "sla_timers", "task_facts", "time_facts",
                        "health_interactions", "event_log")}
    conn.commit()
    say("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    say(f"  activities: {FULL['activities']:,} interaction.logged in event_log (and {counts['health_interactions']:,} "
        "customer-days in health_interactions)")

    svc = SimpleNamespace(db=custops_db.DatabaseAccess(engine, "reports", None))
    today = now.astimezone(zone(TZ)).date()
    week = week_start_of(today, "monday") - timedelta(days=7)  # the last finished week
    month_day = (today.replace(day=1) - timedelta(days=1))  # a day of last month
    month_first, month_last = month_day.replace(day=1), month_day
    time_first, time_last = today - timedelta(days=30), today
    results = []

    # status report
    ours_t, ours = timed(lambda: ReportsService.status_report(svc, TENANT, week.isoformat()), args.iterations)
    raw_t, raw = timed(lambda: raw_status(conn, week), args.raw_iterations)
    mine = {(r["customer_id"], r["project_id"]): (r["this_week"], r["last_week"], r["overdue_tasks"],
                                                  r["missed_milestones"]) for r in ours["items"] if
            (r["this_week"], r["last_week"], r["overdue_tasks"], r["missed_milestones"]) != (0, 0, 0, 0)}
    results.append(("status report (a week)", ours_t, raw_t, mine == raw, f"{len(mine)} rows"))

    # SLA dashboard
    ours_t, ours = timed(lambda: ReportsService.sla_attainment(svc, TENANT, period="month", date=month_day.isoformat()),
                         args.iterations)
    raw_t, raw = timed(lambda: raw_sla(conn, month_first, month_last), args.raw_iterations)
    mine = {}
    for timer in ("first_response", "resolution"):
        mine[(timer, "overall")] = (ours[timer]["met"], ours[timer]["breached"])
        for dim, name in (("priority", "by_priority"), ("tier", "by_tier")):
            for g in ours[timer][name]:
                mine[(timer, dim, g["key"])] = (g["met"], g["breached"])
    results.append(("SLA dashboard (a month)", ours_t, raw_t, mine == raw,
                    f"{sum(v[0] + v[1] for k, v in mine.items() if k[1] == 'overall'):,} timers"))

    # time report
    ours_t, ours = timed(lambda: ReportsService.time_report(svc, TENANT, "customer", time_first.isoformat(),
                                                            time_last.isoformat()), args.iterations)
    raw_t, raw = timed(lambda: raw_time(conn, time_first, time_last), args.raw_iterations)
    mine = {i["key"]: (i["tracked_minutes"], i["billable_minutes"]) for i in ours["items"]}
    results.append(("time report (30 days)", ours_t, raw_t, mine == raw, f"{len(mine)} customers"))

    # at-risk list (every page: the whole list, as the CSV export reads it)
    def at_risk():
        items, cursor = [], None
        while True:
            page = ReportsService.at_risk(svc, TENANT, None, 1000, cursor)
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items

    ours_t, ours = timed(at_risk, args.iterations)
    raw_t, raw = timed(lambda: raw_at_risk(conn, datetime.now(timezone.utc)), args.raw_iterations)
    conn.commit()
    mine = sorted((i["score"], i["customer_id"], i["state"]) for i in ours)
    results.append(("at-risk list", ours_t, raw_t, mine == raw, f"{len(mine)} customers"))

    say()
    say(f"{'query':28} {'ours p50':>9} {'ours p95':>9} {'raw p50':>9} {'raw p95':>9} {'raw/ours':>9}  "
        f"{'≤100ms':>6}  same answer")
    ok = True
    for name, ours_t, raw_t, same, note in results:
        o50, o95, r50, r95 = statistics.median(ours_t), p95(ours_t), statistics.median(raw_t), p95(raw_t)
        ok &= same
        say(f"{name:28} {o50:8.1f}ms {o95:8.1f}ms {r50:8.0f}ms {r95:8.0f}ms {r95 / o95:8.1f}x  "
            f"{'yes' if o95 <= GOAL_MS else 'NO':>6}  {'yes' if same else 'NO'} ({note})")
    say(f"\n(ours: {args.iterations} calls each; raw: {args.raw_iterations}; total {time.perf_counter() - started:.0f}s)")
    conn.close()
    if args.drop:
        engine.dispose()
        _drop(config)
    return 0 if ok else 1


def _drop(config) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = config.database_name("reports")
    admin = make_url(config.database_url("reports")).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
