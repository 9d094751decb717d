"""Ticket volume's read models and query (the rules are in `reports.volume_report`): each ticket's
groups on its fact row (category, source; its assignee and team for SLA by team and assignee), and
one row per move that changes the backlog (`ticket_moves`)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import (Column, Date, DateTime, Index, PrimaryKeyConstraint, SmallInteger, String, Table, bindparam,
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
    key = GROUP_SQL[group]
    # each part takes the window's index range first (`window_start`..`window_end`), then its periods
    bounds = ("(SELECT * FROM unnest(:firsts, :starts, :ends) AS b(first_day, start_at, end_at)) b")
    counts = text(f"""
        SELECT b.first_day, {key} AS key, 'created' AS kind, count(*) AS n FROM ticket_facts f
          JOIN {bounds} ON f.created_at >= b.start_at AND f.created_at < b.end_at
         WHERE f.tenant_id = :tenant_id AND f.created_at >= :window_start AND f.created_at < :window_end
           AND (CAST(:customer_id AS uuid) IS NULL OR f.customer_id = :customer_id)
         GROUP BY 1, 2
        UNION ALL
        SELECT b.first_day, {key}, 'resolved', count(*) FROM ticket_facts f
          JOIN {bounds} ON f.resolved_at >= b.start_at AND f.resolved_at < b.end_at
         WHERE f.tenant_id = :tenant_id AND f.resolved_at >= :window_start AND f.resolved_at < :window_end
           AND {_RESOLVED}
           AND (CAST(:customer_id AS uuid) IS NULL OR f.customer_id = :customer_id)
         GROUP BY 1, 2
        UNION ALL
        SELECT b.first_day, {key}, 'reopened', count(DISTINCT m.ticket_id) FROM ticket_moves m
          JOIN {bounds} ON m.at >= b.start_at AND m.at < b.end_at
          LEFT JOIN ticket_facts f ON f.tenant_id = m.tenant_id AND f.ticket_id = m.ticket_id
         WHERE m.tenant_id = :tenant_id AND m.at >= :window_start AND m.at < :window_end AND m.kind = 'reopened'
           AND (CAST(:customer_id AS uuid) IS NULL OR f.customer_id = :customer_id)
         GROUP BY 1, 2
        UNION ALL
        SELECT b.first_day, {key}, 'delta', sum(m.delta) FROM ticket_moves m
          JOIN {bounds} ON m.at >= b.start_at AND m.at < b.end_at
          LEFT JOIN ticket_facts f ON f.tenant_id = m.tenant_id AND f.ticket_id = m.ticket_id
         WHERE m.tenant_id = :tenant_id AND m.at >= :window_start AND m.at < :window_end
           AND (CAST(:customer_id AS uuid) IS NULL OR f.customer_id = :customer_id)
         GROUP BY 1, 2
        UNION ALL
        SELECT NULL, {key}, 'base', sum(m.delta) FROM ticket_moves m
          LEFT JOIN ticket_facts f ON f.tenant_id = m.tenant_id AND f.ticket_id = m.ticket_id
         WHERE m.tenant_id = :tenant_id AND m.at < :window_start
           AND (CAST(:customer_id AS uuid) IS NULL OR f.customer_id = :customer_id)
         GROUP BY 2
    """).bindparams(bindparam("firsts", type_=ARRAY(Date())), bindparam("starts", type_=ARRAY(TIMESTAMP(True))),
                    bindparam("ends", type_=ARRAY(TIMESTAMP(True))), bindparam("customer_id", type_=UUID()))
    return counts


_STATEMENTS = {group: _statements(group) for group in volume_report.GROUPS}
_NAMES = text("SELECT CAST(customer_id AS text), name FROM report_customers WHERE tenant_id = :tenant_id")


def volume(session, tenant_id, tz: str, spans: list[tuple[date, date]], group: str, customer_id=None) -> list[dict]:
    """Created / resolved / reopened / backlog per period (`spans`, newest first) and group."""
    bounds = [periods.instants(first, last, tz) for first, last in spans]
    params = {"tenant_id": tenant_id, "customer_id": customer_id, "firsts": [s[0] for s in spans],
              "starts": [b[0] for b in bounds], "ends": [b[1] for b in bounds],
              "window_start": min(b[0] for b in bounds), "window_end": max(b[1] for b in bounds)}
    counts, deltas, base = {}, {}, {}
    for first, key, kind, n in session.execute(_STATEMENTS[group], params):
        if kind == "base":
            base[key] = int(n)
        elif kind == "delta":
            deltas[(first, key)] = int(n)
        else:
            counts.setdefault((first, key), {})[kind] = int(n)
    names = dict(session.execute(_NAMES, {"tenant_id": tenant_id}).all()) if group == "customer" else None
    return volume_report.assemble(spans, counts, deltas, base, names)
