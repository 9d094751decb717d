"""`/reports`: read models rolled up from events (reports service)."""
from __future__ import annotations

import base64
import csv
import io
import uuid
from datetime import date
from typing import Literal

from flask import Response
from pydantic import Field

from custops.contracts.reports import DEFAULT_REPORT_WEEKS, MAX_REPORT_WEEKS
from custops.validation import Date
from gateway.api import API, Body, Query, Resource, payload
from gateway.rpc import tenant_call

Format = Literal["json", "csv"]
FORMAT_DESCRIPTION = "`csv`: the report's table as a CSV download (UTF-8 with a BOM) a spreadsheet opens as is"
# the trend reports can also be drawn (issue 12): the reports service renders, the gateway sends the bytes
TrendFormat = Literal["json", "csv", "png", "svg"]
CHART_DESCRIPTION = FORMAT_DESCRIPTION + "; `png` / `svg`: the report drawn as a chart (`width` × `height` pixels)"


class ChartSize(Query):
    width: int | None = Field(default=None, ge=320, le=2000, description="png/svg: pixels wide (default 800)")
    height: int | None = Field(default=None, ge=200, le=1200, description="png/svg: pixels high (default 400)")


def _chart_download(report: str, query, params: dict) -> Response:
    """The report drawn by the reports service (`report_chart`: base64 bytes over RPC), as it is."""
    chart = tenant_call("reports", "report_chart", report, query.format, params, query.width, query.height)
    return Response(base64.b64decode(chart["data"]), mimetype=chart["content_type"],
                    headers={"Content-Disposition": f'inline; filename="{chart["filename"]}"'})


class TicketVolumeQuery(ChartSize):
    customer_id: uuid.UUID | None = Field(default=None, description="one customer; all when left out")
    # the bound the reports service applies, from the one place both read it
    weeks: int | None = Field(default=None, ge=1, le=MAX_REPORT_WEEKS,
                              description=f"how many of the tenant's ISO weeks back, this one included "
                                          f"(default {DEFAULT_REPORT_WEEKS}, at most {MAX_REPORT_WEEKS})")
    format: TrendFormat = Field(default="json", description=CHART_DESCRIPTION)


class WeekVolume(Resource):
    """Tickets (not moves) per week: a ticket resolved, reopened and resolved again counts once, in
    the week of its latest resolution; a reopened ticket not resolved since counts as resolved nowhere."""

    customer_id: uuid.UUID
    iso_year: int
    iso_week: int
    week_start: date = Field(description="the Monday the week starts on, in the tenant's timezone")
    created: int = Field(description="tickets opened in the week")
    resolved: int = Field(description="tickets whose latest resolution fell in the week")
    closed: int = Field(description="tickets closed in the week")


class VolumeTotals(Resource):
    created: int
    resolved: int
    closed: int


class TicketVolume(Resource):
    items: list[WeekVolume] = Field(description="one row per customer and week with activity, newest week first")
    totals: VolumeTotals


@API.route("/reports/ticket-volume", "GET", permission="reports:read",
           summary="Tickets created and resolved per week", tag="reports", query=TicketVolumeQuery,
           response=TicketVolume)
def ticket_volume(query: TicketVolumeQuery):
    customer_id = str(query.customer_id) if query.customer_id else None
    weeks = () if query.weeks is None else (query.weeks,)  # left out: the service's default
    if query.format in ("png", "svg"):
        return _chart_download("ticket_volume", query, {"customer_id": customer_id, **(
            {"weeks": query.weeks} if query.weeks is not None else {})})
    report = tenant_call("reports", "ticket_volume", customer_id, *weeks)
    if query.format == "csv":
        return _csv_download("ticket-volume.csv", ("Week", "ISO Year", "ISO Week", "Customer", "Created", "Resolved",
                                                   "Closed"),
                             [(i["week_start"], i["iso_year"], i["iso_week"], i["customer_id"], i["created"],
                               i["resolved"], i["closed"]) for i in report["items"]])
    return report


def _csv_cell(cell) -> str | int | float:
    if cell is None:
        return ""
    if isinstance(cell, (int, float)):
        return cell
    text = str(cell)
    # a text cell a spreadsheet would run as a formula (CSV injection) is written as text
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_download(filename: str, columns, rows) -> Response:
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: spreadsheets read the file as UTF-8 (Δ, names)
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([_csv_cell(cell) for cell in row] for row in rows)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


