"""RPC with a timeout, for the gateway and for service-to-service queries.

nameko's in-service `RpcProxy` waits forever. `RpcClient` keeps a small pool of started standalone
proxies (they are not thread-safe: one caller at a time each), gives every call a reply timeout and
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
- Which error: a failure before the request was confirmed by the broker is `ServiceUnavailable`
  (the request was certainly not executed); a failure while waiting for the reply is
  `ServiceTimeout` (the request may have been executed, exactly like a timeout).
"""
from __future__ import annotations

import logging
import queue
import select
import socket
import threading
import time

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.amqp.publish import Publisher
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.rpc import MethodProxy, ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy, PollingQueueConsumer, SingleThreadedReplyListener

from custops import caller, config, metrics, tracing
from custops.errors import ServiceTimeout, ServiceUnavailable

log = logging.getLogger(__name__)

# What a lost or refused broker connection raises, from the socket up through amqp and kombu.
BROKER_ERRORS = (OSError, socket.error, ConnectionError, KombuOperationalError, AMQPError)
CIRCUIT_OPEN_SECONDS = 1.0
# one immediate retry: enough for a stale pooled connection, never seconds of sleeping
FAST_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CONNECT_TIMEOUT = 2.0


def broker_reachable(amqp_uri: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Open and close one AMQP connection; raises when the broker cannot be reached in time (a
    readiness probe: the gateway's and the relays')."""
    from kombu import Connection

    with Connection(amqp_uri, connect_timeout=timeout) as conn:
        conn.ensure_connection(timeout=timeout, **FAST_RETRY)


class BrokerLost(Exception):
    """The reply connection broke while a call was waiting for its answer."""


class _ReplyConsumer(PollingQueueConsumer):
    """nameko's polling reply consumer, connecting fast and never re-waiting on a broken connection.

    nameko reconnects and waits again when the connection breaks mid-wait; the reply (transient)
    died with the broker, so that wait always ended in a full timeout."""

    def _setup_consumer(self):
        # nameko's channel() would connect with kombu's slow retry defaults (2 s sleeps)
        self.connection.ensure_connection(timeout=CONNECT_TIMEOUT, **FAST_RETRY)
        super()._setup_consumer()

    def get_message(self, correlation_id):
        try:
            while correlation_id not in self.replies:
                self.consumer.connection.drain_events(timeout=self.timeout)
        except socket.timeout:
            self.provider._reply_events.pop(correlation_id, None)
            raise RpcTimeout(self.timeout) from None
        except BROKER_ERRORS as exc:
            self.provider._reply_events.pop(correlation_id, None)
            raise BrokerLost(f"{type(exc).__name__}: {exc}") from exc
        body, message = self.replies.pop(correlation_id)
        self.provider.handle_message(body, message)

    def idle_and_open(self) -> bool:
        """True when this connection can be lent: connected, and nothing waiting on its socket (an
        idle reply connection gets nothing; readable means closed by the broker, or a stray)."""
        conn = self.connection
        if self.stopped or not conn.connected:
            return False
        try:
            sock = conn.connection.sock
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError, AttributeError):
            return False
        return not readable


class _ReplyListener(SingleThreadedReplyListener):
    def __init__(self, timeout=None):
        super().__init__(timeout=timeout)
        self.queue_consumer = _ReplyConsumer(timeout=timeout)


class _RequestPublisher(Publisher):
    retry_policy = FAST_RETRY

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # per instance (nameko mutates a class-level dict per publish); connect fast, fail fast
        self.transport_options = {"confirm_publish": True, "connect_timeout": CONNECT_TIMEOUT, **FAST_RETRY}


class _MethodProxy(MethodProxy):
    publisher_cls = _RequestPublisher


class _ServiceProxy(ServiceProxy):
    def __getattr__(self, name):
        return _MethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)


class _Connection:
    def __init__(self, amqp_uri: str, timeout: float):
        self.timeout = timeout
        self.base = ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout, reply_listener_cls=_ReplyListener)
        try:
            self.base.start()
        except BaseException:
            self.close()
            raise

    def usable(self) -> bool:
        return self.base._reply_listener.queue_consumer.idle_and_open()

    def call(self, service: str, method: str, args, kwargs, context: dict):
        ctx = self.base._worker_ctx
        ctx.data.clear()
        ctx.data.update(context)
        proxy = _ServiceProxy(ctx, service, self.base._reply_listener, expiration=self.timeout)
        reply = getattr(proxy, method)._call(*args, **kwargs)  # published and confirmed
        return reply.result

    def close(self) -> None:
        try:
            self.base.stop()
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
        self._idle: queue.LifoQueue[_Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _unavailable(self, reason: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"message broker unreachable ({reason}); retry shortly")

    def _checkout(self) -> _Connection:
        """An idle connection that still works, else a new one (dead ones are closed on the way)."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return _Connection(self.amqp_uri, self.timeout)
            if conn.usable():
                return conn
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
                conn = self._checkout()
            except BROKER_ERRORS as exc:
                outcome = "unavailable"
                reason = f"{type(exc).__name__}: {exc}"
                self._broker_failed(reason)
                raise self._unavailable(reason) from None
            self.circuit.succeeded()
            try:
                wait = conn.call(service, method, args, kwargs, context)
            except UnknownService:
                outcome, keep = "unavailable", True
                raise ServiceUnavailable(f"service {service} is not running") from None
            except BROKER_ERRORS as exc:  # not published: certainly not executed
                outcome = "unavailable"
                reason = f"{type(exc).__name__}: {exc}"
                self._broker_failed(reason)
                raise self._unavailable(reason) from None
            try:
                result = wait()
            except RpcTimeout:
                outcome = "timeout"  # the connection is closed: a late reply must not answer the next caller
                raise ServiceTimeout(f"{service}.{method} did not answer within {self.timeout}s") from None
            except (BrokerLost, RuntimeError) as exc:  # published: it may have run
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
