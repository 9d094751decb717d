"""nameko entrypoints and dependencies every custops service uses.

- `consumes(source, event_type)`: an idempotent event handler on a quorum queue with a delivery
  limit and a dead-letter queue. The method gets `(session, envelope, data)`; the inbox row and the
  effect commit in one transaction, and the message is acked only after that commit. A failing
  message is requeued until its last allowed delivery, then published to the dead-letter queue
  with its error; a message that breaks the envelope or its contract goes there at once.
  The deliveries waiting on a queue are handled in batches, one worker and one transaction each
  (issue 14, `custops.event_batches`); a failing message is split out of its batch and takes the
  path above alone.
- `Telemetry`: one span per worker (child of the caller's `traceparent`; an event batch's span links
  to each event's trace), metrics and a log line;
  it also restores the caller (`custops.caller`) the RPC context carried, for the worker's lifetime.
- `HealthEndpoints`: mixin with `/healthz`, `/readyz` and `/metrics` on the service's HTTP port.

Surviving the broker and the database (issue 13):
- `ReconnectingQueueConsumer` (every consumer: events here, RPC in `custops.rpc_entrypoint`) is
  nameko's, reconnecting every `RECONNECT_MAX_SECONDS` at most — kombu's default backs off to 30 s,
  so a service could stay deaf for half a minute after the broker came back — and re-declaring its
  queues (kombu does on every reconnection). An ack or requeue on a connection that died is logged
  and skipped (the broker redelivers the message; the inbox absorbs a repeat) instead of escaping
  the worker, which kills the container.
- An event handler failing because something it needs is unreachable (its database, or a service
  it asks: `ServiceUnavailable`/`ServiceTimeout`) is not a poison message: the message is held,
  unacked, outside the worker pool until the database answers again (a second for a dependency; at
  most `TRANSIENT_WAIT_SECONDS`), then requeued — never dead-lettered by us — so a database restart
  spends one delivery per message in flight, not the whole delivery limit, and the held messages
  (at most the prefetch per queue) never starve the RPC and HTTP workers. The broker's own limit
  (ours + 2) still ends an outage that outlasts every retry.
- `/readyz` is 503 while the database does not answer or any of the service's consumers has no
  live broker connection; `/healthz` only says the process runs.
"""
from __future__ import annotations

import collections
import functools
import json
import logging
import socket
import sys
import time
import traceback
import weakref
from collections import deque
from contextlib import contextmanager

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError as KombuOperationalError

from kombu import Connection, Producer
from nameko.events import EventHandler as NamekoEventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from nameko.web.handlers import http
from opentelemetry import trace
from pydantic import ValidationError

from custops import caller, config, event_batches, metrics, topology, tracing
from custops.errors import ServiceTimeout, ServiceUnavailable
from custops.events import Envelope, UnknownContract

log = logging.getLogger(__name__)

BROKER_ERRORS = (OSError, socket.error, ConnectionError, KombuOperationalError, AMQPError)
RECONNECT_MAX_SECONDS = 1.0
TRANSIENT_WAIT_SECONDS = 30.0
DEPENDENCY_PAUSE_SECONDS = 1.0  # before requeueing a message whose handler's dependency was unavailable
# a failure of something the handler needs, not of the message itself
TRANSIENT = (ServiceUnavailable, ServiceTimeout)


class PoisonMessage(Exception):
    """The message can never be handled (not an envelope, or breaks its contract)."""


class ReconnectingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, reconnecting within a second of the broker's return, and never
    letting a dead connection's ack or requeue escape into the worker."""

    @contextmanager
    def establish_connection(self):
        with self.create_connection() as conn:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                   interval_start=0, interval_step=0.5, interval_max=RECONNECT_MAX_SECONDS)
            yield conn

    def on_connection_error(self, exc, interval):
        log.warning("%s: broker unreachable (%s); reconnecting in %.1fs",
                    self.container.service_name, exc, interval)

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except BROKER_ERRORS as exc:
            log.warning("message not acknowledged (%s: %s); the broker redelivers it", type(exc).__name__, exc)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except BROKER_ERRORS as exc:
            log.warning("message not requeued (%s: %s); the broker redelivers it", type(exc).__name__, exc)

    def connected(self) -> bool:
        """Consuming on a live connection (False while reconnecting)."""
        if not self._consumers_ready.ready() or not self._consumers:
            return False
        for consumer in list(self._consumers.values()):
            channel = consumer.channel
            connection = getattr(channel, "connection", None)
            if connection is None or not getattr(channel, "is_open", False) or not connection.connected:
                return False
        return True


class DeadLetteringQueueConsumer(ReconnectingQueueConsumer):
    """The reconnecting queue consumer of event handlers: a body that cannot even be decoded (not
    JSON) is dead-lettered (kombu's default logs it and acks it, dropping it silently); deliveries
    are handed to their `EventHandler` directly (it batches them), not in a greenthread each; a
    queue's prefetch is `config.event_prefetch()`, not the worker pool's size."""

    @property
    def prefetch_count(self):
        return config.event_prefetch()

    # --- acknowledging a batch in one frame ----------------------------------------------------
    # Every event queue of the service shares this consumer's channel, and a `multiple` ack settles
    # every delivery of the channel up to its tag: so the deliveries not yet settled are tracked per
    # channel, and a batch's acks become one `multiple` ack only up to below the lowest delivery of
    # the channel still unsettled elsewhere (another queue's batch, a held or failing message).
    # Measured on a quorum queue: per-message acks capped delivery at ~1,600 messages/s on the
    # loaded machine, one ack per 100 at ~5,400/s (issue 9).

    def _unsettled_of(self, channel) -> set:
        unsettled = self.__dict__.setdefault("_unsettled", weakref.WeakKeyDictionary())
        return unsettled.setdefault(channel, set())

    def _settled(self, message) -> None:
        self._unsettled_of(message.channel).discard(message.delivery_tag)

    def ack_message(self, message):
        try:
            super().ack_message(message)
        finally:
            self._settled(message)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        finally:
            self._settled(message)

    def ack_messages(self, messages) -> None:
        """Acknowledge `messages` (committed deliveries of one batch) in as few frames as is safe."""
        by_channel = collections.defaultdict(list)
        for message in messages:
            by_channel[message.channel].append(message)
        for channel, group in by_channel.items():
            tags = {m.delivery_tag for m in group}
            others = self._unsettled_of(channel) - tags
            below = min(others) if others else None
            covered = sorted((m for m in group if below is None or m.delivery_tag < below),
                             key=lambda m: m.delivery_tag)
            if len(covered) > 1:
                top = covered[-1]
                try:
                    if channel.connection:
                        top.ack(multiple=True)
                except BROKER_ERRORS as exc:
                    log.warning("messages not acknowledged (%s: %s); the broker redelivers them",
                                type(exc).__name__, exc)
                finally:
                    for m in covered:
                        self._settled(m)
                group = [m for m in group if m.delivery_tag > top.delivery_tag]
            for message in group:
                self.ack_message(message)

    def handle_message(self, provider, body, message):
        self._unsettled_of(message.channel).add(message.delivery_tag)
        if isinstance(provider, EventHandler):
            provider.handle_message(body, message)
        else:
            super().handle_message(provider, body, message)

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            if isinstance(provider, EventHandler):
                consumer.on_decode_error = functools.partial(self._undecodable, provider)
        return consumers

    def _undecodable(self, provider, message, exc):
        self._unsettled_of(message.channel).add(message.delivery_tag)
        try:
            provider.dead_letter(message, f"PoisonMessage: undecodable body: {exc}", "", delivery=1)
        except Exception:  # noqa: BLE001 - the broker's delivery limit dead-letters it eventually
            log.exception("could not dead-letter an undecodable message; requeueing it")
            self.requeue_message(message)
        else:
            self.ack_message(message)


