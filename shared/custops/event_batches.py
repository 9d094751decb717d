"""Handling a batch of event deliveries in one transaction (issue 14).

An event consumer takes the deliveries already waiting on its queue (up to a batch size, never
waiting for more) and handles them in one transaction: one inbox statement claims every event id
of the batch, the handler runs for each new event in delivery order, one commit. The messages are
acknowledged after that commit only (`custops.entrypoints.EventHandler`).

When a handler raises, the transaction is rolled back and the batch is split where it failed:
the deliveries before the culprit are handled again in a transaction of their own (they had
succeeded), the culprit keeps its failure — it goes the way a failing message always went
(requeued, dead-lettered at its delivery limit or at once when poison) and its handler ran once
for this delivery, as before — and the rest continue as the next batch. A failure that names no
message (the inbox claim or the commit) is retried one message per transaction. A transient
failure (its database or a dependency unavailable) fails the culprit and everything after it, in
order, to be held and requeued once the cause is gone; the deliveries before it are retried.

Why re-running rather than a savepoint per message: a savepoint costs two more round trips per
event on every batch, a re-run costs only when a batch fails.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

from custops import inbox

NEW, DUPLICATE, FAILED = "new", "duplicate", "failed"
_CLAIM, _COMMIT = -1, -2  # failures of the batch as a whole, not of one message


@dataclass(eq=False)
class Delivery:
    """One message of a batch: its body, the kombu message, then what became of it."""

    body: Any
    message: Any
    envelope: Any = None
    data: Any = None
    outcome: str | None = None  # NEW / DUPLICATE once committed, FAILED with `exc_info`
    exc_info: tuple | None = None

    @property
    def event_id(self) -> str | None:
        return self.body.get("id") if isinstance(self.body, dict) else None

    def fail(self, exc_info) -> None:
        self.outcome, self.exc_info = FAILED, exc_info


def handle(db, deliveries: list[Delivery], handler: Callable, is_transient: Callable[[BaseException], bool]) -> None:
    """Run `handler(session, envelope, data)` for each (parsed) delivery, in as few transactions as
    the failures allow; sets every delivery's outcome. `db` is the worker's `DatabaseAccess`."""
    todo = deliveries
    while todo:
        failed_at, exc_info = _attempt(db, todo, handler)
        if failed_at is None:
            return
        if is_transient(exc_info[1]):
            start = max(failed_at, 0)
            handle(db, todo[:start], handler, is_transient)
            for delivery in todo[start:]:
                delivery.fail(exc_info)
            return
        if failed_at < 0:  # the claim or the commit: which message is unknown
            if len(todo) == 1:
                todo[0].fail(exc_info)
            else:
                for delivery in todo:
                    handle(db, [delivery], handler, is_transient)
            return
        handle(db, todo[:failed_at], handler, is_transient)
        todo[failed_at].fail(exc_info)
        todo = todo[failed_at + 1:]


def _attempt(db, todo: list[Delivery], handler: Callable):
    """One transaction for `todo`: (None, None) when it committed (outcomes set), else where it
    failed (an index into `todo`, `_CLAIM` or `_COMMIT`) and the exc_info."""
    stage, outcomes = _CLAIM, []
    try:
        with db.transaction() as session:
            fresh = inbox.claim_many(session, db.consumer, [(d.envelope.id, d.envelope.type) for d in todo])
            for index, delivery in enumerate(todo):
                event_id = delivery.envelope.id
                if event_id not in fresh:  # seen before, or a second copy in this batch
                    outcomes.append(DUPLICATE)
                    continue
                fresh.discard(event_id)
                stage = index
                handler(session, delivery.envelope, delivery.data)
                session.flush()  # an ORM handler's error belongs to its own message, not the next one's
                outcomes.append(NEW)
            stage = _COMMIT
    except Exception:  # noqa: BLE001 - the caller decides what each failure means
        return stage, sys.exc_info()
    for delivery, outcome in zip(todo, outcomes):
        delivery.outcome, delivery.exc_info = outcome, None
    return None, None
