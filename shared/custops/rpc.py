"""RPC with a timeout, for the gateway and for service-to-service queries.

nameko's in-service `RpcProxy` waits forever. `RpcClient` keeps a small pool of AMQP links (each
with its own reply queue, lent to one caller at a time; see `_Link` for what one call costs —
it speaks nameko's wire format, on py-amqp directly), gives every call a reply timeout and
a message expiration of the same length — so a request to a dead service is dropped by the broker
instead of being executed long after the caller gave up — and turns failures into
`ServiceUnavailable` / `ServiceTimeout`. The caller's `traceparent` and the current caller
(`custops.caller`: who the request is for) travel in the context headers.

Surviving the broker (issue 13):

- A pooled connection is checked before it is lent: an idle reply connection has nothing to read,
  so one whose socket is readable was closed by the broker (a restart, `stop_app`) or is dead; it
  is dropped and a new one built. After a broker restart the first call therefore works instead of
  waiting out its timeout on a reply queue the broker forgot.
- A broker failure (connect refused, a transport error, a reply consumer that died) opens a small
  circuit for `CIRCUIT_OPEN_SECONDS`: while it is open, calls fail at once with
  `ServiceUnavailable` (the gateway's 503 with `Retry-After`) instead of each spending seconds in
  kombu's connection retries; the idle pool is emptied, since it shares the broker's fate. After
  the interval one caller probes by building a new connection; success closes the circuit.
- Connects and publishes retry once, at once (kombu's defaults sleep 2 s and more between tries,
  which is how a broker outage used to turn into a timeout on every request).
- Which error: a failure while publishing the request is `ServiceUnavailable` (the request was
  certainly not executed); a failure while waiting for the reply is `ServiceTimeout` (the request
  may have been executed, exactly like a timeout). Requests are not confirmed (issue 14): a request
  the broker took and lost is the caller's timeout, as a lost reply is.
"""
from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time
import uuid

import amqp
from amqp.exceptions import AMQPError
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError
from kombu.utils.json import dumps as json_dumps
from kombu.utils.json import loads as json_loads
from nameko.constants import HEADER_PREFIX
from nameko.exceptions import RpcTimeout, UnknownService, deserialize

from custops import caller, config, metrics, tracing
from custops.errors import ServiceTimeout, ServiceUnavailable

log = logging.getLogger(__name__)

# What a lost or refused broker connection raises, from the socket up through amqp and kombu.
BROKER_ERRORS = (OSError, socket.error, ConnectionError, KombuOperationalError, AMQPError)
CIRCUIT_OPEN_SECONDS = 1.0
# one immediate retry: enough for a stale pooled connection, never seconds of sleeping
FAST_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CONNECT_TIMEOUT = 2.0
RPC_EXCHANGE = "nameko-rpc"  # nameko's default: where services consume `<service>.<method>`
TRANSIENT = 1  # AMQP delivery mode: a request only matters while its caller waits


