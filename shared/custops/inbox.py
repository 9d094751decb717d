"""The inbox: a consumer records each event id in the same transaction as its effect.

`PRIMARY KEY (consumer, event_id)` makes a redelivered event a no-op: the second insert finds the
row (or waits for the first transaction and then finds it) and the handler skips its effect.
Event consumers claim a whole batch in one statement (`claim_many`).
"""
from __future__ import annotations

import uuid

from typing import Iterable

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


def claim_many(session: Session, consumer: str, events: Iterable[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
    """The ids among `events` (event id, type) this consumer has not seen before, each now claimed in
    this transaction; one statement for them all. The rows go in in event-id order, so two batches
    that share events (a redelivery to another instance) wait for each other but never deadlock."""
    rows = [{"consumer": consumer, "event_id": event_id, "event_type": event_type}
            for event_id, event_type in sorted(dict(events).items())]
    if not rows:
        return set()
    # one statement all the same: SQLAlchemy sends an executemany with RETURNING as one multi-row
    # INSERT ("insertmanyvalues"), compiled once rather than once per batch length
    return set(session.execute(_CLAIM_MANY, rows).scalars())


# A standalone copy for statements; each service also has the same table in its own metadata.
_TABLE = define_table(MetaData())
_CLAIM_MANY = insert(_TABLE).on_conflict_do_nothing().returning(_TABLE.c.event_id)

