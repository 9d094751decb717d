"""custops' RPC entrypoint: nameko's `@rpc`, except for how the reply is published.

Use `from custops.rpc_entrypoint import rpc` in every service (never nameko's own `rpc` beside it:
two RPC consumer classes would each consume the service's queue).

- A reply that cannot be published (the broker went away or is restarting) is logged, counted and
  dropped: the caller's timeout covers it. nameko lets the publish error escape the worker, logs
  "thread exited with error" and kills the whole container — one broker restart took every service
  down (issue 13). The request message is then acked if the channel still can; if it cannot, the
  broker redelivers the request after reconnection only while it has not expired (custops' RPC
  client gives every request an expiration equal to its timeout).
- Replies are transient and published without a publisher confirm: a reply only matters to a
  caller that is waiting for it, a lost reply is the caller's timeout, and a per-reply blocking
  confirm was the largest part of an RPC round trip under load (issue 14). They go out on one kept
  connection per service (`ReplyPublisher`), serialised once.
"""
from __future__ import annotations

import logging
import select
import socket
import sys
import threading

import amqp
import kombu.serialization
from amqp.exceptions import AMQPError
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.exceptions import UnserializableValueError, serialize
from nameko.rpc import Rpc, RpcConsumer, get_rpc_exchange

from custops import metrics
from custops.entrypoints import ReconnectingQueueConsumer

try:  # a real, non-blocking readiness check even under eventlet's monkey patching
    from eventlet.patcher import original as _original

    _select = _original("select").select
except ImportError:  # pragma: no cover
    _select = select.select

log = logging.getLogger(__name__)

BROKER_ERRORS = (OSError, socket.error, ConnectionError, KombuOperationalError, AMQPError)
TRANSIENT = 1  # AMQP delivery mode
CONNECT_TIMEOUT = 2.0


class ReplyPublisher:
    """One AMQP connection per service for its replies, kept open, one reply at a time on it.

    nameko built a kombu connection object, took a producer from a pool and wrapped the publish in
    kombu's retry machinery for every reply, and serialised each result twice (issue 14). A reply
    is published at most twice: when the kept connection fails, once more on a new one. A kept
    connection the broker closed is seen before use (it is only written to: anything to read on it
    is the broker's goodbye), so a broker restart costs no reply."""

    confirms = False  # a lost reply is the caller's timeout
    delivery_mode = TRANSIENT

    def __init__(self, amqp_uri: str, exchange: str):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self._lock = threading.Lock()  # green under eventlet: one worker writes its frames at a time
        self._connection: Connection | None = None
        self._channel = None

    def _open_channel(self):
        if self._channel is not None:
            raw = self._connection.connection
            try:
                readable = raw.connected and _select([raw.sock.fileno()], [], [], 0)[0]
                alive = raw.connected and not readable
            except (OSError, ValueError, AttributeError):
                alive = False
            if alive:
                return self._channel
            self._close()
        self._connection = Connection(self.amqp_uri, connect_timeout=CONNECT_TIMEOUT)
        self._connection.ensure_connection(timeout=CONNECT_TIMEOUT, max_retries=1, interval_start=0)
        self._channel = self._connection.connection.channel()
        return self._channel

    def publish(self, body: bytes, content_type: str, content_encoding: str, routing_key: str,
                correlation_id: str | None) -> None:
        message = amqp.Message(body, content_type=content_type, content_encoding=content_encoding,
                               delivery_mode=self.delivery_mode, correlation_id=correlation_id)
        with self._lock:
            try:
                self._open_channel().basic_publish(message, exchange=self.exchange, routing_key=routing_key)
            except BROKER_ERRORS:
                self._close()
                self._open_channel().basic_publish(message, exchange=self.exchange, routing_key=routing_key)

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - it may be dead already
                pass

    def close(self) -> None:
        with self._lock:
            self._close()


def encode_reply(request_message, result, exc_info):
    """(content type, encoding, body, result, exc_info) of the reply, in the request's serialiser;
    a result that does not serialise becomes nameko's `UnserializableValueError`, as with nameko."""
    error = serialize(exc_info[1]) if exc_info is not None else None
    serializer = kombu.serialization.registry.type_to_name[request_message.properties["content_type"]]
    try:
        content_type, encoding, body = kombu.serialization.dumps({"result": result, "error": error}, serializer)
    except Exception:  # noqa: BLE001 - nameko's "disaster avoidance": the error always serialises
        exc_info = sys.exc_info()
        result, error = None, serialize(UnserializableValueError(result))
        content_type, encoding, body = kombu.serialization.dumps({"result": None, "error": error}, serializer)
    if isinstance(body, str):
        body = body.encode(encoding or "utf-8")
    return content_type, encoding, body, result, exc_info


class ResilientRpcConsumer(RpcConsumer):
    """nameko's RpcConsumer with a kept `ReplyPublisher`, surviving a reply that cannot be published."""

    # reconnects within a second of the broker's return, and its readiness shows in /readyz
    queue_consumer = ReconnectingQueueConsumer()
    publisher_cls = ReplyPublisher

    def setup(self):
        super().setup()
        self.reply_publisher = self.publisher_cls(self.container.config[AMQP_URI_CONFIG_KEY],
                                                  get_rpc_exchange(self.container.config).name)

    def stop(self):
        super().stop()
        self.reply_publisher.close()

    def handle_result(self, message, result, exc_info):
        content_type, encoding, body, result, exc_info = encode_reply(message, result, exc_info)
        try:
            self.reply_publisher.publish(body, content_type, encoding, message.properties["reply_to"],
                                         message.properties.get("correlation_id"))
        except BROKER_ERRORS as exc:
            metrics.RPC_REPLIES_DROPPED.labels(self.container.service_name).inc()
            log.warning("RPC reply not published (%s: %s); the caller's timeout covers it",
                        type(exc).__name__, exc)
        try:
            self.queue_consumer.ack_message(message)
        except BROKER_ERRORS as exc:
            log.warning("RPC request not acknowledged (%s: %s); the broker redelivers it unless it expired",
                        type(exc).__name__, exc)
        return result, exc_info


class ResilientRpc(Rpc):
    rpc_consumer = ResilientRpcConsumer()


rpc = ResilientRpc.decorator

__all__ = ["rpc", "ResilientRpc", "ResilientRpcConsumer", "ReplyPublisher"]
