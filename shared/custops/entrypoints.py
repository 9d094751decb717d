"""nameko entrypoints and dependencies every custops service uses.

- `consumes(source, event_type)`: an idempotent event handler on a quorum queue with a delivery
  limit and a dead-letter queue. The method gets `(session, envelope, data)`; the inbox row and the
  effect commit in one transaction, and the message is acked only after that commit. A failing
  message is requeued until its last allowed delivery, then published to the dead-letter queue
  with its error; a message that breaks the envelope or its contract goes there at once.
- `Telemetry`: one span per worker (child of the caller's `traceparent`), metrics and a log line;
  it also restores the caller (`custops.caller`) the RPC context carried, for the worker's lifetime.
- `HealthEndpoints`: mixin with `/healthz`, `/readyz` and `/metrics` on the service's HTTP port.
"""
from __future__ import annotations

import functools
import json
import logging
import time
import traceback

from kombu import Connection, Producer
from nameko.events import EventHandler as NamekoEventHandler
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from nameko.web.handlers import http
from opentelemetry import trace
from pydantic import ValidationError

from custops import caller, config, inbox, metrics, topology, tracing
from custops.events import Envelope, UnknownContract

log = logging.getLogger(__name__)


class PoisonMessage(Exception):
    """The message can never be handled (not an envelope, or breaks its contract)."""


class DeadLetteringQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a body that cannot even be decoded (not JSON) is
    dead-lettered; kombu's default logs it and acks it, dropping it silently."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            if isinstance(provider, EventHandler):
                consumer.on_decode_error = functools.partial(self._undecodable, provider)
        return consumers

    def _undecodable(self, provider, message, exc):
        try:
            provider.dead_letter(message, f"PoisonMessage: undecodable body: {exc}", "", delivery=1)
        except Exception:  # noqa: BLE001 - the broker's delivery limit dead-letters it eventually
            log.exception("could not dead-letter an undecodable message; requeueing it")
            self.requeue_message(message)
        else:
            self.ack_message(message)


class EventHandler(NamekoEventHandler):
    # its own consumer (and connection), separate from the RPC entrypoints'
    queue_consumer = DeadLetteringQueueConsumer()

    def __init__(self, source_service, event_type, **kwargs):
        kwargs["requeue_on_error"] = True
        super().__init__(source_service, event_type, **kwargs)

    def setup(self):
        self.queue = topology.event_queue(
            self.source_service, self.event_type, self.container.service_name, self.method_name)
        self.delivery_limit = config.delivery_limit()
        # skip nameko's EventHandler.setup (it would build a classic queue); register as a consumer
        super(NamekoEventHandler, self).setup()

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return result, exc_info
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
            self.queue_consumer.requeue_message(message)
        return result, exc_info

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
        metrics.EVENTS_CONSUMED.labels(
            self.container.service_name, self.method_name, self.event_type, "dead_lettered").inc()
        log.error("dead-lettered %s after %d deliveries: %s", self.event_type, delivery, error)


def consumes(source_service: str, event_type: str):
    """Decorate `def handler(self, session, envelope, data)` of a service that has `db = Database()`."""

    def decorator(fn):
        @functools.wraps(fn)
        def handle(self, body):
            service = self.name
            try:
                envelope = Envelope.model_validate(body if isinstance(body, dict) else json.loads(body))
                data = envelope.payload()
            except (ValidationError, UnknownContract, ValueError, TypeError) as exc:
                raise PoisonMessage(f"not a valid {event_type} event: {exc}") from exc
            consumer = self.db.consumer
            with self.db.transaction() as session:
                if not inbox.claim(session, consumer, envelope.id, envelope.type):
                    metrics.EVENTS_CONSUMED.labels(service, fn.__name__, event_type, "duplicate").inc()
                    log.info("duplicate event ignored", extra={"event_id": str(envelope.id),
                                                                "event_type": envelope.type})
                    return None
                result = fn(self, session, envelope, data)
            metrics.EVENTS_CONSUMED.labels(service, fn.__name__, event_type, "new").inc()
            return result

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
        span, token = tracing.start_span(
            f"{self.container.service_name}.{entrypoint.method_name}",
            traceparent=traceparent,
            kind=trace.SpanKind.CONSUMER if isinstance(entrypoint, NamekoEventHandler) else trace.SpanKind.SERVER,
            attributes={"custops.entrypoint": kind},
        )
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


class HealthEndpoints:
    """Mixin: liveness, readiness (database reachable) and Prometheus metrics over HTTP."""

    @http("GET", "/healthz")
    def healthz(self, request):
        return 200, {"Content-Type": "application/json"}, json.dumps({"status": "ok", "service": self.name})

    @http("GET", "/readyz")
    def readyz(self, request):
        from custops.db import ping

        try:
            ping(self.db.engine)
        except Exception as exc:  # noqa: BLE001 - report, don't crash the probe
            return 503, {"Content-Type": "application/json"}, json.dumps(
                {"status": "unavailable", "service": self.name, "reason": type(exc).__name__})
        return 200, {"Content-Type": "application/json"}, json.dumps({"status": "ready", "service": self.name})

    @http("GET", "/metrics")
    def metrics(self, request):
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        # nameko 2 wants a str body (bytes give "Payload must be a string")
        return 200, {"Content-Type": CONTENT_TYPE_LATEST}, generate_latest().decode()
