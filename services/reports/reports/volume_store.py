"""Ticket volume's read models and query (the rules are in `reports.volume_report`): each ticket's
groups on its fact row (category, source; its assignee and team for SLA by team and assignee), and
one row per move that changes the backlog (`ticket_moves`)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import (Column, DateTime, Index, PrimaryKeyConstraint, SmallInteger, String, Table, bindparam,
                        case, func, or_, text, tuple_)
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP, UUID, insert

from reports import periods, replay, volume_report
from reports.models import metadata, ticket_facts

# One row per ticket event that changes the backlog: created (+1), done (−1: resolved or closed from
# an open status), reopened (+1). Keyed by the event id: a redelivered event counts once.
ticket_moves = Table(
    "ticket_moves",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("delta", SmallInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "event_id"),
)
Index("ix_ticket_moves_at", ticket_moves.c.tenant_id, ticket_moves.c.at)

replay.read_model("volume", ticket_moves)

_MOVE = insert(ticket_moves).on_conflict_do_nothing()


def save_move(session, tenant_id, envelope, ticket_id, at, kind: str, delta: int) -> None:
    session.execute(_MOVE, {"tenant_id": tenant_id, "event_id": envelope.id, "ticket_id": ticket_id, "at": at,
                            "kind": kind, "delta": delta})


def save_status_move(session, tenant_id, envelope, data) -> None:
    move = volume_report.move_of(data.old_status, data.new_status)
    if move is not None:
        save_move(session, tenant_id, envelope, data.ticket_id, data.changed_at, *move)


# --- the groups on ticket_facts (written by the facts model's handlers)

def _category_upsert():
    table = ticket_facts
    stmt = insert(table)
    newer = or_(table.c.category_at.is_(None), table.c.category_at <= stmt.excluded.category_at)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.ticket_id],
        set_={"category": case((newer, stmt.excluded.category), else_=table.c.category),
              "category_at": case((newer, stmt.excluded.category_at), else_=table.c.category_at),
              "source": func.coalesce(stmt.excluded.source, table.c.source)})


_CATEGORY = _category_upsert()


def save_groups(session, tenant_id, ticket_id, customer_id, at, category: str | None = None,
                source: str | None = None) -> None:
    """A ticket's category as of `at` (the newest kept) and its source."""
    session.execute(_CATEGORY, {"tenant_id": tenant_id, "ticket_id": ticket_id, "customer_id": customer_id,
                                "category": category, "category_at": at if category is not None else None,
                                "source": source})


def _assignment_upsert():
    table = ticket_facts
    stmt = insert(table)
    newer = or_(table.c.assigned_at.is_(None),
                tuple_(table.c.assigned_at, table.c.assigned_seq) <= tuple_(stmt.excluded.assigned_at,
                                                                          stmt.excluded.assigned_seq))
    return stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.ticket_id],
        set_={name: case((newer, stmt.excluded[name]), else_=table.c[name])
              for name in ("assignee_id", "team_id", "assigned_at", "assigned_seq")})


_ASSIGNMENT = _assignment_upsert()


def save_assignment(session, tenant_id, envelope, data) -> None:
    """The ticket's assignee and team from ticket.assigned, unless a newer assignment is kept."""
    session.execute(_ASSIGNMENT, {"tenant_id": tenant_id, "ticket_id": data.ticket_id,
                                  "customer_id": data.customer_id, "assignee_id": data.assignee_id,
                                  "team_id": data.team_id, "assigned_at": data.assigned_at,
                                  "assigned_seq": envelope.sequence or 0})


# --- the query

GROUP_SQL = {"category": "f.category", "priority": "f.priority", "customer": "CAST(f.customer_id AS text)",
             "source": "f.source"}
# counts_as (reports.facts) in SQL: resolved and not reopened since
_RESOLVED = ("f.resolved_at IS NOT NULL AND (f.reopened_at IS NULL OR "
             "(f.resolved_at, f.resolved_seq) > (f.reopened_at, f.reopened_seq))")


