"""The console exporter's span line (`custops.tracing.span_line`): one JSON object per finished span
with the ids, parentage, status, attributes and recorded exceptions of OpenTelemetry's own format."""
import json

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from custops.tracing import span_line


def test_a_span_line_carries_ids_parent_status_attributes_and_exceptions():
    tracer = TracerProvider().get_tracer("test")
    parent = tracer.start_span("GET /api/v1/tickets/<uuid:ticket_id>", kind=trace.SpanKind.SERVER)
    child = tracer.start_span("tickets.get_ticket", context=trace.set_span_in_context(parent),
                              attributes={"custops.entrypoint": "Rpc"})
    child.record_exception(ValueError("on purpose"))
    child.set_status(trace.Status(trace.StatusCode.ERROR, "ValueError"))
    child.end()
    parent.end()

    line = span_line("tickets", child)
    assert line.endswith("\n") and "\n" not in line[:-1], "one line per span"
    doc = json.loads(line)
    ctx, parent_ctx = child.get_span_context(), parent.get_span_context()
    assert doc["name"] == "tickets.get_ticket"
    assert doc["context"] == {"trace_id": f"0x{ctx.trace_id:032x}", "span_id": f"0x{ctx.span_id:016x}"}
    assert ctx.trace_id == parent_ctx.trace_id
    assert doc["parent_id"] == f"0x{parent_ctx.span_id:016x}"
    assert doc["status"] == {"status_code": "ERROR", "description": "ValueError"}
    assert doc["attributes"] == {"custops.entrypoint": "Rpc"}
    assert doc["service"] == "tickets"
    assert doc["end_time_unix_nano"] >= doc["start_time_unix_nano"] > 0
    assert [e["name"] for e in doc["events"]] == ["exception"]
    assert doc["events"][0]["attributes"]["exception.message"] == "on purpose"

    root = json.loads(span_line("gateway", parent))
    assert root["parent_id"] is None and root["kind"] == "SpanKind.SERVER" and "events" not in root


def test_the_current_traceparent_is_what_the_w3c_propagator_writes_and_none_outside_a_span():
    from opentelemetry import context
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from custops import tracing

    assert tracing.current_traceparent() is None
    span = TracerProvider().get_tracer("test").start_span("work")
    token = context.attach(trace.set_span_in_context(span))
    try:
        carrier: dict = {}
        TraceContextTextMapPropagator().inject(carrier)
        assert tracing.current_traceparent() == carrier["traceparent"]
    finally:
        context.detach(token)
        span.end()


def test_log_lines_are_json_with_a_utc_timestamp_to_the_millisecond():
    import logging
    import time

    from custops.tracing import JsonFormatter

    formatter = JsonFormatter("gateway")
    for created in (1_700_000_000.123, 1_700_000_000.999, 1_700_000_001.5):
        record = logging.LogRecord("custops.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        doc = json.loads(formatter.format(record))
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(created))) + f".{int(record.msecs):03d}Z"
        assert doc["ts"] == expected
        assert (doc["msg"], doc["service"], doc["level"]) == ("GET /x", "gateway", "info")
