"""Bearer-token authentication through `customers.authenticate(token)`, cached briefly per process.

The cache is keyed by sha256(token) so raw tokens are never kept or logged. Unknown tokens are
cached too (as None): a client retrying a bad token does not hammer the customers service.
"""
from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from flask import g, request

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

    @classmethod
    def from_rpc(cls, doc: dict) -> "Identity":
        def opt(key):
            return str(doc[key]) if doc.get(key) is not None else None

        return cls(tenant_id=str(doc["tenant_id"]), member_id=opt("member_id"), role=str(doc["role"]),
                   customer_id=opt("customer_id"), email=doc.get("email"))


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
    return identity
