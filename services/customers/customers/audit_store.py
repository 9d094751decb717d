"""The audit store: one append-only row per event of any service (`audit_log`), and its queries.

Rows are only ever inserted (`record`); migration 0004 adds a trigger refusing UPDATE, DELETE and
TRUNCATE, so not even a bug or a hand-typed statement rewrites history (a DBA dropping the trigger
is outside what a database can prevent). A row's id is its event's id: with the consumer's inbox,
a redelivered event writes nothing twice. Every query is scoped by `tenant_id`.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, String, Table, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Session

from custops import pagination
from custops.events import Envelope
from customers import audit
from customers.audit import AuditFilters
from customers.models import metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),  # the event's id
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("producer", String(40), nullable=False),
    Column("action", String(80), nullable=False),  # the event type, e.g. `member.role_changed`
    Column("actor_type", String(20), nullable=False),  # member / contact / system
    Column("actor_id", String(80)),
    Column("target_type", String(40), nullable=False),
    Column("target_id", String(80)),
    Column("changes", JSONB, nullable=False, server_default="{}"),  # `customers.audit.digest`
    Column("request_id", String(200)),
    Column("trace_id", String(64)),
    Column("ip", String(64)),
    Column("user_agent", String(500)),
)
Index("ix_audit_log_tenant_occurred", audit_log.c.tenant_id, audit_log.c.occurred_at, audit_log.c.id)
Index("ix_audit_log_tenant_target", audit_log.c.tenant_id, audit_log.c.target_type, audit_log.c.target_id)
Index("ix_audit_log_tenant_actor", audit_log.c.tenant_id, audit_log.c.actor_id)

# the columns a CSV export has, in order (`changes` as JSON text)
CSV_COLUMNS = ("id", "occurred_at", "actor_type", "actor_id", "action", "target_type", "target_id", "changes",
               "request_id", "trace_id", "ip", "user_agent", "producer")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), None when malformed."""
    if not isinstance(traceparent, str) or len(traceparent) != 55 or traceparent[2] != "-":
        return None
    trace_id = traceparent[3:35]
    try:
        return trace_id if int(trace_id, 16) else None
    except ValueError:
        return None


def row_of(envelope: Envelope) -> dict | None:
    """The audit row of an event; None for an event of no tenant (nothing to file it under)."""
    if envelope.tenant_id is None:
        return None
    target = audit.target_of(envelope.type, envelope.data)
    actor, origin = envelope.actor, envelope.origin
    return {"id": envelope.id, "tenant_id": envelope.tenant_id, "occurred_at": envelope.occurred_at,
            "producer": envelope.producer[:40], "action": envelope.type[:80],
            "actor_type": actor.type if actor else "system",
            "actor_id": str(actor.id) if actor and actor.id else None,
            "target_type": target.type[:40], "target_id": target.id[:80] if target.id else None,
            "changes": audit.digest(envelope.type, envelope.data),
            "request_id": origin.request_id[:200] if origin and origin.request_id else None,
            "trace_id": trace_id_of(envelope.traceparent),
            "ip": origin.ip[:64] if origin and origin.ip else None,
            "user_agent": origin.user_agent[:500] if origin and origin.user_agent else None}


def record(session: Session, envelope: Envelope) -> bool:
    """Append the event's row (the caller's inbox has made sure it is new); False when it has none."""
    row = row_of(envelope)
    if row is None:
        return False
    session.execute(insert(audit_log).values(**row))
    return True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def record_shape(row) -> dict:
    return {"id": str(row["id"]), "occurred_at": _iso(row["occurred_at"]), "recorded_at": _iso(row["recorded_at"]),
            "actor": {"type": row["actor_type"], "id": row["actor_id"]}, "action": row["action"],
            "target": {"type": row["target_type"], "id": row["target_id"]}, "changes": row["changes"],
            "request_id": row["request_id"], "trace_id": row["trace_id"], "ip": row["ip"],
            "user_agent": row["user_agent"], "producer": row["producer"]}


def _filtered(tenant_id: uuid.UUID, f: AuditFilters):
    c = audit_log.c
    stmt = select(audit_log).where(c.tenant_id == tenant_id)
    if f.actor_type:
        stmt = stmt.where(c.actor_type == f.actor_type)
    if f.actor_id:
        stmt = stmt.where(c.actor_id == str(f.actor_id))
    if f.action:  # `ticket.` (ending in a dot): every action of that kind
        stmt = stmt.where(c.action.startswith(f.action, autoescape=True) if f.action.endswith(".")
                          else c.action == f.action)
    if f.target_type:
        stmt = stmt.where(c.target_type == f.target_type)
    if f.target_id:
        stmt = stmt.where(c.target_id == f.target_id)
    if f.request_id:
        stmt = stmt.where(c.request_id == f.request_id)
    if f.from_:
        stmt = stmt.where(c.occurred_at >= f.from_)
    if f.to:
        stmt = stmt.where(c.occurred_at < f.to)
    return stmt


def list_records(session: Session, tenant_id: uuid.UUID, f: AuditFilters, limit: int, cursor: str | None,
                 shape=record_shape) -> dict:
    """Newest first, in the standard page shape (not counted: the log grows without bound)."""
    stmt = pagination.page(_filtered(tenant_id, f), audit_log.c.occurred_at, audit_log.c.id, cursor, limit)
    rows = session.execute(stmt).mappings().all()
    return {**pagination.result(rows, limit, "occurred_at", shape), "total": None}


def csv_shape(row) -> list:
    """A row as the CSV export's cells (`CSV_COLUMNS`)."""
    import json

    return [str(row["id"]), _iso(row["occurred_at"]), row["actor_type"], row["actor_id"] or "", row["action"],
            row["target_type"], row["target_id"] or "", json.dumps(row["changes"], sort_keys=True, default=str),
            row["request_id"] or "", row["trace_id"] or "", row["ip"] or "", row["user_agent"] or "",
            row["producer"]]
