"""The transactional outbox and its relay.

`add()` writes the event row in the caller's transaction, so the state change and the event commit
together or not at all. The relay publishes pending rows with publisher confirms, `mandatory` and
persistent delivery, a batch at a time with one confirm wait per batch, and only then marks them
sent. It holds the rows `FOR UPDATE SKIP LOCKED` while publishing, so several relays can run at
once without publishing the same row twice in the normal case; a relay that dies between publish
and mark releases its locks and the rows are published again — consumers' inboxes absorb that.

The relay outlives its broker and its database (issue 13): a batch the broker did not confirm stays
pending and is published again after reconnection (a batch confirmed just before the broker went
away may go out twice — the inboxes absorb it); a lost database connection is reopened. Retries back
off to `RETRY_MAX_SECONDS` at most, so the outbox drains within seconds of the broker's return.
`problems()` says what its readiness probe reports.
"""
from __future__ import annotations

import json
import logging
import select
import time

import amqp
import psycopg
from sqlalchemy import (BigInteger, Column, DateTime, Identity, Index, Integer, MetaData, String,
                        Table, Text, func, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Session

from custops import config, metrics
from custops.events import Envelope, EventData, envelope_for

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "custops_outbox"
RETRY_MIN_SECONDS = 0.25
RETRY_MAX_SECONDS = 2.0
CONNECT_TIMEOUT = 5


def define_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(), primary_key=True),
        Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("tenant_id", UUID(as_uuid=True)),
        Column("envelope", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        # pending -> sent, or unroutable when no queue took it under `mandatory` (deployment error)
        Column("status", String(20), nullable=False, server_default="pending"),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text),
    )
    Index("ix_outbox_pending", table.c.seq, postgresql_where=table.c.published_at.is_(None))
    return table


_TABLE = define_table(MetaData())


def add(session: Session, tenant_id, data: EventData) -> Envelope:
    """Add an event to the outbox inside the caller's transaction; returns its envelope.

    The envelope carries the actor of the current caller (`custops.caller`; the system when the
    change has no caller, e.g. a clock or a consumer). The returned envelope also has its
    `sequence` (the outbox `seq`), which the relay sets on the published copy: the stored row is
    written before the database hands out the number.
    """
    from custops import caller, tracing

    envelope = envelope_for(data, tenant_id, traceparent=tracing.current_traceparent(),
                            actor=caller.current_actor())
    producer = session.info.get("service")
    if producer and producer != envelope.producer:
        raise ValueError(f"{producer} may not publish {envelope.type} (owned by {envelope.producer})")
    seq = session.execute(
        _TABLE.insert().values(
            id=envelope.id,
            type=envelope.type,
            tenant_id=envelope.tenant_id,
            envelope=envelope.model_dump(mode="json", exclude={"sequence"}),
        ).returning(_TABLE.c.seq)
    ).scalar_one()
    # NOTIFY is transactional: the relay wakes only once the row is committed.
    session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return envelope.model_copy(update={"sequence": seq})


def published_form(seq: int, envelope: dict) -> dict:
    """The envelope as the relay publishes it: with `sequence`, its outbox position.

    `seq` is handed out at insert, and a producer's writes about one thing (a ticket, a customer)
    are serialised by that thing's row lock, so among its events sharing an `occurred_at` the
    sequence is the order they happened in. Sequences of different producers are not comparable.
    """
    return {**envelope, "sequence": seq}


def message_properties(envelope: dict) -> dict:
    return {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "message_id": envelope["id"],
        "type": envelope["type"],
        "application_headers": {
            # nameko turns `nameko.*` headers into worker context data
            "nameko.traceparent": envelope.get("traceparent") or "",
            "nameko.call_id_stack": [f"{envelope['producer']}.outbox.{envelope['id']}"],
        },
    }


class Unconfirmed(Exception):
    """The broker did not confirm (nack or timeout) a batch: nothing is marked sent."""


