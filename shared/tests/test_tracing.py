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
