"""Benchmarks, headline metrics, per-customer metrics and charts (a mixin `ReportsService` inherits).

- `benchmarks`: the weekly series of the headline metrics with Δ and trend (reports.benchmarks);
  closed weeks come from their snapshots, frozen on first need (reports.benchmark_store).
- The hourly `benchmark_snapshot_timer` freezes each tenant's closed weeks of the default window
  (`BACKFILL_WEEKS`) not frozen yet — the week that just closed, and on a first run the weeks before
  it — so a week is frozen within about an hour of closing even when nobody reads, and the default
  benchmarks read finds its weeks frozen (several instances: one row, see reports.benchmarks).
- `headline_metrics`: this week so far against last week, Δ, and each metric's trend.
- `customer_metrics`: a page of per-customer figures (reports.customer_metrics).
- `report_chart`: a trend report drawn as PNG or SVG (reports.charts), base64 over RPC.
"""
from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone
from typing import Literal

from nameko.timer import timer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from custops.contracts.reports import DEFAULT_REPORT_WEEKS, MAX_REPORT_WEEKS
from custops.errors import EXPECTED, InvalidInput
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from reports import benchmark_store, benchmarks, charts, customer_metrics
from reports.models import tenant_settings

SNAPSHOT_SECONDS = 3600
BACKFILL_WEEKS = DEFAULT_REPORT_WEEKS  # the closed weeks the timer keeps frozen (a longer read freezes the rest)
MAX_CUSTOMER_METRICS = 200
# the metrics a benchmarks chart draws when none are named: the weekly counts
DEFAULT_CHART_METRICS = ("tickets_created", "tickets_resolved", "backlog", "items_completed")


class BenchmarksQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weeks: int = Field(default=DEFAULT_REPORT_WEEKS, ge=1, le=MAX_REPORT_WEEKS)


class CustomerMetricsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=1000)
    limit: int = Field(default=50, ge=1, le=MAX_CUSTOMER_METRICS)
    cursor: uuid.UUID | None = None  # the previous page's next_cursor (its last customer id)


class ChartQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: Literal["benchmarks", "ticket_volume", "status", "ticket_volume_report", "sla_attainment"]
    format: Literal["png", "svg"]
    params: dict = {}
    width: int = Field(default=charts.DEFAULT_SIZE[0], ge=charts.MIN_SIZE[0], le=charts.MAX_SIZE[0])
    height: int = Field(default=charts.DEFAULT_SIZE[1], ge=charts.MIN_SIZE[1], le=charts.MAX_SIZE[1])


class FreezeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime | None = None
    tenant_id: uuid.UUID | None = None


def _calendar(session, tenant_id):
    from reports.service import _tenant_calendar  # the one place tenant settings are read

    return _tenant_calendar(session, tenant_id)


def _chart_metrics(given) -> list[str]:
    if given is None:
        return list(DEFAULT_CHART_METRICS)
    keys = [k for k in str(given).split(",") if k]
    unknown = [k for k in keys if k not in benchmarks.BY_KEY]
    if not keys or unknown:
        raise InvalidInput("unknown metric", [{"field": "metrics", "message":
                                               f"comma-separated, each one of {', '.join(benchmarks.KEYS)}"}])
    return keys


