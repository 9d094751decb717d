"""The customers a member, contractor or read-only user may see: their account-team scope.

A scoped member sees the customers they own or whose account team they are on
(`customers.scope_of`), and only those customers' tickets, time, timeline and contacts; `roles`
decides who is scoped and applies it. The scope is cached per process for `SCOPE_SECONDS` (one RPC
per member and TTL, and once per request at most), and dropped the moment it changes: the gateway's
event listener (`gateway.revocations`) also takes `customer.team_changed`, the owner of a customer
being set (`customer.created`, `customer.updated`) and a member's role change or deactivation, and
drops the matching entries (`invalidation_of`). While that listener is not consuming, the cache is not
trusted (as for logins): every request asks.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from flask import current_app, g

from gateway import rpc

SCOPE_SECONDS = 10.0


@dataclass(frozen=True)
class Scope:
    tenant_id: str
    member_id: str
    customer_ids: frozenset[str]
    internal_customer_ids: frozenset[str]  # those whose internal notes and timeline entries it may see


def invalidation_of(envelope: dict) -> tuple[str, str] | None:
    """`("member_id", id)` or `("tenant_id", id)`: whose cached scopes an event ends; None for others."""
    data = envelope.get("data") or {}
    kind = envelope.get("type")
    if kind in ("customer.team_changed", "member.role_changed", "member.deactivated") and data.get("member_id"):
        return "member_id", str(data["member_id"])
    if kind == "customer.created" and data.get("owner_id"):
        return "member_id", str(data["owner_id"])
    if kind == "customer.updated" and "owner_id" in (data.get("changes") or {}) and envelope.get("tenant_id"):
        return "tenant_id", str(envelope["tenant_id"])  # the previous owner is not told: all of the tenant's
    return None


_cache_lock = threading.Lock()


def cache():
    """This app's scope cache (a `gateway.auth.TtlCache`, made on first use)."""
    from gateway.auth import TtlCache

    app = current_app
    found = app.extensions.get("custops_scope_cache")
    if found is None:
        with _cache_lock:
            found = app.extensions.setdefault("custops_scope_cache", TtlCache(
                ttl=app.config.get("SCOPE_CACHE_SECONDS", SCOPE_SECONDS)))
    return found


def of(identity) -> Scope:
    """The identity's scope (asked of the customers service unless cached and trusted)."""
    here = g.get("custops_scope")
    if here is not None:
        return here
    scopes = cache()
    listener = current_app.extensions.get("custops_revocations")
    trusted = listener is None or listener.live.is_set()
    key = f"{identity.tenant_id}:{identity.member_id}"
    fresh, found = scopes.get(key) if trusted else (False, None)
    if not fresh:
        generation = scopes.generation
        doc = rpc.call("customers", "scope_of", identity.tenant_id, identity.member_id)
        found = Scope(identity.tenant_id, str(identity.member_id), frozenset(doc["customer_ids"]),
                      frozenset(doc["internal_customer_ids"]))
        if trusted:
            scopes.put(key, found, generation=generation)
    g.custops_scope = found
    return found