def _statements(group: str):
    """One statement: tickets created and resolved per period from their fact rows (each by its
    indexed instant within the window), and one pass over the moves up to the window's end — those
    before it (bucket 0) make the backlog the oldest period starts with. `width_bucket` over the
    periods' edges (oldest first, contiguous) names each row's period; bucket 0 is before the window."""
    key = GROUP_SQL[group]
    customer = "(CAST(:customer_id AS uuid) IS NULL OR f.customer_id = :customer_id)"
    return text(f"""
        SELECT width_bucket(f.created_at, :edges) AS bucket, {key} AS key, 'created' AS kind, count(*) AS n,
               0 AS delta
          FROM ticket_facts f
         WHERE f.tenant_id = :tenant_id AND f.created_at >= :window_start AND f.created_at < :window_end AND {customer}
         GROUP BY 1, 2
        UNION ALL
        SELECT width_bucket(f.resolved_at, :edges), {key}, 'resolved', count(*), 0 FROM ticket_facts f
         WHERE f.tenant_id = :tenant_id AND f.resolved_at >= :window_start AND f.resolved_at < :window_end
           AND {_RESOLVED} AND {customer}
         GROUP BY 1, 2
        UNION ALL
        SELECT width_bucket(m.at, :edges), {key}, 'moves', 0, sum(m.delta)
          FROM ticket_moves m LEFT JOIN ticket_facts f ON f.tenant_id = m.tenant_id AND f.ticket_id = m.ticket_id
         WHERE m.tenant_id = :tenant_id AND m.at >= :window_start AND m.at < :window_end AND {customer}
         GROUP BY 1, 2
        UNION ALL
        SELECT width_bucket(m.at, :edges), {key}, 'reopened', count(DISTINCT m.ticket_id), 0
          FROM ticket_moves m LEFT JOIN ticket_facts f ON f.tenant_id = m.tenant_id AND f.ticket_id = m.ticket_id
         WHERE m.tenant_id = :tenant_id AND m.at >= :window_start AND m.at < :window_end AND m.kind = 'reopened'
           AND {customer}
         GROUP BY 1, 2
        UNION ALL
        -- the tickets open when the window starts, summed per ticket first: only those look up their group
        SELECT 0, {key}, 'moves', 0, sum(o.open)
          FROM (SELECT m.tenant_id, m.ticket_id, sum(m.delta) AS open FROM ticket_moves m
                 WHERE m.tenant_id = :tenant_id AND m.at < :window_start
                 GROUP BY m.tenant_id, m.ticket_id HAVING sum(m.delta) <> 0) o
          LEFT JOIN ticket_facts f ON f.tenant_id = o.tenant_id AND f.ticket_id = o.ticket_id
         WHERE {customer}
         GROUP BY 1, 2
    """).bindparams(bindparam("edges", type_=ARRAY(TIMESTAMP(True))), bindparam("customer_id", type_=UUID()))


_STATEMENTS = {group: _statements(group) for group in volume_report.GROUPS}
# a year of months' moves hashed by period and group without spilling to disk (the default is 4 MB)
_WORK_MEM = text("SET LOCAL work_mem = '32MB'")
_NAMES = text("SELECT CAST(customer_id AS text), name FROM report_customers WHERE tenant_id = :tenant_id")


def volume(session, tenant_id, tz: str, spans: list[tuple[date, date]], group: str, customer_id=None) -> list[dict]:
    """Created / resolved / reopened / backlog per period (`spans`, newest first, contiguous) and group."""
    oldest_first = spans[::-1]
    bounds = [periods.instants(first, last, tz) for first, last in oldest_first]
    edges = [start for start, _ in bounds] + [bounds[-1][1]]
    params = {"tenant_id": tenant_id, "customer_id": customer_id, "edges": edges, "window_start": edges[0],
              "window_end": edges[-1]}
    counts, deltas, base = {}, {}, {}
    session.execute(_WORK_MEM)
    for bucket, key, kind, n, delta in session.execute(_STATEMENTS[group], params):
        if bucket == 0:  # before the window: the backlog it starts with
            base[key] = base.get(key, 0) + int(delta)
            continue
        first = oldest_first[bucket - 1][0]
        if kind == "moves":
            deltas[(first, key)] = int(delta)
        else:
            counts.setdefault((first, key), {})[kind] = int(n)
    names = dict(session.execute(_NAMES, {"tenant_id": tenant_id}).all()) if group == "customer" else None
    return volume_report.assemble(spans, counts, deltas, base, names)
