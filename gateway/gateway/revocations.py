"""Dropping cached logins the moment the customers service revokes them, in every gateway process.

Each gateway process (each gunicorn worker) runs one daemon thread that consumes an exclusive,
auto-delete queue of its own, bound to the customers events exchange for `token.revoked`,
`member.deactivated` and `member.role_changed`. Each such event drops the matching entries of the
process's login cache (`auth.TtlCache`), so the next request with that token asks the customers
service again — within the relay's publish latency (milliseconds), not the cache's TTL. The same
queue takes what changes a member's customer scope (`customer.team_changed`, a customer's owner set
by `customer.created` / `customer.updated`) and drops the matching entries of the scope cache
(`gateway.scope.invalidation_of`), which is cleared and distrusted with the login cache.

The queue is the process's own (every process must see every event, unlike a service queue that
instances share) and disappears with it; events published while a process is not consuming are
not kept for it. So while the listener is not consuming — before its first connection, or after
losing the broker — the process does not trust its cache (`live` is false, `auth` asks every
time), and on each (re)connection it clears the cache, since it may have missed events. The TTL
stays as a backstop.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid

from kombu import Connection, Exchange, Queue

from gateway import scope

log = logging.getLogger(__name__)

EXCHANGE = "customers.events"
ROUTING_KEYS = ("token.revoked", "member.deactivated", "member.role_changed",
                # a member's customer scope (`gateway.scope`): account teams and owners
                "customer.team_changed", "customer.created", "customer.updated")
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)  # seconds before the 1st, 2nd, ... reconnection attempt
DRAIN_TIMEOUT = 1.0  # seconds: how often the thread looks up from the socket (stop, heartbeats)
HEARTBEAT = 30  # seconds; a dead connection is noticed within about twice that


def invalidation_of(envelope: dict) -> tuple[str, str] | None:
    """`("token_id", id)` or `("member_id", id)`: which cached logins an event ends; None for
    anything else."""
    data = envelope.get("data") or {}
    kind = envelope.get("type")
    if kind == "token.revoked" and data.get("token_id"):
        return "token_id", str(data["token_id"])
    if kind in ("member.deactivated", "member.role_changed") and data.get("member_id"):
        return "member_id", str(data["member_id"])
    return None


class RevocationListener:
    def __init__(self, amqp_uri: str, cache, scopes=None):
        self.amqp_uri = amqp_uri
        self.cache = cache
        self.scopes = scopes  # the customer scopes of members (`gateway.scope`), dropped alike
        self.pid = os.getpid()
        self.live = threading.Event()  # set while the queue is bound and consumed
        self.invalidations = 0  # events applied (tests, metrics)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.queue_name = f"gateway.revocations.{socket.gethostname()}.{self.pid}.{uuid.uuid4().hex[:8]}"

    def start(self) -> "RevocationListener":
        self._thread = threading.Thread(target=self._run, name="custops-revocations", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.live.clear()

    def wait_live(self, timeout: float) -> bool:
        return self.live.wait(timeout)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                with Connection(self.amqp_uri, heartbeat=HEARTBEAT, connect_timeout=5) as conn:
                    self._consume(conn)
                    attempt = 0
            except Exception as exc:  # noqa: BLE001 - any broker trouble: reconnect, never die
                self.live.clear()
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                log.warning("token revocation listener: %s; reconnecting in %.1fs (the login cache is "
                            "not trusted meanwhile)", exc, delay)
                self._stop.wait(delay)
        self.live.clear()

    def _consume(self, conn: Connection) -> None:
        channel = conn.channel()
        exchange = Exchange(EXCHANGE, type="topic", durable=True, auto_delete=False)
        exchange(channel).declare()
        queue = Queue(self.queue_name, exchange=exchange, exclusive=True, auto_delete=True, durable=False,
                      channel=channel)
        queue.declare()
        for key in ROUTING_KEYS:
            queue.bind_to(exchange=exchange, routing_key=key)
        with conn.Consumer(queue, callbacks=[self._on_message], accept=["json"], no_ack=True, channel=channel):
            # bound: from now on no revocation passes unseen; what came before may have been missed
            self.cache.clear()
            if self.scopes is not None:
                self.scopes.clear()
            self.live.set()
            while not self._stop.is_set():
                try:
                    conn.drain_events(timeout=DRAIN_TIMEOUT)
                except socket.timeout:
                    conn.heartbeat_check()

    def _on_message(self, body, message) -> None:
        try:
            envelope = body if isinstance(body, dict) else json.loads(body)
            found = invalidation_of(envelope)
            scope_found = scope.invalidation_of(envelope) if self.scopes is not None else None
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("token revocation listener: ignoring an unreadable event: %s", exc)
            return
        if found is not None:
            field, value = found
            self.cache.invalidate(field, value)
            self.invalidations += 1
        if scope_found is not None:
            self.scopes.invalidate(*scope_found)
            self.invalidations += 1