class DatabaseWatch:
    """One greenthread per service pinging its database until it answers; any number of waiters."""

    _watches: dict[str, "DatabaseWatch"] = {}

    def __init__(self, service: str):
        self.service = service
        self._back = None  # an eventlet Event while a watch runs

    @classmethod
    def of(cls, service: str) -> "DatabaseWatch":
        return cls._watches.setdefault(service, cls(service))

    def wait(self, timeout: float) -> bool:
        import eventlet
        from eventlet.event import Event

        if self._back is None:
            self._back = Event()
            eventlet.spawn_n(self._watch, self._back)
        with eventlet.Timeout(timeout, False):
            self._back.wait()
            return True
        return False

    def _watch(self, back) -> None:
        import eventlet

        from custops import db

        engine = db.engine_for(self.service)
        pause = 0.25
        while True:
            eventlet.sleep(pause)
            try:
                db.ping(engine)
                break
            except Exception:  # noqa: BLE001 - still unreachable: keep watching
                pause = min(pause * 2, 1.0)
        self._back = None
        back.send(True)


class EventHandler(NamekoEventHandler):
    """A custops event consumer: the deliveries waiting on its queue are handled in batches, one
    worker and one transaction per batch (`custops.event_batches`), one batch at a time, so the
    order of a queue is kept. A batch takes what has arrived (at most `config.event_batch_size()`)
    and never waits for more: at a low rate a batch is one message, handled as it arrives."""

    # its own consumer (and connection), separate from the RPC entrypoints'
    queue_consumer = DeadLetteringQueueConsumer()

    def __init__(self, source_service, event_type, **kwargs):
        kwargs["requeue_on_error"] = True
        super().__init__(source_service, event_type, **kwargs)
        self._pending: deque[event_batches.Delivery] = deque()
        self._driver = None  # the greenthread handing out batches while there are deliveries

    def setup(self):
        self.queue = topology.event_queue(
            self.source_service, self.event_type, self.container.service_name, self.method_name)
        self.delivery_limit = config.delivery_limit()
        self.batch_size = config.event_batch_size()
        self.consumed = {result: metrics.EVENTS_CONSUMED.labels(
            self.container.service_name, self.method_name, self.event_type, result)
            for result in (event_batches.NEW, event_batches.DUPLICATE, "dead_lettered")}
        # skip nameko's EventHandler.setup (it would build a classic queue); register as a consumer
        super(NamekoEventHandler, self).setup()

    def stop(self):
        super().stop()  # no more deliveries once the queue consumer has cancelled ours
        driver = self._driver
        if driver is not None:  # let the batches already received finish (graceful, like a worker)
            try:
                driver.wait()
            except Exception:  # noqa: BLE001 - its messages go back to the queue with the connection
                log.exception("%s: a batch failed while stopping", self.method_name)

    def handle_message(self, body, message):
        """Called in the queue consumer's thread for each delivery: queue it, never block."""
        self._pending.append(event_batches.Delivery(body, message))
        if self._driver is None:
            self._driver = self.container.spawn_managed_thread(self._drive, identifier=f"{self.method_name}.batches")

    def _drive(self) -> None:
        from eventlet.event import Event
        from nameko.exceptions import ContainerBeingKilled

        try:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
                done = Event()
                try:
                    self.container.spawn_worker(self, (batch,), {}, context_data=self._context_data(batch),
                                                handle_result=functools.partial(self.handle_result, batch, done))
                except ContainerBeingKilled:
                    for delivery in batch + list(self._pending):
                        self.queue_consumer.requeue_message(delivery.message)
                    self._pending.clear()
                    return
                done.wait()
        finally:
            self._driver = None

    def _context_data(self, batch) -> dict:
        # a batch of one carries its message's context (its trace parent, as before batching); a
        # larger batch's span links to each message's trace instead (`Telemetry`)
        return self.unpack_message_headers(batch[0].message) if len(batch) == 1 else {}

    def handle_result(self, batch, done, worker_ctx, result=None, exc_info=None):
        try:
            if exc_info is not None:  # the batch machinery itself failed: as if each message left had
                for delivery in batch:
                    if delivery.outcome is None:
                        delivery.fail(exc_info)
            held, committed = [], []
            for delivery in batch:
                if delivery.outcome in (event_batches.NEW, event_batches.DUPLICATE):
                    committed.append(delivery.message)
                elif isinstance(delivery.exc_info[1], TRANSIENT):
                    held.append(delivery.message)
                else:
                    self._settle_failure(delivery.message, delivery.exc_info)
            self.queue_consumer.ack_messages(committed)
            counts = collections.Counter(d.outcome for d in batch)
            for outcome in (event_batches.NEW, event_batches.DUPLICATE):
                if counts[outcome]:
                    self.consumed[outcome].inc(counts[outcome])
            if held:
                exc = next(d.exc_info[1] for d in batch if d.outcome == event_batches.FAILED
                           and isinstance(d.exc_info[1], TRANSIENT))
                log.warning("%d %s not handled, %s; requeued once they can be", len(held), self.event_type, exc)
                # held (unacked) in a thread of its own: the worker slot is free at once, so a database
                # outage never starves the service's RPC and HTTP workers (its health probes among them)
                self.container.spawn_managed_thread(functools.partial(self._requeue_later, held, exc))
            failed = next((d.exc_info for d in batch if d.outcome == event_batches.FAILED), None)
            return result, failed  # the worker's span and log line say whether any message failed
        finally:
            done.send(None)

    def _settle_failure(self, message, exc_info) -> None:
        """A message whose handler failed: requeued, or dead-lettered when it is poison or this was
        its last allowed delivery."""
        exc = exc_info[1]
        # quorum queues count earlier deliveries in x-delivery-count (absent on the first)
        delivery = int((message.headers or {}).get("x-delivery-count", 0)) + 1
        if isinstance(exc, PoisonMessage) or delivery >= self.delivery_limit:
            try:
                self.dead_letter(message, f"{type(exc).__name__}: {exc}",
                                 "".join(traceback.format_exception(*exc_info)), delivery)
            except Exception:  # noqa: BLE001 - leave it to the broker's own delivery limit
                log.exception("could not dead-letter a message; requeueing it")
                self.queue_consumer.requeue_message(message)
            else:
                self.queue_consumer.ack_message(message)
        else:
            log.warning("%s failed (delivery %d of %d); requeued", self.event_type, delivery, self.delivery_limit,
                        exc_info=exc_info)
            self.queue_consumer.requeue_message(message)

    def _requeue_later(self, messages, exc: BaseException) -> None:
        """Requeue (in order) once what failed can work again: the database answers (one shared
        watch per process pings it), or after a pause for an unavailable dependency; never later
        than `TRANSIENT_WAIT_SECONDS`, so a requeue is not spent while the cause certainly persists."""
        import eventlet

        from custops import db

        if db.is_unavailable(exc.__cause__ or exc):
            DatabaseWatch.of(self.container.service_name).wait(TRANSIENT_WAIT_SECONDS)
        else:
            eventlet.sleep(DEPENDENCY_PAUSE_SECONDS)
        for message in messages:
            self.queue_consumer.requeue_message(message)

    def dead_letter(self, message, error: str, trace: str, delivery: int) -> None:
        """Publish the message, with its error, to this queue's dead-letter queue (confirmed)."""
        headers = dict(message.headers or {})
        headers.update({
            "x-custops-error": error[:1000],
            "x-custops-traceback": trace[-4000:],
            "x-custops-queue": self.queue.name,
            "x-custops-deliveries": delivery,
            "x-custops-failed-at": time.time(),
        })
        with Connection(self.container.config["AMQP_URI"], transport_options={"confirm_publish": True}) as conn:
            Producer(conn).publish(
                message.body,
                exchange=topology.dead_letter_exchange(),
                routing_key=self.queue.name,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                declare=[topology.dead_letter_queue(self.queue.name)],
                retry=True,
                retry_policy={"max_retries": 3},
            )
        self.consumed["dead_lettered"].inc()
        log.error("dead-lettered %s after %d deliveries: %s", self.event_type, delivery, error)


