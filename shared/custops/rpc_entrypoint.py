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
  confirm was the largest part of an RPC round trip under load (issue 14).
"""
from __future__ import annotations

import logging
import socket

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.amqp.publish import Publisher
from nameko.rpc import Responder, Rpc, RpcConsumer

from custops import metrics
from custops.entrypoints import ReconnectingQueueConsumer

log = logging.getLogger(__name__)

BROKER_ERRORS = (OSError, socket.error, ConnectionError, KombuOperationalError, AMQPError)
TRANSIENT = 1  # AMQP delivery mode


class ReplyPublisher(Publisher):
    use_confirms = False
    delivery_mode = TRANSIENT
    retry = True
    retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # nameko's Publisher mutates a class-level dict per publish; keep ours per instance
        self.transport_options = {"confirm_publish": False}


class ReplyResponder(Responder):
    publisher_cls = ReplyPublisher


class ResilientRpcConsumer(RpcConsumer):
    """nameko's RpcConsumer with `ReplyResponder`, surviving a reply that cannot be published."""

    responder_cls = ReplyResponder
    # reconnects within a second of the broker's return, and its readiness shows in /readyz
    queue_consumer = ReconnectingQueueConsumer()

    def handle_result(self, message, result, exc_info):
        from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER,
                                      LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY)
        from nameko.rpc import get_rpc_exchange

        config = self.container.config
        responder = self.responder_cls(
            config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        try:
            result, exc_info = responder.send_response(result, exc_info)
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