class StatusQuery(ChartSize):
    week: Date | None = Field(default=None, description="any day of the tenant week to report (default: this week)")
    customer_id: uuid.UUID | None = Field(default=None, description="one customer; all when left out")
    format: TrendFormat = Field(default="json", description=CHART_DESCRIPTION)


class StatusFigures(Resource):
    this_week: int = Field(description="items completed in the week (tasks done + tickets resolved, each once)")
    last_week: int = Field(description="items completed in the week before")
    delta: int = Field(description="this week − last week")
    delta_pct: float | None = Field(description="Δ as a percent of last week (null: nothing last week)")
    status: Literal["On Track", "Ahead", "Delayed", "At Risk"]
    overdue_tasks: int = Field(description="tasks due before the report's as-of day and not completed by then")
    missed_milestones: int = Field(description="milestones due in the two weeks and not completed on their due date")


class ProjectStatus(StatusFigures):
    project_id: uuid.UUID | None = Field(description="null: the customer's resolved tickets (tickets have no project)")
    customer_id: uuid.UUID
    project_name: str


class CustomerStatus(StatusFigures):
    customer_id: uuid.UUID


class StatusReport(Resource):
    """Per project, items completed this week vs last week (the tenant's weeks: its timezone and first
    day of the week), Δ and a status from the tenant's rules; and the same rolled up per customer."""

    week_start: date
    last_week_start: date
    as_of: date = Field(description="the first day not in the report: the day after the week, or today")
    timezone: str
    first_day_of_week: Literal["monday", "sunday", "saturday"]
    items: list[ProjectStatus]
    customers: list[CustomerStatus]


@API.route("/reports/status", "GET", permission="reports:read", tag="reports", query=StatusQuery,
           summary="Items completed per project this week vs last (Project | This Week | Last Week | Δ | Status)",
           response=StatusReport)
def status_report(query: StatusQuery):
    week = query.week.isoformat() if query.week else None
    customer_id = str(query.customer_id) if query.customer_id else None
    if query.format in ("png", "svg"):
        return _chart_download("status", query, {"week": week, "customer_id": customer_id})
    report = tenant_call("reports", "status_report", week, customer_id)
    if query.format == "csv":
        return _csv_download(f"status-{report['week_start']}.csv",
                             ("Project", "This Week", "Last Week", "Δ", "Status"),
                             [(i["project_name"], i["this_week"], i["last_week"], i["delta"], i["status"])
                              for i in report["items"]])
    return report


class TimeQuery(Query):
    group_by: Literal["customer", "project", "member", "category"] = Field(
        default="customer", description="what each row is")
    date_from: Date | None = Field(default=None, description="first work date (default: the start of this week)")
    date_to: Date | None = Field(default=None, description="last work date, included (default: the end of this week)")
    customer_id: uuid.UUID | None = Field(default=None, description="one customer; all when left out")
    format: Format = Field(default="json", description=FORMAT_DESCRIPTION)


class TimeFigures(Resource):
    tracked_minutes: int
    billable_minutes: int
    internal_minutes: int = Field(description="tracked time that is not billable")
    tracked_hours: float
    billable_hours: float
    internal_hours: float
    utilization: float | None = Field(description="billable ÷ tracked (null: nothing tracked)")


class TimeGroup(TimeFigures):
    key: str | None = Field(description="the customer, project or member id, or the category (null: none)")


class TimeReport(Resource):
    """Time entries (each once, with its latest correction; deleted ones left out) over work dates."""

    group_by: str
    date_from: date
    date_to: date
    items: list[TimeGroup] = Field(description="most tracked first")
    totals: TimeFigures


@API.route("/reports/time", "GET", permission="reports:read", tag="reports", query=TimeQuery,
           summary="Hours by customer, project, member or category: billable vs internal, utilization",
           response=TimeReport)
