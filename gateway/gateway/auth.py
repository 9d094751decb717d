"""Bearer-token authentication through `customers.authenticate(token)`, cached briefly per process.

The cache is keyed by sha256(token) so raw tokens are never kept or logged. Unknown tokens are
cached too (as None): a client retrying a bad token does not hammer the customers service. A
revoked token, or one of a deactivated member or one whose role changed, leaves every process's
cache within about a second: `gateway.revocations` listens for those events (the TTL is the
backstop), and an entry never outlives its token's expiry.

An authenticated request also has its caller (`flask.g.caller`, a `custops.caller.Caller`): the
actor — the member whose token it is, or for a portal user their contact when the customers
service names one (else the member) — with the request id (the client's `X-Request-Id` when it
sends a sane one, else a new one), the client's address and user agent. `gateway.rpc` sends it
with every call, so each service, and every event it writes, knows who asked.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import current_app, g, request

from custops import caller, config
from gateway import rpc, scope
from gateway.problems import Problem
from gateway.revocations import RevocationListener

CACHE_SECONDS = 30.0
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Identity:
    tenant_id: str
    member_id: str | None
    role: str
    customer_id: str | None = None  # the company of a portal user
    email: str | None = None
    contact_id: str | None = None  # the contact a portal user is, when the customers service says
    token_id: str | None = None
    read_only: bool = False  # the token only reads (GET), whatever the role (`roles.token_allows`)
    expires_at: datetime | None = None

    @classmethod
    def from_rpc(cls, doc: dict) -> "Identity":
        def opt(key):
            return str(doc[key]) if doc.get(key) is not None else None

        expires = doc.get("expires_at")
        return cls(tenant_id=str(doc["tenant_id"]), member_id=opt("member_id"), role=str(doc["role"]),
                   customer_id=opt("customer_id"), email=doc.get("email"), contact_id=opt("contact_id"),
                   token_id=opt("token_id"), read_only=bool(doc.get("read_only", False)),
                   expires_at=datetime.fromisoformat(expires) if expires else None)

    def seconds_left(self) -> float | None:
        """Seconds until the token expires (None: it does not)."""
        if self.expires_at is None:
            return None
        return (self.expires_at - datetime.now(timezone.utc)).total_seconds()

    def actor_caller(self, **where) -> caller.Caller | None:
        """The caller this identity makes changes as (None when it names nobody)."""
        if self.role == "portal" and self.contact_id:
            return caller.contact(self.contact_id, **where)
        if self.member_id:
            return caller.member(self.member_id, **where)
        return None


# a client's request id is taken when it is a short token of safe characters, else a new one is made
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id() -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _caller_of(identity: Identity) -> caller.Caller | None:
    return identity.actor_caller(request_id=request_id(), ip=request.remote_addr,
                                 user_agent=(request.headers.get("User-Agent") or None))


class TtlCache:
    """A small thread-safe dict whose entries expire after `ttl` seconds (or sooner, per entry).

    `generation` counts invalidations: a login looked up while one happened is not stored
    (`put(..., generation=...)`), so an answer fetched just before a revocation cannot outlive it.
    """

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = CACHE_MAX_ENTRIES, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self.generation = 0

    def get(self, key: str):
        """(True, value) when fresh, (False, None) otherwise."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return False, None
            expires, value = hit
            if expires <= self.clock():
                del self._entries[key]
                return False, None
            return True, value

    def put(self, key: str, value, ttl: float | None = None, generation: int | None = None) -> None:
        """Store `value` for `ttl` seconds at most (the cache's TTL when longer or None); not at all
        when `generation` is given and an invalidation happened since it was read."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            now = self.clock()
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                while len(self._entries) >= self.max_entries:  # still full of fresh ones: drop the oldest
                    del self._entries[next(iter(self._entries))]
            lifetime = self.ttl if ttl is None else min(self.ttl, ttl)
            if lifetime > 0:
                self._entries[key] = (now + lifetime, value)

    def invalidate(self, field: str, value: str) -> int:
        """Drop every entry whose value has `field` == `value` (e.g. a token id, a member id)."""
        with self._lock:
            self.generation += 1
            doomed = [k for k, (_, v) in self._entries.items() if getattr(v, field, None) == value]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _unauthorized(detail: str, error: str | None = None) -> Problem:
    challenge = 'Bearer realm="custops"' + (f', error="{error}"' if error else "")
    return Problem(401, detail, headers={"WWW-Authenticate": challenge})


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("this endpoint needs an 'Authorization: Bearer <token>' header")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'", "invalid_request")
    return token.strip()


_listeners_lock = threading.Lock()


def revocation_listener() -> RevocationListener | None:
    """This process's listener (started on first use, again after a fork), or None when the app
    runs without one (`AUTH_REVOCATION_EVENTS` false; by default when its RPC client is injected,
    i.e. no broker): then the cache lives by its TTL alone."""
    app = current_app
    enabled = app.config.get("AUTH_REVOCATION_EVENTS")
    if enabled is None:
        enabled = app.config.get("RPC_CLIENT") is None
    if not enabled:
        return None
    listener = app.extensions.get("custops_revocations")
    if listener is None or listener.pid != os.getpid():
        with _listeners_lock:
            listener = app.extensions.get("custops_revocations")
            if listener is None or listener.pid != os.getpid():
                listener = RevocationListener(app.config.get("AMQP_URI") or config.amqp_uri(),
                                              app.extensions["custops_auth_cache"], scope.cache()).start()
                app.extensions["custops_revocations"] = listener
    return listener


def authenticate(cache: TtlCache) -> Identity:
    """The request's identity (also bound to `flask.g.identity`), or a 401 problem."""
    token = bearer_token()
    key = token_key(token)
    listener = revocation_listener()
    trusted = listener is None or listener.live.is_set()  # else a revocation may pass unseen
    fresh, identity = cache.get(key) if trusted else (False, None)
    if not fresh:
        generation = cache.generation
        # ServiceUnavailable / ServiceTimeout propagate: customers being down is a 503/504, not a 401
        doc = rpc.call("customers", "authenticate", token)
        identity = Identity.from_rpc(doc) if doc else None
        if trusted:
            cache.put(key, identity, ttl=identity.seconds_left() if identity else None, generation=generation)
    if identity is None:
        raise _unauthorized("the token is not valid", "invalid_token")
    g.identity = identity
    g.caller = _caller_of(identity)
    return identity
