"""Prometheus metrics every custops process exposes (one definition each, shared by all)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ENTRYPOINT_CALLS = Counter(
    "custops_entrypoint_calls_total", "Entrypoint calls by outcome",
    ["service", "entrypoint", "kind", "outcome"],
)
ENTRYPOINT_SECONDS = Histogram(
    "custops_entrypoint_seconds", "Entrypoint latency by outcome",
    ["service", "entrypoint", "kind", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_CONSUMED = Counter(
    "custops_events_consumed_total", "Events handled, by result (new, duplicate, failed, dead_lettered)",
    ["service", "consumer", "event_type", "result"],
)
OUTBOX_PUBLISHED = Counter("custops_outbox_published_total", "Outbox events confirmed by the broker", ["service"])
OUTBOX_UNROUTABLE = Counter(
    "custops_outbox_unroutable_total", "Outbox events returned under mandatory (no queue bound)", ["service"])
OUTBOX_PUBLISH_ERRORS = Counter("custops_outbox_publish_errors_total", "Failed outbox batches", ["service"])
OUTBOX_BACKLOG = Gauge("custops_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_PUBLISH_LAG = Histogram(
    "custops_outbox_publish_lag_seconds", "Time from outbox insert to broker confirm", ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OUTBOX_BATCH_SECONDS = Histogram("custops_outbox_batch_seconds", "Time to relay one batch", ["service"])
SQL_SECONDS = Histogram(
    "custops_sql_seconds", "SQL statement time", ["service"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
RPC_CLIENT_CALLS = Counter(
    "custops_rpc_client_calls_total", "Outgoing RPC calls by outcome", ["target", "method", "outcome"])
RPC_REPLIES_DROPPED = Counter(
    "custops_rpc_replies_dropped_total", "RPC replies that could not be published (broker unreachable)",
    ["service"])


def instrument_engine(engine, service: str) -> None:
    """Time every SQL statement on this engine."""
    import time

    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("custops_t0", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _end(conn, cursor, statement, parameters, context, executemany):
        t0 = conn.info["custops_t0"].pop()
        SQL_SECONDS.labels(service).observe(time.perf_counter() - t0)
