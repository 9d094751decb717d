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

Fewer round trips, same handlers: in a batch of several, an INSERT a handler executes whose result
it does not need right away (no RETURNING, its primary key given) is held and sent with the others
in one psycopg pipeline — before any other statement of the transaction runs (a SELECT, an UPDATE,
an ORM flush), before the commit, or when the handler reads its result (then that INSERT runs on
its own, so `rowcount` is its own). The order of the statements is the order the handlers executed
them; only the waiting for each is saved. A held INSERT that fails names no message: the batch is
then retried one message per transaction, where it does. Statements a handler sends by
`session.connection()` directly are not ordered after held ones (no service does that; use
`session.execute`).

Work a handler only needs once per batch (a read model's summary recomputed from what the batch
wrote, e.g. a customer's health score) is handed to `once_before_commit(session, key, work)`: each
key's work runs once, after the batch's last handler and before the commit, in the batch's
transaction. A failure there names no message, so the batch is retried one message per transaction
(each then runs its own work): a poison message is still isolated. Outside a batch (a handler
called directly, a replay) the work runs at once.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.sql.dml import Insert

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
    stage, outcomes, held = _CLAIM, [], None
    try:
        with db.transaction() as session:
            session.info[_ONCE] = {}
            fresh = inbox.claim_many(session, db.consumer, [(d.envelope.id, d.envelope.type) for d in todo])
            held = HeldInserts(session) if len(todo) > 1 else None
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
            _run_once_before_commit(session)
            if held is not None:
                held.send()
    except Exception:  # noqa: BLE001 - the caller decides what each failure means
        if held is not None and held.failed:
            stage = _COMMIT  # a held INSERT's failure: whose is not known
        return stage, sys.exc_info()
    finally:
        if held is not None:
            held.close()
    for delivery, outcome in zip(todo, outcomes):
        delivery.outcome, delivery.exc_info = outcome, None
    return None, None


_ONCE = "custops.event_batches.once_before_commit"


def once_before_commit(session, key, work: Callable[[], Any]) -> None:
    """Run `work` once per `key` for this batch, just before its commit (see the module's doc);
    at once when `session` is not a batch's."""
    pending = session.info.get(_ONCE)
    if pending is None:
        work()
    else:
        pending.setdefault(key, work)


def _run_once_before_commit(session) -> None:
    pending = session.info.get(_ONCE) or {}
    while pending:  # work may hand over more work (another key)
        key = next(iter(pending))
        pending.pop(key)()


class HeldInserts:
    """The INSERTs of a batch's transaction held back and sent together (see the module's doc)."""

    def __init__(self, session):
        self.session = session
        self.queue: list[_Held] = []
        self.failed = False
        self._sending = False
        event.listen(session, "do_orm_execute", self._on_execute)
        event.listen(session, "before_flush", self._before_flush)

    def close(self) -> None:
        event.remove(self.session, "do_orm_execute", self._on_execute)
        event.remove(self.session, "before_flush", self._before_flush)

    def _on_execute(self, state):
        if self._sending:
            return None
        params = state.parameters
        if _holdable(state.statement, params):
            held = _Held(self, state.statement, params)
            self.queue.append(held)
            return held
        self.send()  # everything held runs before the statement that follows it
        return None

    def _before_flush(self, session, flush_context, instances) -> None:
        self.send()

    def send(self, upto: "_Held | None" = None) -> None:
        """Send the held INSERTs (those before `upto`, then `upto` alone, when given) in order."""
        if not self.queue:
            return
        if upto is None:
            batch, self.queue = self.queue, []
        else:
            at = self.queue.index(upto)
            batch, self.queue = self.queue[:at], self.queue[at + 1:]
        connection = self.session.connection()
        self._sending = True
        try:
            if batch:
                with connection.connection.driver_connection.pipeline():
                    for held in batch:
                        held.result = connection.execute(held.statement, held.params)
            if upto is not None:
                upto.result = connection.execute(upto.statement, upto.params)
        except Exception:
            self.failed = True
            raise
        finally:
            self._sending = False


def _holdable(statement, params) -> bool:
    """An INSERT whose result is not needed to go on: no RETURNING (so no generated primary key
    to fetch), one row."""
    if not isinstance(statement, Insert) or statement._returning or statement._multi_values:
        return False
    if params is not None and not isinstance(params, dict):
        return False  # an executemany is already one round trip
    given = {getattr(key, "key", key) for key in (statement._values or ())} | set(params or ())
    return all(column.key in given for column in statement.table.primary_key)


class _Held:
    """What a held INSERT's `session.execute` returned: reading it sends the INSERT first."""

    def __init__(self, owner: HeldInserts, statement, params):
        self._owner, self.statement, self.params, self.result = owner, statement, params, None

    def __getattr__(self, name):
        if self.result is None:
            self._owner.send(upto=self)
        return getattr(self.result, name)

    def __iter__(self):
        return iter(self.__getattr__("all")())