class Publisher:
    """Publishes envelopes with publisher confirms, one confirm wait per batch."""

    def __init__(self, amqp_uri: str | None = None, confirm_timeout: float = 10.0):
        self.amqp_uri = amqp_uri or config.amqp_uri()
        self.confirm_timeout = confirm_timeout
        self.conn: amqp.Connection | None = None
        self.channel = None
        self._declared: set[str] = set()

    def connect(self) -> None:
        from kombu.utils.url import parse_url

        p = parse_url(self.amqp_uri)
        self.conn = amqp.Connection(
            host=f"{p.get('hostname') or '127.0.0.1'}:{p.get('port') or 5672}",
            userid=p.get("userid") or "guest",
            password=p.get("password") or "guest",
            virtual_host=p.get("virtual_host") or "/",
            heartbeat=0,
            connect_timeout=5,
        )
        self.conn.connect()
        self.channel = self.conn.channel()
        self.channel.confirm_select()
        self._next_tag = 0
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self._declared.clear()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
        self.conn = self.channel = None

    def _on_ack(self, tag, multiple):
        self._settle(tag, multiple, ok=True)

    def _on_nack(self, tag, multiple):
        self._settle(tag, multiple, ok=False)

    def _settle(self, tag, multiple, ok):
        tags = [t for t in self._pending if t <= tag] if multiple else [tag]
        for t in tags:
            if t in self._pending:
                self._pending.discard(t)
                if not ok:
                    self._nacked.add(t)

    def _on_return(self, exc, exchange, routing_key, message):
        self._returned.add(message.properties.get("message_id"))

    def declare_exchange(self, name: str) -> None:
        if name not in self._declared:
            self.channel.exchange_declare(name, "topic", durable=True, auto_delete=False)
            self._declared.add(name)

    def publish_batch(self, envelopes: list[dict]) -> set[str]:
        """Publish and wait for all confirms. Returns the ids the broker returned as unroutable."""
        if self.conn is None:
            self.connect()
        self._pending: set[int] = set()
        self._nacked: set[int] = set()
        self._returned: set[str] = set()
        for env in envelopes:
            exchange = f"{env['producer']}.events"
            self.declare_exchange(exchange)
            body = json.dumps(env).encode()
            msg = amqp.Message(body, **message_properties(env))
            self.channel.basic_publish(msg, exchange=exchange, routing_key=env["type"], mandatory=True)
            self._next_tag += 1  # the broker numbers confirms per channel from 1
            self._pending.add(self._next_tag)
        deadline = time.monotonic() + self.confirm_timeout
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unconfirmed(f"{len(self._pending)} messages unconfirmed")
            self.conn.drain_events(timeout=remaining)
        if self._nacked:
            raise Unconfirmed(f"{len(self._nacked)} messages nacked")
        return self._returned

    def reset(self) -> None:
        self.close()