def handled_events(worker_ctx) -> list[tuple[str | None, BaseException | None]]:
    """What an event worker did with each message of its batch, in order: (event id, the exception
    its handler failed with, or None when it committed, new or duplicate). For tests waiting on an
    event (`nameko.testing.services.entrypoint_waiter` callbacks)."""
    return [(d.event_id, d.exc_info[1] if d.outcome == event_batches.FAILED else None)
            for d in worker_ctx.args[0]]


def _parse(delivery: event_batches.Delivery, event_type: str) -> bool:
    """Give the delivery its envelope and typed payload; one that has none fails as poison."""
    body = delivery.body
    try:
        delivery.envelope = Envelope.model_validate(body if isinstance(body, dict) else json.loads(body))
        delivery.data = delivery.envelope.payload()
    except (ValidationError, UnknownContract, ValueError, TypeError) as exc:
        try:  # raised, so that the dead letter carries its traceback
            raise PoisonMessage(f"not a valid {event_type} event: {exc}") from exc
        except PoisonMessage:
            delivery.fail(sys.exc_info())
        return False
    return True


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


def consumes(source_service: str, event_type: str):
    """Decorate `def handler(self, session, envelope, data)` of a service that has `db = Database()`."""

    def decorator(fn):
        @functools.wraps(fn)
        def handle(self, batch):
            parsed = [delivery for delivery in batch if _parse(delivery, event_type)]
            event_batches.handle(self.db, parsed, functools.partial(fn, self), is_transient=_transient)
            for delivery in batch:
                if delivery.outcome == event_batches.DUPLICATE:
                    log.info("duplicate event ignored", extra={"event_id": str(delivery.envelope.id),
                                                                "event_type": delivery.envelope.type})

        return EventHandler.decorator(source_service, event_type)(handle)

    return decorator


