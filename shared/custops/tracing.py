"""Tracing and structured logs.

Spans are made with the OpenTelemetry SDK; the exporter is picked by the standard
`OTEL_TRACES_EXPORTER` variable (`otlp`, `console`, or `none`, the default). The W3C `traceparent`
travels in nameko context data (AMQP header `nameko.traceparent`) for RPC and in each event's
envelope and headers. Log lines are JSON and carry `trace_id`/`span_id`.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_configured = False


def setup(service_name: str) -> None:
    """Install the tracer provider and the JSON log format for this process (idempotent)."""
    global _configured, _tracer
    if _configured:
        return
    _configured = True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if exporter_name == "console":
        # one compact JSON object per line, so logs stay line-oriented and greppable; written in
        # batches off the request's thread, within half a second (a flushed write per span was a
        # third of a request span's cost)
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(
            out=sys.stdout, formatter=functools.partial(span_line, service_name)),
            schedule_delay_millis=500, max_queue_size=8192))
    elif exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            logging.getLogger(__name__).error(
                "OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-http installed")
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("custops")  # the provider in force (the first one set wins)
    setup_logging(service_name)


def span_line(service: str, span) -> str:
    """A finished span as one JSON line: OpenTelemetry's own `to_json` keys (trace and span ids as
    `0x…`), except the resource (only its service name) and times as Unix nanoseconds. `to_json`
    serialised and re-parsed the whole resource and formatted two ISO timestamps for every span:
    it was a tenth of a service's CPU per RPC with the console exporter on (issue 14)."""
    ctx, parent, status = span.context, span.parent, span.status
    doc = {
        "name": span.name,
        "context": {"trace_id": f"0x{ctx.trace_id:032x}", "span_id": f"0x{ctx.span_id:016x}"},
        "kind": str(span.kind),
        "parent_id": f"0x{parent.span_id:016x}" if parent is not None else None,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": {"status_code": status.status_code.name, **(
            {"description": status.description} if status.description else {})},
        "attributes": dict(span.attributes or {}),
        "service": service,
    }
    if span.events:
        doc["events"] = [{"name": e.name, "timestamp_unix_nano": e.timestamp, "attributes": dict(e.attributes or {})}
                         for e in span.events]
    return json.dumps(doc, default=str) + "\n"


_tracer = None  # the process's tracer, once `setup` installed the provider


def tracer():
    # `get_tracer` builds a new Tracer (and its instrumentation scope) on every call: once is enough
    return _tracer or trace.get_tracer("custops")


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span (None outside one), as the propagator writes it."""
    span_ctx = trace.get_current_span().get_span_context()
    if not span_ctx.is_valid:
        return None
    return f"00-{span_ctx.trace_id:032x}-{span_ctx.span_id:016x}-{span_ctx.trace_flags:02x}"


def context_from(traceparent: str | None):
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def start_span(name: str, traceparent: str | None = None, kind=trace.SpanKind.INTERNAL, attributes=None):
    """Start a span (child of `traceparent` when given) and make it current; returns (span, token)."""
    ctx = context_from(traceparent)
    span = tracer().start_span(name, context=ctx, kind=kind, attributes=attributes or {})
    token = context.attach(trace.set_span_in_context(span, ctx))
    return span, token


def end_span(span, token, error: BaseException | None = None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
    span.end()
    context.detach(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    _second = (0, "")  # (a whole second, its formatted text): strftime once per second, not per line

    def _timestamp(self, record: logging.LogRecord) -> str:
        whole = int(record.created)
        second, text = self._second
        if second != whole:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, text)
        return f"{text}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        span_ctx = trace.get_current_span().get_span_context()
        doc = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if span_ctx.is_valid:
            doc["trace_id"] = format(span_ctx.trace_id, "032x")
            doc["span_id"] = format(span_ctx.span_id, "016x")
        for key in ("entrypoint", "event_id", "event_type", "outcome", "duration_ms"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def setup_logging(service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("CUSTOPS_LOG_LEVEL", "INFO").upper())
    for noisy in ("amqp", "kombu", "nameko", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
