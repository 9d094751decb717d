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
import struct
import threading
import time
from typing import TYPE_CHECKING, NamedTuple

import amqp
import psycopg
from sqlalchemy import (BigInteger, Column, DateTime, Identity, Index, Integer, MetaData, String,
                        Table, Text, func, text)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from custops import config, metrics

if TYPE_CHECKING:  # a standalone relay never loads the contracts (pydantic) nor the ORM
    from sqlalchemy.orm import Session

    from custops.events import Envelope, EventData

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
    change has no caller, e.g. a clock or a consumer) and where its request came from (`origin`).
    The returned envelope also has its `sequence` (the outbox `seq`), which the relay sets on the
    published copy: the stored row is written before the database hands out the number.
    """
    from custops import caller, tracing
    from custops.events import envelope_for

    envelope = envelope_for(data, tenant_id, traceparent=tracing.current_traceparent(),
                            actor=caller.current_actor(), origin=caller.current_origin())
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


def add_many(session: Session, events: list[tuple]) -> list[Envelope]:
    """`add()` for many events at once — `[(tenant_id, data), ...]` — in one multi-row INSERT and
    one NOTIFY (a clock raising hundreds of due events at once spends one round trip, not two per
    event); the envelopes in the order given, each with its `sequence`."""
    from custops import caller, tracing
    from custops.events import envelope_for

    if not events:
        return []
    traceparent, actor, origin = tracing.current_traceparent(), caller.current_actor(), caller.current_origin()
    envelopes = [envelope_for(data, tenant_id, traceparent=traceparent, actor=actor, origin=origin)
                 for tenant_id, data in events]
    producer = session.info.get("service")
    for envelope in envelopes:
        if producer and producer != envelope.producer:
            raise ValueError(f"{producer} may not publish {envelope.type} (owned by {envelope.producer})")
    seqs = session.execute(_ADD_MANY, [
        {"id": e.id, "type": e.type, "tenant_id": e.tenant_id,
         "envelope": e.model_dump(mode="json", exclude={"sequence"})} for e in envelopes]).scalars().all()
    session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return [e.model_copy(update={"sequence": seq}) for e, seq in zip(envelopes, seqs)]


# one multi-row INSERT for an executemany ("insertmanyvalues"), the seqs in the order of the rows
_ADD_MANY = _TABLE.insert().returning(_TABLE.c.seq, sort_by_parameter_order=True)


def published_form(seq: int, envelope: dict) -> dict:
    """The envelope as the relay publishes it: with `sequence`, its outbox position.

    `seq` is handed out at insert, and a producer's writes about one thing (a ticket, a customer)
    are serialised by that thing's row lock, so among its events sharing an `occurred_at` the
    sequence is the order they happened in. Sequences of different producers are not comparable.
    The relay has PostgreSQL build the same document (`_CLAIM`), so it never decodes an envelope.
    """
    return {**envelope, "sequence": seq}


def message_properties(message_id: str, event_type: str, producer: str, traceparent: str | None) -> dict:
    return {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "message_id": message_id,
        "type": event_type,
        "application_headers": {
            # nameko turns `nameko.*` headers into worker context data
            "nameko.traceparent": traceparent or "",
            "nameko.call_id_stack": [f"{producer}.outbox.{message_id}"],
        },
    }


# `message_properties` in AMQP's encoding, built directly (py-amqp's generic encoder took most of
# the relay's per-message time after the body): a test holds the two byte for byte equal.
_PROPERTY_FLAGS = (1 << 15) | (1 << 14) | (1 << 13) | (1 << 12) | (1 << 7) | (1 << 5)  # the six set
_U32 = struct.Struct(">I").pack


def _shortstr(value: bytes) -> bytes:
    return bytes((len(value),)) + value


_PROPERTIES_HEAD = (struct.pack(">H", _PROPERTY_FLAGS) + _shortstr(b"application/json") + _shortstr(b"utf-8"))
_TRACEPARENT_KEY = _shortstr(b"nameko.traceparent") + b"S"
_CALL_ID_STACK_KEY = _shortstr(b"nameko.call_id_stack") + b"A"


def encode_properties(message_id: str, event_type: str, producer: str, traceparent: str | None) -> bytes:
    """`message_properties(...)` as the AMQP content header's property flags and list."""
    mid, kind, trace = message_id.encode(), event_type.encode(), (traceparent or "").encode()
    call_id = f"{producer}.outbox.{message_id}".encode()
    call_ids = b"S" + _U32(len(call_id)) + call_id
    headers = _TRACEPARENT_KEY + _U32(len(trace)) + trace + _CALL_ID_STACK_KEY + _U32(len(call_ids)) + call_ids
    return b"".join((_PROPERTIES_HEAD, _U32(len(headers)), headers, b"\x02", _shortstr(mid), _shortstr(kind)))