class Telemetry(DependencyProvider):
    """A span, metrics and a structured log line for every worker of the service, and the caller
    of the worker (None for event handlers and timers: their changes are the system's)."""

    def worker_setup(self, worker_ctx):
        # bound in the worker's own greenthread (nameko runs worker_setup there), which has its own
        # contextvars: concurrent workers never see each other's caller
        caller_token = caller.bind(caller.Caller.from_header(worker_ctx.data.get(caller.CONTEXT_KEY)))
        entrypoint = worker_ctx.entrypoint
        kind = type(entrypoint).__name__
        traceparent = worker_ctx.data.get("traceparent") or None
        attributes, links = {"custops.entrypoint": kind}, None
        if isinstance(entrypoint, EventHandler):
            batch = worker_ctx.args[0]
            attributes["messaging.batch.message_count"] = len(batch)
            if len(batch) > 1:  # one span for the batch, linked to the trace of each of its events
                links = [link for d in batch if (link := _link(d.body))]
        span, token = _start_span(
            f"{self.container.service_name}.{entrypoint.method_name}", traceparent,
            trace.SpanKind.CONSUMER if isinstance(entrypoint, NamekoEventHandler) else trace.SpanKind.SERVER,
            attributes, links)
        worker_ctx._custops = {"span": span, "token": token, "t0": time.perf_counter(), "kind": kind,
                               "caller_token": caller_token}

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        worker_ctx._custops["exc"] = exc_info[1] if exc_info else None

    def worker_teardown(self, worker_ctx):
        state = getattr(worker_ctx, "_custops", None)
        if state is None:
            return
        from custops.errors import EXPECTED

        exc = state.get("exc")
        outcome = "ok" if exc is None else ("rejected" if isinstance(exc, EXPECTED) else "error")
        elapsed = time.perf_counter() - state["t0"]
        service, method = self.container.service_name, worker_ctx.entrypoint.method_name
        metrics.ENTRYPOINT_CALLS.labels(service, method, state["kind"], outcome).inc()
        metrics.ENTRYPOINT_SECONDS.labels(service, method, state["kind"], outcome).observe(elapsed)
        if state["kind"] != "HttpRequestHandler":
            log.log(logging.WARNING if outcome == "error" else logging.INFO, "%s.%s %s", service, method, outcome,
                    extra={"entrypoint": method, "outcome": outcome, "duration_ms": round(elapsed * 1000, 2)})
        tracing.end_span(state["span"], state["token"], exc if outcome == "error" else None)
        caller.unbind(state["caller_token"])


