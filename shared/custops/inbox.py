"""The inbox: a consumer records each event id in the same transaction as its effect.

`PRIMARY KEY (consumer, event_id)` makes a redelivered event a no-op: the second insert finds the
row (or waits for the first transaction and then finds it) and the handler skips its effect.
"""
from __future__ import annotations

import uuid

from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.orm import Session


def define_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def claim(session: Session, consumer: str, event_id: uuid.UUID, event_type: str) -> bool:
    """True when this consumer has not seen the event before (and now has, in this transaction)."""
    table = _TABLE
    stmt = (
        insert(table)
        .values(consumer=consumer, event_id=event_id, event_type=event_type)
        .on_conflict_do_nothing()
        .returning(table.c.event_id)
    )
    return session.execute(stmt).first() is not None


# A standalone copy for statements; each service also has the same table in its own metadata.
_TABLE = define_table(MetaData())