class Relay:
    """Moves a service's outbox rows to RabbitMQ. Run several at once if you like."""

    def __init__(self, service: str, batch_size: int = 200, idle_wait: float = 1.0,
                 publisher: Publisher | None = None):
        self.service = service
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.publisher = publisher or Publisher()
        self.dsn = config.database_url(service).replace("postgresql+psycopg://", "postgresql://")
        self.conn: psycopg.Connection | None = None
        self.listener: psycopg.Connection | None = None
        self.stopping = False
        self.last_failure: str | None = None  # of the latest cycle; None once a cycle succeeds

    def _connect(self) -> None:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.dsn, connect_timeout=CONNECT_TIMEOUT)
        if self.listener is None or self.listener.closed:
            self.listener = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            self.listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def _close_database(self) -> None:
        for c in (self.conn, self.listener):
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
        self.conn = self.listener = None

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were handled."""
        self._connect()
        started = time.monotonic()
        failure: Exception | None = None
        unroutable: list[int] = []
        with self.conn.transaction():
            rows = self.conn.execute(
                "SELECT seq, envelope, created_at FROM outbox WHERE published_at IS NULL "
                "ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.batch_size,),
            ).fetchall()
            if not rows:
                return 0
            seqs = [r[0] for r in rows]
            try:
                returned = self.publisher.publish_batch([published_form(r[0], r[1]) for r in rows])
            except (OSError, amqp.exceptions.AMQPError, Unconfirmed) as exc:
                # Record the failure and release the rows for the next attempt.
                self.publisher.reset()
                self.conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE seq = ANY(%s)",
                    (repr(exc)[:2000], seqs),
                )
                metrics.OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()
                failure = exc
            else:
                self._before_mark(rows)
                unroutable = [r[0] for r in rows if r[1]["id"] in returned]
                self.conn.execute(
                    "UPDATE outbox SET published_at = now(), attempts = attempts + 1, "
                    "status = CASE WHEN seq = ANY(%s) THEN 'unroutable' ELSE 'sent' END, "
                    "last_error = CASE WHEN seq = ANY(%s) THEN 'returned: no queue bound' END "
                    "WHERE seq = ANY(%s)",
                    (unroutable, unroutable, seqs),
                )
        if failure is not None:
            raise failure
        for r in rows:
            if r[0] in unroutable:
                log.error("outbox event %s (%s) was unroutable: no queue is bound for it",
                          r[1]["id"], r[1]["type"])
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(rows) - len(unroutable))
        metrics.OUTBOX_UNROUTABLE.labels(self.service).inc(len(unroutable))
        now = time.time()
        for r in rows:
            metrics.OUTBOX_PUBLISH_LAG.labels(self.service).observe(max(0.0, now - r[2].timestamp()))
        metrics.OUTBOX_BATCH_SECONDS.labels(self.service).observe(time.monotonic() - started)
        return len(rows)

    def _before_mark(self, rows) -> None:
        """Fault-injection point for tests (CUSTOPS_RELAY_CRASH_AFTER_PUBLISH=1 dies here)."""
        import os

        if os.environ.get("CUSTOPS_RELAY_CRASH_AFTER_PUBLISH") == "1":
            log.warning("crashing after publish, before marking %d rows sent (fault injection)", len(rows))
            os._exit(137)

    def backlog(self) -> int:
        self._connect()
        with self.conn.transaction():
            return self.conn.execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]

    def _wait_for_notify(self) -> None:
        ready, _, _ = select.select([self.listener.fileno()], [], [], self.idle_wait)
        if ready:
            # drain pending notifications without blocking
            for _ in self.listener.notifies(timeout=0, stop_after=1000):
                pass

    def run(self) -> None:
        backoff = RETRY_MIN_SECONDS
        last_backlog = 0.0
        while not self.stopping:
            try:
                n = self.relay_once()
                backoff = RETRY_MIN_SECONDS
                if self.last_failure is not None:
                    log.warning("relay %s: publishing again", self.service)
                    self.last_failure = None
                if time.monotonic() - last_backlog > 2:
                    metrics.OUTBOX_BACKLOG.labels(self.service).set(self.backlog())
                    last_backlog = time.monotonic()
                if n < self.batch_size:
                    self._wait_for_notify()
            except (psycopg.Error, OSError, ValueError, amqp.exceptions.AMQPError, Unconfirmed) as exc:
                database = isinstance(exc, (psycopg.Error, ValueError))  # ValueError: select() on a closed fd
                self.last_failure = f"{'database' if database else 'broker'}: {type(exc).__name__}: {exc}"
                log.warning("relay %s: %s; retrying in %.2fs", self.service, self.last_failure, backoff)
                if database:
                    self._close_database()
                else:
                    self.publisher.reset()
                time.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_SECONDS)

    def problems(self, timeout: float = 2.0) -> list[str]:
        """What keeps this relay from relaying, for its readiness probe: its last cycle's failure,
        and a broker or database that does not answer now (an idle relay touches neither)."""
        from custops.rpc import broker_reachable

        found = [f"last cycle failed ({self.last_failure})"] if self.last_failure else []
        try:
            with psycopg.connect(self.dsn, connect_timeout=max(1, int(timeout))) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not crash
            found.append(f"database unreachable ({type(exc).__name__})")
        try:
            broker_reachable(self.publisher.amqp_uri, timeout)
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not crash
            found.append(f"broker unreachable ({type(exc).__name__})")
        return found

    def stop(self) -> None:
        self.stopping = True