class _EncodedMessage(amqp.Message):
    """A message whose properties are already encoded (`encode_properties`)."""

    def __init__(self, body: bytes, properties: bytes):
        super().__init__(body)
        self._encoded_properties = properties

    def _serialize_properties(self) -> bytes:
        return self._encoded_properties


class Outgoing(NamedTuple):
    """One message to publish: an envelope already serialised, with what routes and labels it."""
    message_id: str
    type: str
    producer: str
    traceparent: str | None
    body: bytes

    @classmethod
    def of(cls, envelope: dict) -> "Outgoing":
        return cls(envelope["id"], envelope["type"], envelope["producer"], envelope.get("traceparent"),
                   json.dumps(envelope).encode())


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
        self._pending: set[int] = set()
        self._unsettled_from = 1
        self._nacked: set[int] = set()
        self._returned: set[str] = set()

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
        # A batch's tags are consecutive; `_unsettled_from` is its lowest not covered by a `multiple`
        # ack yet, so each tag is looked at once (scanning the pending set per ack was quadratic).
        if multiple:
            tags = range(self._unsettled_from, tag + 1)
            self._unsettled_from = max(self._unsettled_from, tag + 1)
        else:
            tags = (tag,)
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

    def publish(self, messages: list[Outgoing]) -> None:
        """Send a batch, persistent and `mandatory`, without waiting: `wait_confirms()` next."""
        if self.conn is None:
            self.connect()
        self._pending, self._nacked, self._returned = set(), set(), set()
        self._unsettled_from = self._next_tag + 1
        publish = self.channel.basic_publish
        for m in messages:
            exchange = f"{m.producer}.events"
            self.declare_exchange(exchange)
            publish(_EncodedMessage(m.body, encode_properties(m.message_id, m.type, m.producer, m.traceparent)),
                    exchange=exchange, routing_key=m.type, mandatory=True)
            self._next_tag += 1  # the broker numbers confirms per channel from 1
            self._pending.add(self._next_tag)

    def wait_confirms(self) -> set[str]:
        """Wait for every confirm of the batch `publish()` sent (Unconfirmed on a nack or timeout).
        Returns the ids the broker returned as unroutable (a return precedes its message's ack)."""
        deadline = time.monotonic() + self.confirm_timeout
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unconfirmed(f"{len(self._pending)} messages unconfirmed")
            self.conn.drain_events(timeout=remaining)
        if self._nacked:
            raise Unconfirmed(f"{len(self._nacked)} messages nacked")
        return self._returned

    def publish_batch(self, envelopes: list[dict]) -> set[str]:
        """Publish and wait for all confirms. Returns the ids the broker returned as unroutable."""
        self.publish([Outgoing.of(env) for env in envelopes])
        return self.wait_confirms()

    def reset(self) -> None:
        self.close()