def _start_span(name, traceparent, kind, attributes, links):
    if links is None:
        return tracing.start_span(name, traceparent=traceparent, kind=kind, attributes=attributes)
    from opentelemetry import context

    span = tracing.tracer().start_span(name, kind=kind, attributes=attributes, links=links)
    return span, context.attach(trace.set_span_in_context(span))


def _link(body) -> trace.Link | None:
    """A link to the trace an event's envelope names (`00-<trace id>-<span id>-<flags>`), parsed by
    hand: a batch links up to a hundred of them."""
    value = body.get("traceparent") if isinstance(body, dict) else None
    if not isinstance(value, str) or len(value) != 55:
        return None
    try:
        ctx = trace.SpanContext(int(value[3:35], 16), int(value[36:52], 16), is_remote=True,
                                trace_flags=trace.TraceFlags(int(value[53:55], 16)))
    except ValueError:
        return None
    return trace.Link(ctx) if ctx.is_valid else None


def _consuming(consumer: QueueConsumer) -> bool:
    if isinstance(consumer, ReconnectingQueueConsumer):
        return consumer.connected()
    return consumer._consumers_ready.ready()  # nameko's own: started at least


class Readiness(DependencyProvider):
    """What `/readyz` asks: the database answers, and every consumer of this service (RPC and
    events) is consuming on a live broker connection."""

    def problems(self) -> list[str]:
        from custops import db

        found = []
        try:
            db.ping(db.engine_for(self.container.service_name))
        except Exception as exc:  # noqa: BLE001 - report, don't crash the probe
            found.append(f"database unreachable ({type(getattr(exc, 'orig', None) or exc).__name__})")
        consumers = {ext for ext in self.container.extensions if isinstance(ext, QueueConsumer)}
        down = sorted(type(c).__name__ for c in consumers if not _consuming(c))
        if down:
            found.append("no broker connection (" + ", ".join(down) + ")")
        return found

    def get_dependency(self, worker_ctx):
        return self


class HealthEndpoints:
    """Mixin: liveness, readiness (database and broker reachable) and Prometheus metrics over HTTP."""

    custops_readiness = Readiness()

    @http("GET", "/healthz")
    def healthz(self, request):
        return 200, {"Content-Type": "application/json"}, json.dumps({"status": "ok", "service": self.name})

    @http("GET", "/readyz")
    def readyz(self, request):
        problems = self.custops_readiness.problems()
        if problems:
            return 503, {"Content-Type": "application/json"}, json.dumps(
                {"status": "unavailable", "service": self.name, "reason": "; ".join(problems)})
        return 200, {"Content-Type": "application/json"}, json.dumps({"status": "ready", "service": self.name})

    @http("GET", "/metrics")
    def metrics(self, request):
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        # nameko 2 wants a str body (bytes give "Payload must be a string")
        return 200, {"Content-Type": CONTENT_TYPE_LATEST}, generate_latest().decode()
