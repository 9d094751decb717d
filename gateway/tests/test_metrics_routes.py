"""`/reports/benchmarks`, `/metrics`, `/customer_metrics` and the charts of the trend reports, with the
RpcClient double: JSON passes through, CSV is a table a spreadsheet opens, PNG/SVG are the bytes the
reports service drew, and a scoped caller's customer list is its scope."""
from __future__ import annotations

import base64
import csv
import io
import uuid

import pytest

WEEK = {"week_start": "2026-03-02", "week_end": "2026-03-08", "frozen": True,
        "metrics": {"tickets_created": 4, "backlog": None}, "delta": {"tickets_created": 1, "backlog": None},
        "delta_pct": {"tickets_created": 33.3, "backlog": None}}
BENCHMARKS = {"timezone": "UTC", "first_day_of_week": "monday", "as_of": "2026-03-10T10:00:00+00:00",
              "metrics": [{"key": "tickets_created", "label": "Tickets created", "unit": "count", "better": "up"},
                          {"key": "backlog", "label": "Backlog at week end", "unit": "count", "better": "down"}],
              "items": [WEEK, {**WEEK, "week_start": "2026-03-09", "week_end": "2026-03-15", "frozen": False}],
              "trend": {"tickets_created": {"direction": "up", "slope": 1.0}}}