# The pending rows a relay takes, locked. Only `seq` goes through the locking scan; the taken rows'
# envelopes come as PostgreSQL's text of them, which `_body` completes to the published form
# (`published_form`), so the relay neither decodes nor re-encodes JSON. `enable_sort = off` keeps the
# scan on ix_outbox_pending in `seq` order even when the table's statistics are stale (a fresh or
# suddenly grown outbox): otherwise the planner may sort every pending row for each batch, a cost
# growing with the backlog. The statement is prepared once per connection (planning it cost more
# than running it) and executed in one simple query with its `BEGIN` (one round trip, not two).
# `after`: within one drain, each batch starts past the previous one's last `seq`, so a long backlog
# costs each claim only its own rows, not a walk over every row marked so far (whose old versions
# stay in the index until vacuum). A row of a lower `seq` committed later than its neighbours is
# taken by the next drain, which starts from the bottom (its NOTIFY wakes the relay for it).
_PREPARE_CLAIM = (
    "PREPARE custops_outbox_claim(int, bigint) AS "
    "WITH claimed AS (SELECT seq FROM outbox WHERE published_at IS NULL AND seq > $2 "
    "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) "
    "SELECT o.seq, o.id::text, o.type, o.envelope->>'producer', o.envelope->>'traceparent', "
    "o.envelope::text, o.created_at FROM claimed JOIN outbox o ON o.seq = claimed.seq")
_CLAIM = "BEGIN; SET LOCAL enable_sort = off; EXECUTE custops_outbox_claim({limit:d}, {after:d})"
_SEQ, _ID, _TYPE, _PRODUCER, _TRACEPARENT, _BODY, _CREATED_AT = range(7)


def _body(seq: int, envelope_text: str) -> bytes:
    """`published_form(seq, envelope)` from PostgreSQL's text of the stored envelope (an object)."""
    if envelope_text == "{}":
        return f'{{"sequence": {seq}}}'.encode()
    return f'{envelope_text[:-1]}, "sequence": {seq}}}'.encode()


def _seq_array(seqs) -> str:
    return "'{" + ",".join(str(int(s)) for s in seqs) + "}'::bigint[]"


class _Batch(NamedTuple):
    conn: psycopg.Connection  # whose open transaction holds the rows' locks
    rows: list[tuple]

    @property
    def seqs(self) -> list[int]:
        return [r[_SEQ] for r in self.rows]


