"""Bearer-token authentication through `customers.authenticate(token)`, cached briefly per process.

The cache is keyed by sha256(token) so raw tokens are never kept or logged. Unknown tokens are
cached too (as None): a client retrying a bad token does not hammer the customers service.

An authenticated request also has its caller (`flask.g.caller`, a `custops.caller.Caller`): the
actor — the member whose token it is, or for a portal user their contact when the customers
service names one (else the member) — with the request id (the client's `X-Request-Id` when it
sends a sane one, else a new one), the client's address and user agent. `gateway.rpc` sends it
with every call, so each service, and every event it writes, knows who asked.
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from dataclasses import dataclass

from flask import g, request

from custops import caller
from gateway import rpc
from gateway.problems import Problem

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

    @classmethod
    def from_rpc(cls, doc: dict) -> "Identity":
        def opt(key):
            return str(doc[key]) if doc.get(key) is not None else None

        return cls(tenant_id=str(doc["tenant_id"]), member_id=opt("member_id"), role=str(doc["role"]),
                   customer_id=opt("customer_id"), email=doc.get("email"), contact_id=opt("contact_id"))

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
    """A small thread-safe dict whose entries expire after `ttl` seconds."""

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = CACHE_MAX_ENTRIES, clock=time.monotonic):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

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

    def put(self, key: str, value) -> None:
        with self._lock:
            now = self.clock()
            if len(self._entries) >= self.max_entries:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                while len(self._entries) >= self.max_entries:  # still full of fresh ones: drop the oldest
                    del self._entries[next(iter(self._entries))]
            self._entries[key] = (now + self.ttl, value)


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


def authenticate(cache: TtlCache) -> Identity:
    """The request's identity (also bound to `flask.g.identity`), or a 401 problem."""
    token = bearer_token()
    key = token_key(token)
    fresh, identity = cache.get(key)
    if not fresh:
        # ServiceUnavailable / ServiceTimeout propagate: customers being down is a 503/504, not a 401
        doc = rpc.call("customers", "authenticate", token)
        identity = Identity.from_rpc(doc) if doc else None
        cache.put(key, identity)
    if identity is None:
        raise _unauthorized("the token is not valid", "invalid_token")
    g.identity = identity
    g.caller = _caller_of(identity)
    return identity
