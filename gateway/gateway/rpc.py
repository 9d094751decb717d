"""The gateway's RPC client: one `custops.rpc.RpcClient` (a pool with a timeout) per process.

Nothing is opened at import or app-creation time: the client is made on the first call in each
process, so gunicorn workers forked from a master (even with `--preload`) each build their own.
`tenant_call` is how routes reach services: the tenant always comes from the token's identity.
Every call carries the request's caller (`flask.g.caller`, set by `gateway.auth`), bound for that
call only, so a pooled worker thread never carries one request's caller into the next.

The client survives the broker (issue 13; `custops.rpc`): dead pooled connections are replaced
before use, and while the broker is unreachable a one-second circuit makes every call fail at once
with `ServiceUnavailable` — the 503 with `Retry-After` of `gateway.problems` — instead of a 504 after
the full RPC timeout; `client().circuit.is_open` says whether it is open.
"""
from __future__ import annotations

import os
import threading

from flask import current_app, g, has_app_context

from custops import caller
from custops.rpc import RpcClient


class ProcessRpc:
    def __init__(self, amqp_uri: str | None, timeout: float | None, size: int, client=None):
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self.size = size
        self._client = client  # an injected client (tests) is used as it is
        self._injected = client is not None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def client(self):
        if self._injected:
            return self._client
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    # a client inherited through fork shares sockets with the parent: never reuse it
                    self._client = RpcClient(self.amqp_uri, self.timeout, size=self.size)
                    self._pid = os.getpid()
        return self._client

    def close(self) -> None:
        """Close this process's client (an injected one belongs to whoever injected it)."""
        if self._injected or self._client is None:
            return
        if self._pid == os.getpid():
            self._client.close()
        self._client = None


def state() -> ProcessRpc:
    return current_app.extensions["custops_rpc"]


def call(service: str, method: str, *args):
    who = g.get("caller") if has_app_context() else None
    with caller.using(who):
        return state().client().call(service, method, *args)


def tenant_call(service: str, method: str, *args):
    """Call `service.method(tenant_id, *args)` with the tenant of the authenticated identity."""
    return call(service, method, g.identity.tenant_id, *args)