class BenchmarkEntrypoints:
    @rpc(expected_exceptions=EXPECTED)
    def benchmarks(self, tenant_id, weeks=None):
        """The last `weeks` tenant weeks (this one included, live), oldest first: each with every
        headline metric, its Δ and Δ% against the week before, and each metric's trend."""
        tenant_id = parse_id(tenant_id, "tenant")
        query = parse(BenchmarksQuery, {} if weeks is None else {"weeks": weeks})
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            tz, first_day, rules = _calendar(session, tenant_id)
            shown = benchmarks.weeks_back(now, tz, first_day, query.weeks + 1)  # one more: the first Δ
            found = benchmark_store.weeks_with_figures(session, tenant_id, tz, first_day, rules, shown, now)
        found[0] = (found[0][0], None, found[0][2])
        return {"timezone": tz, "first_day_of_week": first_day, "as_of": now.isoformat(),
                "metrics": [{"key": m.key, "label": m.label, "unit": m.unit, "better": m.better}
                            for m in benchmarks.METRICS],
                **benchmarks.series(found)}

    @rpc(expected_exceptions=EXPECTED)
    def headline_metrics(self, tenant_id):
        """This tenant week so far against last week: every headline metric, Δ, Δ% and its trend
        over the last closed weeks."""
        tenant_id = parse_id(tenant_id, "tenant")
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            tz, first_day, rules = _calendar(session, tenant_id)
            weeks = benchmarks.weeks_back(now, tz, first_day, benchmarks.TREND_WEEKS + 1)
            found = benchmark_store.weeks_with_figures(session, tenant_id, tz, first_day, rules, weeks, now)
        (this_week, _, current), (last_week, _, previous) = found[-1], found[-2]
        items = []
        for m in benchmarks.METRICS:
            delta, pct = benchmarks.change(current.get(m.key), previous.get(m.key))
            items.append({"key": m.key, "label": m.label, "unit": m.unit, "better": m.better,
                          "this_week": current.get(m.key), "last_week": previous.get(m.key), "delta": delta,
                          "delta_pct": pct,
                          "trend": benchmarks.trend([f.get(m.key) for _, closed, f in found if closed])})
        return {"week_start": this_week.isoformat(), "last_week_start": last_week.isoformat(), "timezone": tz,
                "first_day_of_week": first_day, "as_of": now.isoformat(), "items": items}

    @rpc(expected_exceptions=EXPECTED)
    def customer_metrics(self, tenant_id, customer_ids=None, limit=None, cursor=None):
        """A page of customers (by id; `customer_ids` keeps only those) with their open tickets, 30-day
        SLA attainment, last human touchpoint, health score and state, and this month's hours."""
        tenant_id = parse_id(tenant_id, "tenant")
        given = {"customer_ids": customer_ids, "cursor": cursor}
        if limit is not None:
            given["limit"] = limit
        query = parse(CustomerMetricsQuery, given)
        now = datetime.now(timezone.utc)
        with self.db.read() as session:
            tz, _, _ = _calendar(session, tenant_id)
            return customer_metrics.customer_metrics(session, tenant_id, now, tz, query.customer_ids, query.limit,
                                                     query.cursor)

    @rpc(expected_exceptions=EXPECTED)
    def report_chart(self, tenant_id, report, format, params=None, width=None, height=None):
        """The trend report `report` (the RPC of that name: benchmarks, ticket_volume, status,
        ticket_volume_report, sla_attainment) with `params` (its arguments by name; for benchmarks
        also `metrics`, comma-separated keys) drawn as `format` (png, svg): `{content_type,
        filename, data}` with the bytes in base64."""
        given = {"report": report, "format": format, "params": params or {}}
        given.update({k: v for k, v in (("width", width), ("height", height)) if v is not None})
        query = parse(ChartQuery, given)
        params = dict(query.params)
        if query.report == "benchmarks":
            keys = _chart_metrics(params.pop("metrics", None))
            answer = self.benchmarks(tenant_id, **params)
            labels = {m["key"]: m["label"] for m in answer["metrics"]}
            chart, name = charts.benchmarks_chart(answer, keys, labels), "benchmarks"
        elif query.report == "ticket_volume":
            chart, name = charts.volume_chart(self.ticket_volume(tenant_id, **params)), "ticket-volume"
        elif query.report == "ticket_volume_report":
            chart, name = charts.volume_periods_chart(self.ticket_volume_report(tenant_id, **params)), "ticket-volume"
        elif query.report == "sla_attainment":
            answer = self.sla_attainment(tenant_id, **params)
            chart, name = charts.sla_chart(answer), f"sla-{answer['date_from']}-{answer['date_to']}"
        else:
            answer = self.status_report(tenant_id, **params)
            chart, name = charts.status_chart(answer), f"status-{answer['week_start']}"
        data = charts.render(chart, query.format, query.width, query.height)
        return {"content_type": charts.FORMATS[query.format], "filename": f"{name}.{query.format}",
                "data": base64.b64encode(data).decode("ascii")}

    # --- snapshots of closed weeks, taken within about an hour of a week's close

    @timer(interval=SNAPSHOT_SECONDS)
    def benchmark_snapshot_timer(self):
        self.freeze_closed_weeks()

    @rpc(expected_exceptions=EXPECTED)
    def freeze_closed_weeks(self, now=None, tenant_id=None):
        """Freeze every tenant's (or the one given) closed weeks of the last BACKFILL_WEEKS as of `now`
        (ISO instant, for tests; default now) that are not frozen yet, a transaction per tenant; how
        many snapshots this call stored."""
        query = parse(FreezeQuery, {"now": now, "tenant_id": tenant_id})
        at = query.now or datetime.now(timezone.utc)
        with self.db.read() as session:
            known = select(tenant_settings.c.tenant_id)
            if query.tenant_id is not None:
                known = known.where(tenant_settings.c.tenant_id == query.tenant_id)
            tenants = [row[0] for row in session.execute(known)]
        stored = 0
        for tenant_id in tenants:
            with self.db.read() as session:
                tz, first_day, _ = _calendar(session, tenant_id)
                closed = [w for w in benchmarks.weeks_back(at, tz, first_day, BACKFILL_WEEKS + 1)
                          if benchmarks.is_closed(w, tz, at)]
                missing = [w for w in closed if w not in benchmark_store.frozen(session, tenant_id, closed)]
            if not missing:
                continue
            with self.db.transaction() as session:
                figures = benchmark_store.figures_for_weeks(session, tenant_id, tz, first_day, missing, at)
                for week in missing:
                    stored += benchmark_store.freeze(session, tenant_id, week, tz, first_day, figures[week], at)[1]
        return {"frozen": stored}