def time_report(query: TimeQuery):
    given = [query.date_from.isoformat() if query.date_from else None,
             query.date_to.isoformat() if query.date_to else None,
             str(query.customer_id) if query.customer_id else None]
    report = tenant_call("reports", "time_report", query.group_by, *given)
    if query.format == "csv":
        rows = [(i["key"] or "(none)", i["tracked_hours"], i["billable_hours"], i["internal_hours"], i["utilization"])
                for i in report["items"]]
        totals = report["totals"]
        rows.append(("Total", totals["tracked_hours"], totals["billable_hours"], totals["internal_hours"],
                     totals["utilization"]))
        return _csv_download(f"time-{report['date_from']}-{report['date_to']}.csv",
                             (query.group_by.capitalize(), "Tracked Hours", "Billable Hours", "Internal Hours",
                              "Billable Utilization"), rows)
    return report


class SlaQuery(Query):
    date_from: Date | None = Field(default=None, description="first tenant-local day (default: the start of this week)")
    date_to: Date | None = Field(default=None, description="last day, included (default: the end of this week)")
    format: Format = Field(default="json", description=FORMAT_DESCRIPTION)


class SlaRates(Resource):
    met: int
    breached: int
    total: int = Field(description="timers that ended (met or breached) in the period")
    attainment_pct: float | None = Field(description="met ÷ total (null: none ended)")
    breach_rate_pct: float | None = Field(description="breached ÷ total (null: none ended)")


class SlaGroup(SlaRates):
    key: str | None = Field(description="the priority or customer tier (null: not known)")


class SlaTimerReport(SlaRates):
    by_priority: list[SlaGroup]
    by_tier: list[SlaGroup]


class SlaReport(Resource):
    """SLA timers counted in the period each was met or breached (the tenant's calendar days)."""

    date_from: date
    date_to: date
    first_response: SlaTimerReport
    resolution: SlaTimerReport


@API.route("/reports/sla", "GET", permission="reports:read", tag="reports", query=SlaQuery,
           summary="SLA attainment and breach rate: first response and resolution, by priority and tier",
           response=SlaReport)
def sla_report(query: SlaQuery):
    report = tenant_call("reports", "sla_attainment", query.date_from.isoformat() if query.date_from else None,
                         query.date_to.isoformat() if query.date_to else None)
    if query.format == "csv":
        rows = []
        for timer in ("first_response", "resolution"):
            figures = report[timer]
            groups = [("All", None, figures)] + [(by, g["key"], g) for by in ("by_priority", "by_tier")
                                                 for g in figures[by]]
            rows += [(timer, by.removeprefix("by_"), "(unknown)" if key is None and by != "All" else key,
                      g["met"], g["breached"], g["attainment_pct"], g["breach_rate_pct"]) for by, key, g in groups]
        return _csv_download(f"sla-{report['date_from']}-{report['date_to']}.csv",
                             ("Timer", "Group", "Key", "Met", "Breached", "Attainment %", "Breach Rate %"), rows)
    return report


class StatusRules(Resource):
    """The tenant's status rules, first match wins: At Risk at `at_risk_overdue_tasks` overdue tasks or
    `at_risk_missed_milestones` missed milestones (0: off); Delayed when Δ% ≤ −`delayed_pct` with at least
    `min_last_week` items last week; Ahead when Δ% ≥ `ahead_pct`; else On Track."""

    delayed_pct: float
    ahead_pct: float
    min_last_week: int
    at_risk_overdue_tasks: int
    at_risk_missed_milestones: int


class PutStatusRules(Body):
    """The rules given replace those (the others keep theirs)."""

    delayed_pct: float = Field(default=None, gt=0, le=100)
    ahead_pct: float = Field(default=None, gt=0, le=10_000)
    min_last_week: int = Field(default=None, ge=0, le=1_000_000)
    at_risk_overdue_tasks: int = Field(default=None, ge=0, le=1_000_000)
    at_risk_missed_milestones: int = Field(default=None, ge=0, le=1_000_000)


@API.route("/reports/status-rules", "GET", permission="reports:read", tag="reports",
           summary="The tenant's status-report rules", response=StatusRules)
def get_status_rules():
    return tenant_call("reports", "get_status_rules")


@API.route("/reports/status-rules", "PUT", permission="tenant:write", tag="reports", body=PutStatusRules,
           summary="Change the tenant's status-report rules (audited)", response=StatusRules)
def put_status_rules(body: PutStatusRules):
    return tenant_call("reports", "put_status_rules", payload(body))
