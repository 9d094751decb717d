"""RPC with a timeout, for the gateway and for service-to-service queries.

nameko's in-service `RpcProxy` waits forever. `RpcClient` keeps a small pool of started standalone
proxies (they are not thread-safe: one caller at a time each), gives every call a reply timeout and
a message expiration of the same length — so a request to a dead service is dropped by the broker
instead of being executed long after the caller gave up — and turns failures into
`ServiceUnavailable` / `ServiceTimeout`. The caller's `traceparent` and the current caller
(`custops.caller`: who the request is for) travel in the context headers.
"""
from __future__ import annotations

import logging
import queue
import socket
import threading

from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy, ServiceProxy

from custops import caller, config, metrics, tracing
from custops.errors import ServiceTimeout, ServiceUnavailable

log = logging.getLogger(__name__)


class _Connection:
    def __init__(self, amqp_uri: str, timeout: float):
        self.timeout = timeout
        self.base = ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout)
        self.base.start()

    def call(self, service: str, method: str, args, kwargs, context: dict):
        ctx = self.base._worker_ctx
        ctx.data.clear()
        ctx.data.update(context)
        proxy = ServiceProxy(ctx, service, self.base._reply_listener, expiration=self.timeout)
        return getattr(proxy, method)(*args, **kwargs)

    def close(self) -> None:
        try:
            self.base.stop()
        except Exception:  # noqa: BLE001 - the connection may already be dead
            pass


class RpcClient:
    def __init__(self, amqp_uri: str | None = None, timeout: float | None = None, size: int = 8):
        self.amqp_uri = amqp_uri or config.amqp_uri()
        self.timeout = timeout if timeout is not None else config.rpc_timeout()
        self._idle: queue.LifoQueue[_Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def call(self, service: str, method: str, *args, **kwargs):
        context = {}
        traceparent = tracing.current_traceparent()
        if traceparent:
            context["traceparent"] = traceparent
        current_caller = caller.current()
        if current_caller is not None:
            context[caller.CONTEXT_KEY] = current_caller.to_header()
        if not self._slots.acquire(timeout=self.timeout):
            raise ServiceTimeout(f"no free RPC connection within {self.timeout}s")
        conn = None
        outcome = "error"
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = _Connection(self.amqp_uri, self.timeout)
            result = conn.call(service, method, args, kwargs, context)
            outcome = "ok"
            return result
        except RpcTimeout:
            outcome = "timeout"
            raise ServiceTimeout(f"{service}.{method} did not answer within {self.timeout}s") from None
        except UnknownService:
            outcome = "unavailable"
            raise ServiceUnavailable(f"service {service} is not running") from None
        except (OSError, socket.error, KombuOperationalError, ConnectionError) as exc:
            outcome = "unavailable"
            if conn is not None:
                conn.close()
                conn = None
            raise ServiceUnavailable(f"message broker unreachable: {exc}") from None
        except Exception:
            outcome = "remote_error"
            raise
        finally:
            metrics.RPC_CLIENT_CALLS.labels(service, method, outcome).inc()
            if conn is not None:
                if outcome == "timeout":
                    conn.close()  # a late reply must not be read as the next caller's answer
                else:
                    self._idle.put(conn)
            self._slots.release()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


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
