"""Who is calling: the caller of the current request or worker, carried across every hop.

The gateway learns the caller when it authenticates a request (a member's token: that member; a
portal user's token: their contact when known, else the member) and binds it for each RPC call it
makes. `custops.rpc.RpcClient` sends it in nameko context data (AMQP header `nameko.custops_caller`,
next to `nameko.traceparent`); the `Telemetry` dependency of every service restores it for the
worker; `custops.outbox.add` stamps its actor and its origin (request id, IP, user agent) on each
event envelope. A worker nobody called (the SLA clock, an event consumer) has no caller, so its
events carry the actor `{type: system}` and no origin; a consumer that emits events because of
another event may act for that event's actor (`acting_for(envelope)`).

Besides the actor, the caller carries what the audit log records about where a change came from:
the request id, the client's IP address and user agent.

Isolation: the value lives in a `contextvars.ContextVar`. Under eventlet every nameko worker is a
greenthread of its own, and greenlet >= 1 gives each greenlet its own context, so concurrent
workers never see each other's caller (a test with concurrent workers pins this); the gateway
binds it around each call (`using`) so a pooled thread never carries it into the next request.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import uuid
from dataclasses import dataclass

from pydantic import ValidationError

from custops.events import SYSTEM, Actor, Origin

log = logging.getLogger(__name__)

# the nameko context-data key (nameko sends worker_ctx.data[key] as the AMQP header `nameko.<key>`)
CONTEXT_KEY = "custops_caller"

_MAX_FIELD = 500  # request id, IP, user agent: bounded, they come from the client


@dataclass(frozen=True)
class Caller:
    actor: Actor
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def to_header(self) -> str:
        """The JSON string carried in nameko context data."""
        return json.dumps({"actor": self.actor.model_dump(mode="json"), "request_id": self.request_id,
                           "ip": self.ip, "user_agent": self.user_agent})

    def origin(self) -> Origin | None:
        """Where the request came from, for the event envelope; None when nothing is known."""
        if self.request_id is None and self.ip is None and self.user_agent is None:
            return None
        return Origin(request_id=self.request_id, ip=self.ip, user_agent=self.user_agent)

    @classmethod
    def from_header(cls, value) -> "Caller | None":
        """The caller a header carried; None (and a warning) when it is missing or malformed."""
        if not value:
            return None
        try:
            doc = json.loads(value) if isinstance(value, (str, bytes)) else value
            return cls(actor=Actor.model_validate(doc["actor"]), request_id=_bounded(doc.get("request_id")),
                       ip=_bounded(doc.get("ip")), user_agent=_bounded(doc.get("user_agent")))
        except (ValueError, TypeError, KeyError, ValidationError) as exc:
            log.warning("ignoring a malformed caller header: %s", exc)
            return None


def _bounded(value) -> str | None:
    return str(value)[:_MAX_FIELD] if value is not None else None


def member(member_id, **where) -> Caller:
    return Caller(Actor(type="member", id=uuid.UUID(str(member_id))), **where)


def contact(contact_id, **where) -> Caller:
    return Caller(Actor(type="contact", id=uuid.UUID(str(contact_id))), **where)


_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("custops_caller", default=None)


def current() -> Caller | None:
    """The caller of this request or worker, or None when nobody called (clock, consumer)."""
    return _current.get()


def current_actor() -> Actor:
    """The actor to stamp on a change made now: the caller's, else the system."""
    found = _current.get()
    return found.actor if found is not None else SYSTEM


def current_origin() -> Origin | None:
    """Where the change made now came from (the caller's request id, IP, user agent), or None."""
    found = _current.get()
    return found.origin() if found is not None else None


def bind(caller: Caller | None) -> contextvars.Token:
    """Make `caller` current; pass the token to `unbind` when the request or worker ends."""
    return _current.set(caller)


def unbind(token: contextvars.Token) -> None:
    _current.reset(token)


@contextlib.contextmanager
def using(caller: Caller | None):
    """`with using(caller): ...`: `caller` is current inside the block only."""
    token = bind(caller)
    try:
        yield caller
    finally:
        unbind(token)


def acting_for(envelope):
    """For a consumer that emits events because of `envelope`: act as that event's actor (the
    system when it has none), keeping the request details of the current caller if any, else the
    event's own origin (so the audit record of the follow-up names the request that started it)."""
    actor = envelope.actor or SYSTEM
    found = current()
    if found is not None:
        return using(Caller(actor, found.request_id, found.ip, found.user_agent))
    origin = getattr(envelope, "origin", None) or Origin()
    return using(Caller(actor, origin.request_id, origin.ip, origin.user_agent))


__all__ = ["CONTEXT_KEY", "Caller", "member", "contact", "current", "current_actor", "current_origin", "bind", "unbind",
           "using", "acting_for"]
