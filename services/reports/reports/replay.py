"""Read models rebuilt from a replay of the events reports consumed (issue 12): the event log, the
registry of read models, and `rebuild`.

HOW TO REGISTER A READ MODEL (h6, h8, anyone adding one):

    # in your store module, next to its tables
    from reports import replay
    replay.read_model("volume", ticket_volume_rows)          # name -> the tables it owns

    # in the service (or a mixin it inherits): instead of @consumes(...)
    @replay.projects("volume", "tickets", "ticket.created")
    def on_volume_ticket_created(self, session, envelope, data):
        volume_store.save(session, envelope, data)

That is all: the handler consumes the event live as `@consumes` does (same queue, same inbox, same
batching) and also writes the event to the log; `custops reports rebuild --model volume` replays the
logged events through that very function. Rules a handler keeps for it to be rebuildable:
- it writes only its own model's tables (plus the outbox), through `session.execute`;
- it does not use `self` (a replay calls it with `self=None`) and does not depend on when it runs
  (use the event's instants, not `now`) — a `now`-driven side effect (health's recompute, which
  tells `customer.health_changed`) checks `replaying(session)` and is skipped;
- its effect does not depend on the order events arrive in (the same requirement live consumption
  already has: each event type has its own queue and redeliveries come late). A replay goes in
  (occurred_at, sequence, event id) order, which live consumption never guarantees.
A table whose rows also hold values that come from no event (tenant_settings' status rules, health's
told state) names those that do in `resets`: a rebuild sets them back instead of deleting the rows.

Decisions recorded here:

- **Where the events come from: reports' own log** (the issue's option (a)), not the producers'
  audit logs over RPC: a service never reads another's database, the producers keep no complete
  history of every event type reports takes, and a rebuild must not load other services. Every
  handler registered with `projects` inserts the event's envelope (as published, JSON) into
  `event_log`, keyed `(consumer, event_id)` like the inbox and in the same transaction as the
  inbox claim and the effect. So a consumer's log holds exactly the events whose effect its
  tables hold — no more (an event claimed by another consumer of the same type but not by this one
  yet is not in this one's log: it is applied live when it comes, never twice), no fewer. The cost:
  an event taken by two consumers (task.created: status and health) is kept twice; the key needs
  no lock shared between consumers (one shared row per event would make two consumers' batches
  wait on each other's uncommitted inserts, in opposite orders: deadlocks).
- **Events keep arriving during a rebuild.** A model is rebuilt in one transaction: it takes an
  EXCLUSIVE lock on the model's tables (reads go on and see the old rows until the commit; writes
  wait), deletes their rows (the tenant's, with `--tenant`) or sets back their `resets` columns,
  replays the model's log through its handlers, commits. A live consumer of the model that was
  writing when the rebuild began finished first (the lock waits for it) and its events are in the
  log the replay reads; one that comes during the rebuild waits on the lock with its log row
  uncommitted — not replayed — and applies its event to the rebuilt tables after the commit. None
  lost, none twice. The lock is taken with NOWAIT and retried (up to `LOCK_ATTEMPTS`), so the
  rebuild never waits while holding part of it: a consumer writing two of the model's tables in
  another order cannot deadlock with it. Another model's consumers are not held up at all.
- **The log starts with migration 0005r**: events consumed before it are in no log. An
  installation that had reports running before it rebuilds what the log holds; until then its
  read models are kept as they are (nothing is rebuilt unless asked for).
- Replayed events go through the same code as live ones (`Envelope.model_validate`, `payload()`,
  the registered function, the held-INSERT pipelining of a batch), a page of `PAGE_SIZE` at a time.
"""
from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import (BigInteger, Column, DateTime, Index, PrimaryKeyConstraint, String, Table, delete, select,
                        text, tuple_, update)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from custops.entrypoints import consumes
from custops.event_batches import HeldInserts
from custops.events import Envelope
from reports.models import metadata

SERVICE = "reports"  # ReportsService.name: a handler's consumer is "<service>.<method name>"
PAGE_SIZE = 2000
LOCK_ATTEMPTS = 50
REPLAYING = "reports.replaying"  # session.info key set while a replay runs

