#!/usr/bin/env python3
"""What authentication costs per request, and how long a revoked token lives on (loopback only).

(1) `gateway.auth.authenticate` in a request context of a gateway app in this process, against the
    real customers service: cached (the login in the process's cache, the revocation listener live)
    and uncached (the cache cleared before each call: one `customers.authenticate` RPC, with its
    once-a-minute last-use write skipped after the first).
(2) Revocation latency across two gateway processes (the Procfile's gunicorn line, two workers each):
    a fresh token is logged in on every worker, revoked (`DELETE /tokens/{id}`), and then both
    gateways are asked over new connections until every answer is 401; the time from the revoke's
    answer to that.

Bounded: fixed counts (a few seconds each), the suite's own virtual host and databases (the e2e ones);
prints numbers and ratios. Run: `.venv/bin/python tests/bench/auth_bench.py`.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/harness.py
sys.path.insert(0, str(HERE.parent.parent / "gateway"))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import requests  # noqa: E402

from harness import PROCFILE, ROOT, Suite, free_port  # noqa: E402

CACHED_CALLS = 5000
UNCACHED_CALLS = 500
REVOCATIONS = 20
WARM_REQUESTS = 16  # per gateway, each on a new connection: both workers cache the login
POLL_REQUESTS = 4  # per gateway and poll round
POLL_CAP_SECONDS = 5.0


def say(line: str = "") -> None:
    print(line, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def bench_authenticate(suite: Suite, token: str) -> None:
    from gateway import auth
    from gateway.app import create_app

    app = create_app({"AMQP_URI": suite.amqp_uri, "RPC_TIMEOUT": 5.0})
    cache = app.extensions["custops_auth_cache"]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with app.test_request_context("/api/v1/me", headers=headers):
            auth.authenticate(cache)  # starts the revocation listener
            if not app.extensions["custops_revocations"].wait_live(10):
                raise SystemExit("the revocation listener did not connect")
            results = {}
            for label, calls, clear in (("cached", CACHED_CALLS, False), ("uncached", UNCACHED_CALLS, True)):
                timings = []
                for _ in range(calls):
                    if clear:
                        cache.clear()
                    started = time.perf_counter()
                    auth.authenticate(cache)
                    timings.append(time.perf_counter() - started)
                results[label] = timings
                say(f"    {label:<9} {calls:5d} calls   p50 {percentile(timings, 50) * 1e6:9.1f} us   "
                    f"p99 {percentile(timings, 99) * 1e6:9.1f} us   mean {statistics.fmean(timings) * 1e6:9.1f} us")
        ratio = statistics.median(results["uncached"]) / statistics.median(results["cached"])
        say(f"    uncached / cached  {ratio:8.0f} x (p50)")
    finally:
        app.extensions["custops_revocations"].stop()
        app.extensions["custops_rpc"].close()


def _statuses(urls: list[str], token: str, n: int) -> list[int]:
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    return [requests.get(f"{url}/api/v1/me", headers=headers, timeout=10).status_code for url in urls for _ in range(n)]


def bench_revocation(urls: list[str], owner: requests.Session, base: str, member_id: str) -> None:
    latencies = []
    for i in range(REVOCATIONS):
        issued = owner.post(f"{base}/api/v1/members/{member_id}/tokens", json={"name": f"bench-{i}"}, timeout=10)
        issued.raise_for_status()
        token, token_id = issued.json()["token"], issued.json()["id"]
        if set(_statuses(urls, token, WARM_REQUESTS)) != {200}:
            raise SystemExit("a fresh token was refused before its revocation")
        owner.delete(f"{base}/api/v1/tokens/{token_id}", timeout=10).raise_for_status()
        revoked_at = time.monotonic()
        while set(_statuses(urls, token, POLL_REQUESTS)) != {401}:
            if time.monotonic() - revoked_at > POLL_CAP_SECONDS:
                raise SystemExit(f"revoked token still accepted after {POLL_CAP_SECONDS:.0f}s")
        latencies.append(time.monotonic() - revoked_at)
    say(f"    {REVOCATIONS} revocations, 2 gateway processes x 2 workers: refused everywhere after "
        f"p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms (upper bounds: one poll round is "
        f"{2 * POLL_REQUESTS} requests on new connections); goal <= 1000 ms")


def main() -> int:
    from custops.procfile import parse_procfile

    os.chdir(ROOT)
    started = time.monotonic()
    suite = Suite(only=["customers", "customers-relay", "gateway"])
    port = free_port()
    suite.add("gateway-b", dict(parse_procfile(PROCFILE))["gateway"], extra_env={"CUSTOPS_GATEWAY_PORT": str(port)},
              ready_url=f"http://127.0.0.1:{port}/readyz")
    suite.setup_broker_and_databases()
    try:
        suite.start_all()
        tenant = suite.new_tenant()
        member = tenant.api.post("/api/v1/members", json={
            "email": f"bench-{tenant.id[:8]}@bench.example", "name": "Bench", "role": "member"})
        member.raise_for_status()
        member_id = member.json()["id"]
        token = tenant.api.post(f"/api/v1/members/{member_id}/tokens", json={"name": "bench"}).json()["token"]

        say("(1) authentication per request (gateway.auth.authenticate, in-process, real customers service)")
        bench_authenticate(suite, token)
        say()
        say("(2) token revocation latency across two gateway processes")
        bench_revocation([suite.url, f"http://127.0.0.1:{port}"], tenant.api, suite.url, member_id)
    finally:
        suite.stop_all()
    say(f"\ntotal {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
