"""Per-request tracing, metrics, access log and audit log.

Each request runs in a SERVER span (a child of the caller's `traceparent` when sent), so every RPC
call made while handling it carries the trace on to the services; the trace id is returned in
`X-Trace-Id`. Metrics live in this process's default Prometheus registry: with several gunicorn
workers each scrape sees one worker (multiprocess mode needs a shared directory and a gunicorn hook;
not worth it yet).

Audit: every mutation (allowed or refused) is one structured line on the `custops.audit` logger —
who, what, from where. A durable audit store is later work.
"""
from __future__ import annotations

import json
import logging
import time

from flask import Flask, g, request
from opentelemetry import trace
from prometheus_client import Counter, Histogram

from custops import tracing

access_log = logging.getLogger("custops.access")
audit_log = logging.getLogger("custops.audit")

REQUESTS = Counter("custops_gateway_requests_total", "HTTP requests by route, method and status",
                   ["route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "custops_gateway_request_seconds", "HTTP request latency by route and method", ["route", "method"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _route() -> str:
    # the rule, not the path: ids must not explode the metrics' label values
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


def install(app: Flask) -> None:
    @app.before_request
    def _start():
        g.started = time.perf_counter()
        g.route = route = _route()
        method = request.method
        g.span, g.span_token = tracing.start_span(
            f"{method} {route}", request.headers.get("traceparent"), kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route})

    @app.after_request
    def _finish(response):
        span = g.get("span")
        if span is None:
            return response
        route, status = g.route, response.status_code
        elapsed = time.perf_counter() - g.started
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(trace.Status(trace.StatusCode.ERROR))
        trace_id = span.get_span_context().trace_id
        if trace_id:
            response.headers["X-Trace-Id"] = format(trace_id, "032x")
        REQUESTS.labels(route, request.method, str(status)).inc()
        REQUEST_SECONDS.labels(route, request.method).observe(elapsed)
        access_log.info("%s %s %s", request.method, request.path, status,
                        extra={"entrypoint": f"{request.method} {route}", "outcome": str(status),
                               "duration_ms": round(elapsed * 1000, 2)})
        if request.method in MUTATIONS and request.path.startswith("/api/"):
            identity = g.get("identity")
            # the record is the message itself (JSON), so any log pipeline keeps every field
            audit_log.info(json.dumps({
                "tenant_id": identity.tenant_id if identity else None,
                "member_id": identity.member_id if identity else None,
                "role": identity.role if identity else None,
                "method": request.method, "path": request.path, "status": status,
                "remote_addr": request.remote_addr,
                "forwarded_for": request.headers.get("X-Forwarded-For"),
            }), extra={"entrypoint": f"{request.method} {route}", "outcome": str(status)})
        return response

    @app.teardown_request
    def _end(exc):
        span = g.pop("span", None)
        if span is not None:
            tracing.end_span(span, g.pop("span_token"), exc)
