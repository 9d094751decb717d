"""`/reports/benchmarks`, `/metrics` and `/customer_metrics` (reports service): the headline metrics
week by week, this week against last, and per customer.

Who sees what (docs/access.md): the benchmarks and the tenant's headline metrics are tenant-wide
figures (`reports:read`: managers and read-only users), like every report. The per-customer metrics
are rows of customers (`metrics:read`: managers, members and read-only users — not contractors, who
see neither SLA figures nor time lists), and a scoped caller's list holds only the customers it sees:
the gateway passes its scope to the service as `customer_ids`, intersected with any asked for.
`/metrics` here is the API's (`/api/v1/metrics`); the process's Prometheus metrics stay at `/metrics`.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from flask import g
from pydantic import Field

from custops.contracts.reports import DEFAULT_REPORT_WEEKS, MAX_REPORT_WEEKS
from gateway import roles
from gateway.api import API, Paged, Query, Resource
from gateway.routes.reports import CHART_DESCRIPTION, ChartSize, _chart_download, _csv_download
from gateway.rpc import tenant_call

MetricKey = Literal["tickets_created", "tickets_resolved", "backlog", "first_response_attainment_pct",
                    "resolution_attainment_pct", "median_first_response_business_minutes", "items_completed",
                    "billable_hours", "utilization", "at_risk_customers"]
METRIC_KEYS = MetricKey.__args__
Direction = Literal["up", "down", "flat"]


class MetricInfo(Resource):
    key: MetricKey
    label: str
    unit: Literal["count", "percent", "minutes", "hours", "fraction"]
    better: Literal["up", "down"] = Field(description="which way is an improvement")


class MetricTrend(Resource):
    direction: Direction = Field(description="least-squares slope over the last 4 closed weeks (flat: under 2 % "
                                             "of the mean per week, or fewer than 2 values)")
    slope: float | None = Field(description="change per week (null: fewer than 2 values)")


class BenchmarkWeek(Resource):
    week_start: date = Field(description="the first day of the tenant week")
    week_end: date
    frozen: bool = Field(description="true: a closed week, its snapshot as reported when it closed; "
                                     "false: the week under way, live")
    metrics: dict[str, float | None] = Field(description="every headline metric (keys as in `metrics`); null: "
                                                         "nothing to measure")
    delta: dict[str, float | None] = Field(description="each metric − the week before's")
    delta_pct: dict[str, float | None] = Field(description="Δ as a percent of the week before (null: it was 0 "
                                                           "or unknown)")


class Benchmarks(Resource):
    """Weekly snapshots of the headline metrics in the tenant's weeks (timezone, first day of the
    week): a closed week is frozen when first needed after it closes (within about an hour of its end)."""

    timezone: str
    first_day_of_week: Literal["monday", "sunday", "saturday"]
    as_of: datetime
    metrics: list[MetricInfo]
    items: list[BenchmarkWeek] = Field(description="oldest week first; the last is this week, so far")
    trend: dict[str, MetricTrend]


class BenchmarksQuery(ChartSize):
    weeks: int | None = Field(default=None, ge=1, le=MAX_REPORT_WEEKS,
                              description=f"how many tenant weeks back, this one included (default "
                                          f"{DEFAULT_REPORT_WEEKS}, at most {MAX_REPORT_WEEKS})")
    format: Literal["json", "csv", "png", "svg"] = Field(default="json", description=CHART_DESCRIPTION)
    metrics: str | None = Field(default=None, max_length=400, pattern=r"^[a-z_]+(,[a-z_]+)*$",
                                description="png/svg: the metrics to draw, comma-separated keys (default: "
                                            "tickets_created,tickets_resolved,backlog,items_completed)")


@API.route("/reports/benchmarks", "GET", permission="reports:read", tag="reports", query=BenchmarksQuery,
           summary="Weekly snapshots of the headline metrics, with Δ and trend", response=Benchmarks)
def benchmarks(query: BenchmarksQuery):
    weeks = {} if query.weeks is None else {"weeks": query.weeks}
    if query.format in ("png", "svg"):
        given = {**weeks, **({"metrics": query.metrics} if query.metrics else {})}
        return _chart_download("benchmarks", query, given)
    report = tenant_call("reports", "benchmarks", *weeks.values())
    if query.format == "csv":
        keys = [m["key"] for m in report["metrics"]]
        labels = [m["label"] for m in report["metrics"]]
        rows = [(i["week_start"], "yes" if i["frozen"] else "no", *(i["metrics"].get(k) for k in keys),
                 *(i["delta"].get(k) for k in keys)) for i in report["items"]]
        return _csv_download("benchmarks.csv", ("Week", "Frozen", *labels, *(f"Δ {label}" for label in labels)),
                             rows)
    return report


class HeadlineMetric(MetricInfo):
    this_week: float | None = Field(description="this tenant week so far")
    last_week: float | None
    delta: float | None = Field(description="this week − last week")
    delta_pct: float | None = Field(description="Δ as a percent of last week (null: it was 0 or unknown)")
    trend: MetricTrend


class HeadlineMetrics(Resource):
    """This tenant week so far against last week (its snapshot once closed)."""

    week_start: date
    last_week_start: date
    timezone: str
    first_day_of_week: Literal["monday", "sunday", "saturday"]
    as_of: datetime
    items: list[HeadlineMetric]


class HeadlineQuery(Query):
    format: Literal["json", "csv"] = Field(default="json", description="`csv`: the table as a download (UTF-8 "
                                                                       "with a BOM) a spreadsheet opens as is")


@API.route("/metrics", "GET", permission="reports:read", tag="reports", query=HeadlineQuery,
           summary="The tenant's headline metrics: this week vs last week, Δ and trend", response=HeadlineMetrics)
def headline_metrics(query: HeadlineQuery):
    report = tenant_call("reports", "headline_metrics")
    if query.format == "csv":
        return _csv_download(f"metrics-{report['week_start']}.csv",
                             ("Metric", "This Week", "Last Week", "Δ", "Δ %", "Trend"),
                             [(i["label"], i["this_week"], i["last_week"], i["delta"], i["delta_pct"],
                               i["trend"]["direction"]) for i in report["items"]])
    return report


class CustomerMetric(Resource):
    customer_id: uuid.UUID
    name: str
    tier: str | None
    open_tickets: int
    first_response_attainment_pct: float | None = Field(description="of the timers that ended in the last 30 days")
    resolution_attainment_pct: float | None
    sla_breaches_30d: int
    last_human_touch_at: datetime | None = Field(description="the latest interaction, reply or ticket by a person")
    health_score: int = Field(ge=0, le=100)
    health_state: Literal["healthy", "at_risk", "critical"]
    billable_hours_month: float = Field(description="work dates in the tenant's current month, so far")
    tracked_hours_month: float
    utilization_month: float | None = Field(description="billable ÷ tracked (null: nothing tracked)")


class CustomerMetricsPage(Resource):
    as_of: datetime
    month_start: date
    items: list[CustomerMetric] = Field(description="by customer id")
    total: int = Field(description="the customers the filter (and the caller's scope) leaves")
    next_cursor: str | None


class CustomerMetricsQuery(Paged):
    customer_id: list[uuid.UUID] | None = Field(default=None, max_length=200,
                                                description="only these customers (repeat the parameter)")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: uuid.UUID | None = Field(default=None, description="the previous page's next_cursor")
    format: Literal["json", "csv"] = Field(default="json", description="`csv`: this page's table as a download")


@API.route("/customer_metrics", "GET", permission="metrics:read", tag="reports", query=CustomerMetricsQuery,
           summary="Per customer: open tickets, SLA attainment, last human touch, health, this month's hours",
           response=CustomerMetricsPage)
def customer_metrics(query: CustomerMetricsQuery):
    wanted = None if query.customer_id is None else sorted({str(c) for c in query.customer_id})
    visible = roles.visible_customer_ids(g.identity)
    if visible is not None:
        wanted = sorted(set(visible) if wanted is None else set(wanted) & set(visible))
    page = tenant_call("reports", "customer_metrics", wanted, query.limit,
                       str(query.cursor) if query.cursor else None)
    if query.format == "csv":
        columns = ("customer_id", "name", "tier", "open_tickets", "first_response_attainment_pct",
                   "resolution_attainment_pct", "sla_breaches_30d", "last_human_touch_at", "health_score",
                   "health_state", "billable_hours_month", "tracked_hours_month", "utilization_month")
        return _csv_download("customer-metrics.csv", columns, [[i.get(c) for c in columns] for i in page["items"]])
    return page