class _Helper:
    """Runs one call in a thread (a green one in an eventlet process) while the relay publishes."""

    def __init__(self, call, *args):
        self.value = None
        self.error: BaseException | None = None

        def run():
            try:
                self.value = call(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to result()
                self.error = exc

        self.thread = threading.Thread(target=run, name="outbox-helper", daemon=True)
        self.thread.start()

    def result(self):
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


class Relay:
    """Moves a service's outbox rows to RabbitMQ. Run several at once if you like.

    `relay_pending()` (what `run()` does) overlaps the database with the broker: while the broker
    confirms a batch, the next one is claimed on a second connection (`SKIP LOCKED` passes over the
    rows the first still holds), and while that next batch is published, a helper thread marks the
    confirmed one sent in the transaction that locked it. Each batch is still published only after
    the previous one was confirmed, and marked only after its own confirms.

    The relay's connections commit asynchronously (`synchronous_commit = off`): a mark lost in a
    database crash only means its rows are published again, which the consumers' inboxes absorb.
    """

    def __init__(self, service: str, batch_size: int = 200, idle_wait: float = 1.0,
                 publisher: Publisher | None = None):
        self.service = service
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.publisher = publisher or Publisher()
        self.dsn = config.database_url(service).replace("postgresql+psycopg://", "postgresql://")
        self.conns: list[psycopg.Connection | None] = [None, None]  # batches alternate between them
        self.listener: psycopg.Connection | None = None
        self.stopping = False
        self.last_failure: str | None = None  # of the latest cycle; None once a cycle succeeds

    @property
    def conn(self) -> psycopg.Connection | None:
        return self.conns[0]

    def connect(self) -> None:
        """Open what is not open yet: its two connections for batches and its LISTEN connection."""
        for i, c in enumerate(self.conns):
            if c is None or c.closed:
                # autocommit: the relay sends its own BEGIN/COMMIT, batched with its statements
                c = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                    options="-c synchronous_commit=off")
                c.execute(_PREPARE_CLAIM)
                self.conns[i] = c
        if self.listener is None or self.listener.closed:
            self.listener = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            self.listener.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def _close_database(self) -> None:
        for c in (*self.conns, self.listener):
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
        self.conns = [None, None]
        self.listener = None

    # -------------------------------------------------------------------------- one batch's steps

    def _claim(self, conn: psycopg.Connection, after: int = 0) -> _Batch:
        """Open a transaction on `conn` and lock in it up to `batch_size` pending rows past `after`."""
        cur = conn.execute(_CLAIM.format(limit=int(self.batch_size), after=int(after)))
        cur.nextset()  # past BEGIN's and SET's empty results
        cur.nextset()
        return _Batch(conn, sorted(cur.fetchall()))  # in outbox order (by seq)

    @staticmethod
    def _release(batch: _Batch | None) -> None:
        """End the batch's transaction if it is still open (its rows stay pending)."""
        if batch is None or batch.conn.closed:
            return
        try:
            if batch.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                batch.conn.execute("ROLLBACK")
        except psycopg.Error:  # a broken connection: its transaction is gone with it
            batch.conn.close()

    def _publish(self, batch: _Batch) -> None:
        self.publisher.publish([Outgoing(r[_ID], r[_TYPE], r[_PRODUCER], r[_TRACEPARENT], _body(r[_SEQ], r[_BODY]))
                                for r in batch.rows])

    def _failed(self, batch: _Batch, exc: Exception) -> None:
        """The broker did not take the batch: count an attempt on its rows and release them."""
        self.publisher.reset()
        batch.conn.execute("UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE seq = ANY(%s)",
                           (repr(exc)[:2000], batch.seqs))
        batch.conn.execute("COMMIT")
        metrics.OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()

    def _mark(self, batch: _Batch, returned: set[str], started: float) -> None:
        """Mark a confirmed batch sent (unroutable for what the broker returned) and commit."""
        unroutable = [r[_SEQ] for r in batch.rows if r[_ID] in returned]
        if unroutable:
            mark = ("UPDATE outbox SET published_at = now(), attempts = attempts + 1, "
                    f"status = CASE WHEN seq = ANY({_seq_array(unroutable)}) THEN 'unroutable' ELSE 'sent' END, "
                    f"last_error = CASE WHEN seq = ANY({_seq_array(unroutable)}) "
                    "THEN 'returned: no queue bound' END ")
        else:
            mark = "UPDATE outbox SET published_at = now(), attempts = attempts + 1, status = 'sent' "
        batch.conn.execute(f"{mark} WHERE seq = ANY({_seq_array(batch.seqs)}); COMMIT")
        for r in batch.rows:
            if r[_SEQ] in unroutable:
                log.error("outbox event %s (%s) was unroutable: no queue is bound for it", r[_ID], r[_TYPE])
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(batch.rows) - len(unroutable))
        metrics.OUTBOX_UNROUTABLE.labels(self.service).inc(len(unroutable))
        now = time.time()
        lag = metrics.OUTBOX_PUBLISH_LAG.labels(self.service)
        for r in batch.rows:
            lag.observe(max(0.0, now - r[_CREATED_AT].timestamp()))
        metrics.OUTBOX_BATCH_SECONDS.labels(self.service).observe(time.monotonic() - started)

    def _confirm(self, batch: _Batch) -> set[str]:
        """Wait for the broker's confirms of `batch` (on failure: attempts counted, rows released)."""
        try:
            return self.publisher.wait_confirms()
        except (OSError, amqp.exceptions.AMQPError, Unconfirmed) as exc:
            self._failed(batch, exc)
            raise

    # ------------------------------------------------------------------------------------ relaying

    def relay_once(self) -> int:
        """Publish one batch and mark it; returns how many rows were handled."""
        self.connect()
        started = time.monotonic()
        batch = self._claim(self.conns[0])
        try:
            if not batch.rows:
                return 0
            try:
                self._publish(batch)
            except (OSError, amqp.exceptions.AMQPError) as exc:
                self._failed(batch, exc)
                raise
            returned = self._confirm(batch)
            self._before_mark(batch.rows)
            self._mark(batch, returned, started)
            return len(batch.rows)
        finally:
            self._release(batch)

    def relay_pending(self) -> int:
        """Publish batches until one comes back short of `batch_size`; returns the rows handled.

        The two connections take turns: while the broker takes batch k (claimed on one), a helper
        thread marks batch k-1 sent on the other and then claims batch k+1 there (`SKIP LOCKED`
        passes over batch k's rows, still locked). Batch k+1 is published only once batch k is
        confirmed, and each batch is marked only after its own confirms.
        """
        self.connect()
        handled = 0
        started = time.monotonic()
        current = self._claim(self.conns[0])
        helper: _Helper | None = None  # claiming (after marking the batch before) the next batch
        try:
            if len(current.rows) == self.batch_size:
                helper = _Helper(self._mark_and_claim, None, set(), started, self.conns[1], current.seqs[-1])
            while current.rows:
                try:
                    self._publish(current)
                except (OSError, amqp.exceptions.AMQPError) as exc:
                    self._failed(current, exc)
                    raise
                returned = self._confirm(current)
                self._before_mark(current.rows)
                following = helper.result() if helper is not None else None
                helper = None
                claim = following is not None and len(following.rows) == self.batch_size and not self.stopping
                helper = _Helper(self._mark_and_claim, current, returned, started,
                                 current.conn if claim else None, following.seqs[-1] if claim else 0)
                handled += len(current.rows)
                started = time.monotonic()
                current = following or _Batch(current.conn, [])
            if helper is not None:
                helper.result()
                helper = None
        finally:
            if helper is not None:  # after a failure: the helper's work ends, its claim is released
                try:
                    self._release(helper.result())
                except Exception:  # noqa: BLE001 - the failure being raised is the first one
                    pass
            self._release(current)
        return handled

    def _mark_and_claim(self, batch: _Batch | None, returned: set[str], started: float,
                        claim_on: psycopg.Connection | None, after: int) -> _Batch | None:
        """The helper's turn: mark `batch` sent (if any), then claim the next batch past `after` on
        `claim_on` (if given; the connection `batch` held, now free)."""
        if batch is not None:
            self._mark(batch, returned, started)
        return self._claim(claim_on, after) if claim_on is not None else None

    def _before_mark(self, rows) -> None:
        """Fault-injection point for tests (CUSTOPS_RELAY_CRASH_AFTER_PUBLISH=1 dies here)."""
        import os

        if os.environ.get("CUSTOPS_RELAY_CRASH_AFTER_PUBLISH") == "1":
            log.warning("crashing after publish, before marking %d rows sent (fault injection)", len(rows))
            os._exit(137)

    def backlog(self) -> int:
        self.connect()
        return self.conns[0].execute("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]

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
                self.relay_pending()
                backoff = RETRY_MIN_SECONDS
                if self.last_failure is not None:
                    log.warning("relay %s: publishing again", self.service)
                    self.last_failure = None
                if time.monotonic() - last_backlog > 2:
                    metrics.OUTBOX_BACKLOG.labels(self.service).set(self.backlog())
                    last_backlog = time.monotonic()
                if not self.stopping:
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

    def close(self) -> None:
        """Close its database and broker connections (after `stop()`)."""
        self._close_database()
        self.publisher.close()