def broker_reachable(amqp_uri: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Open and close one AMQP connection; raises when the broker cannot be reached in time (a
    readiness probe: the gateway's and the relays')."""
    with Connection(amqp_uri, connect_timeout=timeout) as conn:
        conn.ensure_connection(timeout=timeout, **FAST_RETRY)


class BrokerLost(Exception):
    """The reply connection broke while a call was waiting for its answer."""


class _Link:
    """One AMQP connection of the client, lent to one caller at a time.

    Set up once, then two frames' worth of work per call (issue 14): the link declares its own
    exclusive reply queue when it connects and consumes it without acks; a call publishes one
    transient request (no publisher confirm) and reads its own socket until the reply with its
    correlation id arrives. No kombu producer pool, no connection object, no confirm round trip per
    call (nameko's standalone proxy cost all three).

    - A service that is not running: the request is published `mandatory`, so the broker returns
      it at once (basic.return) when nothing consumes the service's routing key: `UnknownService`.
    - A late reply (of a call that timed out on this link) carries another correlation id and is
      discarded, never taken for the answer of the next call.
    """

    def __init__(self, amqp_uri: str, timeout: float):
        self.timeout = timeout
        self.expiration = str(max(1, int(timeout * 1000)))  # ms: the broker drops what nobody waits for
        self._kombu = Connection(amqp_uri, connect_timeout=CONNECT_TIMEOUT)
        self._waiting: str | None = None  # the correlation id of the call in progress
        self._reply: bytes | None = None
        self._returned = False
        try:
            self._kombu.ensure_connection(timeout=CONNECT_TIMEOUT, **FAST_RETRY)
            self.connection = self._kombu.connection  # py-amqp's own connection underneath
            self.channel = self.connection.channel()
            self.channel.exchange_declare(RPC_EXCHANGE, "topic", durable=True, auto_delete=False)
            self.reply_to = f"rpc.reply-custops-{uuid.uuid4().hex}"
            self.channel.queue_declare(self.reply_to, exclusive=True, auto_delete=True)
            self.channel.queue_bind(self.reply_to, RPC_EXCHANGE, routing_key=self.reply_to)
            self.channel.basic_consume(self.reply_to, no_ack=True, callback=self._on_reply)
            self.channel.events["basic_return"].add(self._on_return)
        except BaseException:
            self.close()
            raise

    def _on_reply(self, message) -> None:
        if message.properties.get("correlation_id") == self._waiting:
            self._reply = message.body
        # else: the answer to a call that gave up already (a timeout); nobody wants it

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        if message.properties.get("correlation_id") == self._waiting:
            self._returned = True

    def usable(self) -> bool:
        """True when this link can be lent: connected, and nothing waiting on its socket (an idle
        link gets nothing but late replies, which are read and dropped here; EOF or an error means
        the broker closed it or it is dead)."""
        conn = getattr(self, "connection", None)
        if conn is None or not conn.connected:
            return False
        try:
            while select.select([conn.sock], [], [], 0)[0]:
                conn.drain_events(timeout=0.05)
        except (socket.timeout, TimeoutError):
            return True  # a partial frame: py-amqp keeps it and reads on with the next call
        except (*BROKER_ERRORS, ValueError, AttributeError):
            return False
        return True

    def call(self, service: str, method: str, args, kwargs, context: dict):
        """Publish the request; returns the function that waits for its result."""
        correlation_id = uuid.uuid4().hex
        self._waiting, self._reply, self._returned = correlation_id, None, False
        message = amqp.Message(
            json_dumps({"args": args, "kwargs": kwargs}).encode(),
            content_type="application/json", content_encoding="utf-8", delivery_mode=TRANSIENT,
            reply_to=self.reply_to, correlation_id=correlation_id, expiration=self.expiration,
            application_headers={f"{HEADER_PREFIX}.{key}": value for key, value in context.items()
                                 if value is not None})
        self.channel.basic_publish(message, exchange=RPC_EXCHANGE, routing_key=f"{service}.{method}",
                                   mandatory=True)
        return lambda: self._result(service)

    def _result(self, service: str):
        deadline = time.monotonic() + self.timeout
        try:
            while self._reply is None:
                if self._returned:
                    raise UnknownService(service)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RpcTimeout(self.timeout)
                try:
                    self.connection.drain_events(timeout=remaining)
                except (socket.timeout, TimeoutError):
                    raise RpcTimeout(self.timeout) from None
                except BROKER_ERRORS as exc:
                    raise BrokerLost(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._waiting = None
        body, self._reply = self._reply, None
        reply = json_loads(body)
        error = reply.get("error")
        if error:
            raise deserialize(error)
        return reply["result"]

    def close(self) -> None:
        try:
            self._kombu.release()
        except Exception:  # noqa: BLE001 - the connection may already be dead
            pass


class Circuit:
    """Open for `open_for` seconds after a broker failure; then one caller at a time may probe."""

    def __init__(self, open_for: float = CIRCUIT_OPEN_SECONDS, clock=time.monotonic):
        self.open_for = open_for
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._probing = False
        self.reason = ""

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def admit(self) -> bool:
        """May this call go ahead? True when closed, or when this caller becomes the probe."""
        with self._lock:
            if self._open_until is None:
                return True
            if self._probing or self._clock() < self._open_until:
                return False
            self._probing = True
            return True

    def succeeded(self) -> None:
        with self._lock:
            if self._open_until is not None:
                log.warning("message broker reachable again: RPC circuit closed")
            self._open_until = None
            self._probing = False

    def failed(self, reason: str) -> None:
        with self._lock:
            if self._open_until is None:
                log.warning("message broker unreachable (%s): RPC calls fail fast for %.1fs at a time",
                            reason, self.open_for)
            self._open_until = self._clock() + self.open_for
            self._probing = False
            self.reason = reason

    def release_probe(self) -> None:
        """The probe ended without saying anything about the broker (e.g. no free slot)."""
        with self._lock:
            self._probing = False


class RpcClient:
    def __init__(self, amqp_uri: str | None = None, timeout: float | None = None, size: int = 8,
                 circuit: Circuit | None = None):
        self.amqp_uri = amqp_uri or config.amqp_uri()
        self.timeout = timeout if timeout is not None else config.rpc_timeout()
        self.circuit = circuit or Circuit()
        self._idle: queue.LifoQueue[_Link] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _unavailable(self, reason: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"message broker unreachable ({reason}); retry shortly")

    def _checkout(self) -> tuple[_Link, bool]:
        """(an idle link that still works, True), else (a new one, False); dead ones are closed on
        the way."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return _Link(self.amqp_uri, self.timeout), False
            if conn.usable():
                return conn, True
            conn.close()

    def _broker_failed(self, reason: str) -> None:
        self.circuit.failed(reason)
        self._drop_idle()

    def call(self, service: str, method: str, *args, **kwargs):
        context = {}
        traceparent = tracing.current_traceparent()
        if traceparent:
            context["traceparent"] = traceparent
        current_caller = caller.current()
        if current_caller is not None:
            context[caller.CONTEXT_KEY] = current_caller.to_header()
        if not self.circuit.admit():
            metrics.RPC_CLIENT_CALLS.labels(service, method, "unavailable").inc()
            raise self._unavailable(self.circuit.reason or "circuit open")
        probing = self.circuit.is_open  # admitted while open: this call is the probe
        try:
            return self._call(service, method, args, kwargs, context)
        finally:
            if probing:  # whatever happened, the next caller may probe (a no-op once it succeeded/failed)
                self.circuit.release_probe()

    def _call(self, service: str, method: str, args, kwargs, context: dict):
        if not self._slots.acquire(timeout=self.timeout):
            metrics.RPC_CLIENT_CALLS.labels(service, method, "timeout").inc()
            raise ServiceTimeout(f"no free RPC connection within {self.timeout}s")
        conn = None
        keep = False  # return the connection to the pool afterwards
        outcome = "remote_error"
        try:
            try:
                conn, pooled = self._checkout()
                try:
                    wait = conn.call(service, method, args, kwargs, context)
                except BROKER_ERRORS:
                    if not pooled:
                        raise
                    # a pooled link the broker closed after it was checked: once more on a new one
                    conn.close()
                    conn = None
                    conn = _Link(self.amqp_uri, self.timeout)
                    wait = conn.call(service, method, args, kwargs, context)
            except BROKER_ERRORS as exc:  # not published: certainly not executed
                outcome = "unavailable"
                reason = f"{type(exc).__name__}: {exc}"
                self._broker_failed(reason)
                raise self._unavailable(reason) from None
            self.circuit.succeeded()
            try:
                result = wait()
            except UnknownService:
                outcome, keep = "unavailable", True
                raise ServiceUnavailable(f"service {service} is not running") from None
            except RpcTimeout:
                # the link would discard the late reply, but a timeout may also be a connection that
                # died silently: a fresh one for the next caller (timeouts are rare)
                outcome = "timeout"
                raise ServiceTimeout(f"{service}.{method} did not answer within {self.timeout}s") from None
            except BrokerLost as exc:  # published: it may have run
                outcome = "timeout"
                self._broker_failed(str(exc))
                raise ServiceTimeout(f"{service}.{method}: the broker connection broke before the answer "
                                     f"({exc})") from None
            except Exception:  # the service's own error (or one it passed on), answered properly
                keep = True
                raise
            outcome, keep = "ok", True
            return result
        finally:
            metrics.RPC_CLIENT_CALLS.labels(service, method, outcome).inc()
            if conn is not None:
                if keep:
                    self._idle.put(conn)
                else:
                    conn.close()
            self._slots.release()

    def _drop_idle(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def close(self) -> None:
        self._drop_idle()


try:
    from nameko.extensions import DependencyProvider
except ImportError:  # pragma: no cover
    DependencyProvider = object  # type: ignore


class ServiceRpc(DependencyProvider):
    """nameko dependency: `self.rpc.call("customers", "match_sender", ...)` with a timeout."""

    def setup(self):
        self.client = RpcClient(self.container.config.get("AMQP_URI"))

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.client