def _rows(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw  # the BOM, RFC 4180 line ends
    return list(csv.reader(io.StringIO(raw.decode("utf-8")[1:])))


def test_benchmarks_as_json_and_csv(client, services, bearer):
    services.on("reports", "benchmarks", lambda tenant, *weeks: BENCHMARKS)
    answer = client.get("/api/v1/reports/benchmarks?weeks=2", headers=bearer("read_only"))
    assert answer.status_code == 200 and answer.get_json() == BENCHMARKS
    assert services.calls_to("reports", "benchmarks")[-1][1:] == (2,)
    download = client.get("/api/v1/reports/benchmarks?format=csv", headers=bearer("owner"))
    assert services.calls_to("reports", "benchmarks")[-1][1:] == ()  # left out: the service's default
    assert download.mimetype == "text/csv"
    assert _rows(download) == [["Week", "Frozen", "Tickets created", "Backlog at week end", "Δ Tickets created",
                                "Δ Backlog at week end"],
                               ["2026-03-02", "yes", "4", "", "1", ""], ["2026-03-09", "no", "4", "", "1", ""]]


# what the reports service draws (its own tests decode them); here: bytes that must pass through unchanged
DRAWN = {"png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
         "svg": '<svg xmlns="http://www.w3.org/2000/svg"><text>Tickets created Δ</text></svg>'.encode()}
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


def _chart(fmt):
    return {"content_type": MEDIA[fmt], "filename": f"benchmarks.{fmt}", "data": base64.b64encode(DRAWN[fmt]).decode()}


def test_trend_reports_as_png_and_svg_are_the_bytes_the_service_drew(client, services, bearer):
    services.on("reports", "report_chart", lambda tenant, report, fmt, params, width, height: _chart(fmt))
    png = client.get("/api/v1/reports/benchmarks?format=png&weeks=8&metrics=backlog&width=640&height=320",
                     headers=bearer("admin"))
    assert png.status_code == 200 and png.mimetype == "image/png" and png.get_data() == DRAWN["png"]
    assert 'filename="benchmarks.png"' in png.headers["Content-Disposition"]
    assert services.calls_to("reports", "report_chart")[-1][1:] == (
        "benchmarks", "png", {"weeks": 8, "metrics": "backlog"}, 640, 320)
    svg = client.get("/api/v1/reports/ticket-volume?format=svg&weeks=4", headers=bearer("owner"))
    assert svg.mimetype == "image/svg+xml" and svg.get_data() == DRAWN["svg"]
    assert services.calls_to("reports", "report_chart")[-1][1:] == (
        "ticket_volume", "svg", {"customer_id": None, "weeks": 4}, None, None)
    client.get("/api/v1/reports/status?format=png&week=2026-03-04", headers=bearer("owner"))
    assert services.calls_to("reports", "report_chart")[-1][1:3] == ("status", "png")
    client.get("/api/v1/reports/sla?format=svg&period=month&date=2026-03-04", headers=bearer("owner"))
    assert services.calls_to("reports", "report_chart")[-1][1:4] == (
        "sla_attainment", "svg", {"date_from": None, "date_to": None, "period": "month", "date": "2026-03-04"})
    client.get("/api/v1/reports/ticket-volume/periods?format=png&period=month&periods=6", headers=bearer("owner"))
    assert services.calls_to("reports", "report_chart")[-1][1:4] == (
        "ticket_volume_report", "png", {"group_by": "category", "period": "month", "count": 6, "date": None,
                                        "customer_id": None})


@pytest.mark.parametrize("url", ["/api/v1/reports/benchmarks?format=gif", "/api/v1/reports/benchmarks?weeks=0",
                                 "/api/v1/reports/benchmarks?format=png&width=10",
                                 "/api/v1/reports/benchmarks?metrics=Backlog;x", "/api/v1/metrics?format=png",
                                 "/api/v1/customer_metrics?customer_id=nope", "/api/v1/customer_metrics?limit=0"])
def test_bad_parameters_are_refused(client, services, bearer, problem, url):
    problem(client.get(url, headers=bearer("owner")), 422)
    assert [c for c in services.calls if c[0] == "reports"] == []


def test_ticket_volume_as_csv(client, services, bearer):
    customer = str(uuid.uuid4())
    services.on("reports", "ticket_volume", lambda tenant, customer_id, *weeks: {
        "items": [{"customer_id": customer, "iso_year": 2026, "iso_week": 10, "week_start": "2026-03-02",
                   "created": 3, "resolved": 2, "closed": 1}], "totals": {"created": 3, "resolved": 2, "closed": 1}})
    rows = _rows(client.get("/api/v1/reports/ticket-volume?format=csv", headers=bearer("owner")))
    assert rows == [["Week", "ISO Year", "ISO Week", "Customer", "Created", "Resolved", "Closed"],
                    ["2026-03-02", "2026", "10", customer, "3", "2", "1"]]


def test_headline_metrics_as_json_and_csv(client, services, bearer):
    doc = {"week_start": "2026-03-09", "last_week_start": "2026-03-02", "timezone": "UTC",
           "first_day_of_week": "monday", "as_of": "2026-03-10T10:00:00+00:00",
           "items": [{"key": "backlog", "label": "Backlog at week end", "unit": "count", "better": "down",
                      "this_week": 5, "last_week": 4, "delta": 1, "delta_pct": 25.0,
                      "trend": {"direction": "up", "slope": 0.5}}]}
    services.on("reports", "headline_metrics", lambda tenant: doc)
    assert client.get("/api/v1/metrics", headers=bearer("owner")).get_json() == doc
    assert _rows(client.get("/api/v1/metrics?format=csv", headers=bearer("read_only"))) == [
        ["Metric", "This Week", "Last Week", "Δ", "Δ %", "Trend"], ["Backlog at week end", "5", "4", "1", "25.0", "up"]]
    assert client.get("/api/v1/metrics", headers=bearer("member")).status_code == 403


def test_customer_metrics_pass_the_scope_intersected_with_the_customers_asked_for(client, services, bearer, ids):
    services.on("reports", "customer_metrics", lambda tenant, customer_ids, limit, cursor: {
        "as_of": "2026-03-10T10:00:00+00:00", "month_start": "2026-03-01", "items": [], "total": 0,
        "next_cursor": None})
    other = str(uuid.uuid4())
    assert client.get("/api/v1/customer_metrics?limit=10", headers=bearer("owner")).status_code == 200
    assert services.calls_to("reports", "customer_metrics")[-1][1:] == (None, 10, None)
    client.get(f"/api/v1/customer_metrics?customer_id={other}", headers=bearer("admin"))
    assert services.calls_to("reports", "customer_metrics")[-1][1] == [other]
    client.get("/api/v1/customer_metrics", headers=bearer("member"))
    scoped = services.calls_to("reports", "customer_metrics")[-1][1]
    assert scoped is not None and other not in scoped  # the member's customers only
    client.get(f"/api/v1/customer_metrics?customer_id={other}", headers=bearer("member"))
    assert services.calls_to("reports", "customer_metrics")[-1][1] == []  # not theirs: nothing
    assert client.get("/api/v1/customer_metrics", headers=bearer("contractor")).status_code == 403


def test_a_customers_health_as_csv_explains_every_signal(client, services, bearer, ids):
    customer = ids["assigned_customer"]
    services.on("reports", "customer_health", lambda tenant, customer_id: {
        "customer_id": customer_id, "as_of": "2026-03-10T10:00:00+00:00", "score": 67, "state": "at_risk",
        "trend": {"7d": -3, "30d": None},
        "signals": [{"signal": "sla_breaches_30d", "known": True, "value": 5, "risk": 1, "weight_share": 33.33,
                     "points": 33.33},
                    {"signal": "csat", "known": False, "value": None, "risk": None, "weight_share": None,
                     "points": None}]})
    rows = _rows(client.get(f"/api/v1/customers/{customer}/health?format=csv", headers=bearer("member")))
    assert rows == [["Signal", "Known", "Value", "Risk", "Weight Share", "Points"],
                    ["sla_breaches_30d", "yes", "5", "1", "33.33", "33.33"], ["csat", "no", "", "", "", ""]]
    assert client.get(f"/api/v1/customers/{customer}/health", headers=bearer("owner")).get_json()["score"] == 67