# Every event a registered handler consumed, as published, once per consumer (see the docstring).
event_log = Table(
    "event_log",
    metadata,
    Column("consumer", String(200), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("tenant_id", UUID(as_uuid=True)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("sequence", BigInteger, nullable=False, server_default="0"),
    Column("envelope", JSONB, nullable=False),
    PrimaryKeyConstraint("consumer", "event_id"),
)
# the replay's order, read page by page from where the last page ended
Index("ix_event_log_replay", event_log.c.occurred_at, event_log.c.sequence, event_log.c.event_id,
      event_log.c.consumer)


@dataclass
class Handler:
    source: str
    event_type: str
    fn: Callable  # fn(self, session, envelope, data): what a replay calls
    live: Callable | None = None  # fn with the event logged first: what the consumer calls

    @property
    def consumer(self) -> str:
        return f"{SERVICE}.{self.fn.__name__}"


@dataclass
class ReadModel:
    name: str
    tables: tuple[Table, ...]
    # table name -> {column: value a rebuild sets back}; a table not named loses its rows
    resets: dict[str, dict] = field(default_factory=dict)
    handlers: list[Handler] = field(default_factory=list)

    @property
    def consumers(self) -> dict[str, Handler]:
        return {h.consumer: h for h in self.handlers}


MODELS: dict[str, ReadModel] = {}


def read_model(name: str, *tables: Table, resets: dict[str, dict] | None = None) -> ReadModel:
    """Register (once) the read model `name` and the tables its handlers write."""
    if name in MODELS:
        raise ValueError(f"read model {name!r} registered twice")
    model = MODELS[name] = ReadModel(name, tuple(tables), resets or {})
    return model


def projects(model: str, source: str, event_type: str):
    """`@consumes(source, event_type)` for a handler of the read model `model`: the event is also
    kept in the log (same transaction), and a rebuild of `model` replays it through `fn`."""

    def decorator(fn):
        @functools.wraps(fn)
        def logged(self, session, envelope, data):
            session.execute(_LOG_INSERT, _log_row(f"{SERVICE}.{fn.__name__}", envelope))
            fn(self, session, envelope, data)

        MODELS[model].handlers.append(Handler(source, event_type, fn, logged))
        return consumes(source, event_type)(logged)

    return decorator


# built once (issue 14): an INSERT with its key given and no RETURNING, held and pipelined in a batch
_LOG_INSERT = insert(event_log).on_conflict_do_nothing()


def _log_row(consumer: str, envelope: Envelope) -> dict:
    return {"consumer": consumer, "event_id": envelope.id, "event_type": envelope.type,
            "tenant_id": envelope.tenant_id, "occurred_at": envelope.occurred_at,
            "sequence": envelope.sequence or 0, "envelope": envelope.model_dump(mode="json")}


def replaying(session) -> bool:
    """Whether the session is a rebuild's replay (a `now`-driven side effect is skipped)."""
    return bool(session.info.get(REPLAYING))


# --- the rebuild


def model_names() -> list[str]:
    return sorted(MODELS)


def _lock(session, model: ReadModel) -> None:
    """EXCLUSIVE on every table of the model, all at once or none (retried), never waiting while
    holding part of it; the last attempt waits."""
    names = ", ".join(f'"{t.name}"' for t in model.tables)
    for attempt in range(LOCK_ATTEMPTS):
        last = attempt == LOCK_ATTEMPTS - 1
        savepoint = session.begin_nested()
        try:
            session.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE{'' if last else ' NOWAIT'}"))
            savepoint.commit()
            return
        except OperationalError:  # lock_not_available: a writer is in flight
            savepoint.rollback()
            if last:
                raise
            time.sleep(min(0.05 * (attempt + 1), 0.5))


def _reset(session, model: ReadModel, tenant_id) -> None:
    for table in model.tables:
        values = model.resets.get(table.name)
        stmt = delete(table) if values is None else update(table).values(**values)
        if tenant_id is not None:
            stmt = stmt.where(table.c.tenant_id == tenant_id)
        session.execute(stmt)


def _events(model: ReadModel, tenant_id, after, limit: int):
    log = event_log
    order = (log.c.occurred_at, log.c.sequence, log.c.event_id, log.c.consumer)
    stmt = select(log.c.consumer, log.c.envelope, *order).where(log.c.consumer.in_(list(model.consumers)))
    if tenant_id is not None:
        stmt = stmt.where(log.c.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(tuple_(*order) > tuple_(*after))
    return stmt.order_by(*order).limit(limit)


def rebuild_model(engine, name: str, tenant_id=None, progress: bool = False, page_size: int = PAGE_SIZE,
                  on_page: Callable | None = None) -> int:
    """Rebuild one read model (for one tenant, or all) from its log in one transaction; the number
    of events replayed. `on_page(replayed)` is called after each page (tests)."""
    model = MODELS[name]
    consumers = model.consumers
    with Session(engine, info={"service": SERVICE, REPLAYING: True}) as session, session.begin():
        _lock(session, model)
        _reset(session, model, tenant_id)
        count = select(event_log.c.event_id).where(event_log.c.consumer.in_(list(consumers)))
        if tenant_id is not None:
            count = count.where(event_log.c.tenant_id == tenant_id)
        total = session.execute(select(text("count(*)")).select_from(count.subquery())).scalar_one()
        bar = _bar(total, name, progress)
        replayed, after = 0, None
        try:
            while True:
                rows = session.execute(_events(model, tenant_id, after, page_size)).all()
                if not rows:
                    break
                held = HeldInserts(session)
                try:
                    for consumer, body, *_ in rows:
                        envelope = Envelope.model_validate(body)
                        consumers[consumer].fn(None, session, envelope, envelope.payload())
                    held.send()
                finally:
                    held.close()
                replayed += len(rows)
                after = tuple(rows[-1][2:])
                bar.update(len(rows))
                if on_page is not None:
                    on_page(replayed)
        finally:
            bar.close()
    return replayed


def _bar(total: int, name: str, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="event", desc=f"rebuild {name}", file=sys.stderr, disable=not progress)


def rebuild(engine, names: list[str] | None = None, tenant_id=None, progress: bool = False) -> dict[str, int]:
    """Rebuild the named read models (default: every one), one transaction each."""
    unknown = [n for n in names or () if n not in MODELS]
    if unknown:
        raise ValueError(f"unknown read model(s) {', '.join(unknown)}: one of {', '.join(model_names())}")
    return {name: rebuild_model(engine, name, tenant_id, progress) for name in (names or model_names())}


def command(model: str = "all", tenant: str | None = None) -> int:
    """`custops reports rebuild [--model NAME|all] [--tenant ID]`: a progress bar per model."""
    import uuid

    import reports.service  # noqa: F401 - registers every handler
    from custops.db import engine_for

    try:
        tenant_id = uuid.UUID(tenant) if tenant else None
    except ValueError:
        print(f"custops reports rebuild: --tenant {tenant!r} is not a tenant id", file=sys.stderr)
        return 2
    try:
        done = rebuild(engine_for(SERVICE), None if model == "all" else [model], tenant_id, progress=True)
    except ValueError as exc:
        print(f"custops reports rebuild: {exc}", file=sys.stderr)
        return 2
    for name, n in done.items():
        print(f"{name}: {n} events replayed")
    return 0


# --- the read models that exist (a new one registers itself where its tables are, as above)

def _register_existing() -> None:
    from reports.health_models import (health_customers, health_interactions, health_invoices, health_milestones,
                                       health_sla_breaches, health_survey_scores, health_tickets)
    from reports.models import (report_customers, report_projects, sla_timers, task_facts, tenant_settings,
                                ticket_facts, time_facts)

    # the status rules come from put_status_rules, not from events: kept
    read_model("settings", tenant_settings, resets={"tenant_settings": {
        "timezone": "UTC", "week_start": "monday", "settings_at": None, "settings_seq": 0}})
    read_model("facts", ticket_facts)  # ticket volume, resolved tickets of the status report, priorities
    read_model("sla", sla_timers, report_customers)
    read_model("status", report_projects, task_facts)
    read_model("time", time_facts)
    # the score history and the state last told are computed as of when they were, not from events: kept
    read_model("health", health_customers, health_tickets, health_sla_breaches, health_interactions,
               health_milestones, health_invoices, health_survey_scores,
               resets={"health_customers": {"start_date": None, "last_human_touch_at": None,
                                            "last_sponsor_touch_at": None}})


_register_existing()
