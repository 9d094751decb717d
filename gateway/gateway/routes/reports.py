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

from custops.contracts.reports import (DEFAULT_REPORT_WEEKS, DEFAULT_VOLUME_PERIODS, MAX_REPORT_WEEKS,
                                       MAX_VOLUME_PERIODS)
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
    week_start: date = Field(description="the first day of the tenant's week, in its timezone")
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


class SlaQuery(ChartSize):
    date_from: Date | None = Field(default=None, description="first tenant-local day (default: the start of this week)")
    date_to: Date | None = Field(default=None, description="last day, included (default: the end of this week)")
    period: Literal["week", "month"] | None = Field(
        default=None, description="the tenant's week or month containing `date` instead of date_from..date_to")
    date: Date | None = Field(default=None, description="with `period`: any day of it (default: today)")
    format: TrendFormat = Field(default="json", description=CHART_DESCRIPTION)


class SlaRates(Resource):
    met: int
    breached: int
    total: int = Field(description="timers that ended (met or breached) in the period")
    attainment_pct: float | None = Field(description="met ÷ total (null: none ended)")
    breach_rate_pct: float | None = Field(description="breached ÷ total (null: none ended)")


class SlaFigures(SlaRates):
    timed: int = Field(description="timers with business minutes (stopped; told by ticket.sla_met)")
    median_business_minutes: float | None
    p90_business_minutes: float | None


class SlaGroup(SlaFigures):
    key: str | None = Field(description="the priority, customer tier, team id or assignee id (null: none known)")


class SlaTimerReport(SlaFigures):
    by_priority: list[SlaGroup]
    by_tier: list[SlaGroup]
    by_team: list[SlaGroup]
    by_assignee: list[SlaGroup]


class SlaPrevious(SlaFigures):
    pass


class SlaDelta(Resource):
    total: float | None
    attainment_pct: float | None
    breach_rate_pct: float | None
    median_business_minutes: float | None
    p90_business_minutes: float | None


class SlaTimerTrend(Resource):
    previous: SlaPrevious
    delta: SlaDelta = Field(description="this period − the previous one (null: either has none)")


class SlaTrend(Resource):
    first_response: SlaTimerTrend
    resolution: SlaTimerTrend


class SlaReport(Resource):
    """SLA timers counted in the period each was met or breached (the tenant's calendar days), with
    the trend against the period before (the week or month before; for days, as many days before)."""

    period: Literal["week", "month"] | None = None
    timezone: str | None = None
    date_from: date
    date_to: date
    previous_from: date | None = None
    previous_to: date | None = None
    first_response: SlaTimerReport
    resolution: SlaTimerReport
    trend: SlaTrend | None = None


@API.route("/reports/sla", "GET", permission="reports:read", tag="reports", query=SlaQuery,
           summary="SLA attainment, breach rate, median and p90 business minutes by priority, tier, team and "
                   "assignee, with the trend", response=SlaReport)
def sla_report(query: SlaQuery):
    given = [d.isoformat() if d else None for d in (query.date_from, query.date_to)]
    if query.format in ("png", "svg"):
        return _chart_download("sla_attainment", query, {"date_from": given[0], "date_to": given[1],
                                                         "period": query.period,
                                                         "date": query.date.isoformat() if query.date else None})
    report = tenant_call("reports", "sla_attainment", *given, query.period,
                         query.date.isoformat() if query.date else None)
    if query.format == "csv":
        rows = []
        for timer in ("first_response", "resolution"):
            figures = report[timer]
            groups = [("All", None, figures)] + [(by, g["key"], g) for by in SLA_GROUPS for g in figures.get(by, [])]
            rows += [(timer, by.removeprefix("by_"), "(unknown)" if key is None and by != "All" else key,
                      g["met"], g["breached"], g["attainment_pct"], g["breach_rate_pct"],
                      g.get("median_business_minutes"), g.get("p90_business_minutes")) for by, key, g in groups]
        return _csv_download(f"sla-{report['date_from']}-{report['date_to']}.csv",
                             ("Timer", "Group", "Key", "Met", "Breached", "Attainment %", "Breach Rate %",
                              "Median Business Minutes", "P90 Business Minutes"), rows)
    return report


SLA_GROUPS = ("by_priority", "by_tier", "by_team", "by_assignee")


class VolumeReportQuery(ChartSize):
    group_by: Literal["category", "priority", "customer", "source"] = Field(default="category",
                                                                           description="what each group is")
    period: Literal["week", "month"] = Field(default="week", description="the tenant's weeks or months")
    periods: int | None = Field(default=None, ge=1, le=MAX_VOLUME_PERIODS,
                                description=f"how many periods back, the one containing `date` included "
                                            f"(default {DEFAULT_VOLUME_PERIODS}, at most {MAX_VOLUME_PERIODS})")
    date: Date | None = Field(default=None, description="any day of the newest period (default: today)")
    customer_id: uuid.UUID | None = Field(default=None, description="one customer; all when left out")
    format: TrendFormat = Field(default="json", description=CHART_DESCRIPTION)


class VolumeCounts(Resource):
    created: int = Field(description="tickets opened in the period")
    resolved: int = Field(description="tickets whose latest resolution fell in the period (not reopened since)")
    reopened: int = Field(description="tickets moved back from resolved or closed to open in the period")
    backlog: int = Field(description="tickets open at the end of the period")


class VolumeGroup(VolumeCounts):
    key: str | None = Field(description="the category, priority, customer id or source (null: not known yet)")
    name: str | None = Field(default=None, description="the customer's name (group_by=customer)")


class VolumePeriod(Resource):
    period_start: date
    period_end: date
    groups: list[VolumeGroup] = Field(description="groups with any count, by key")
    totals: VolumeCounts


class VolumeReport(Resource):
    """Ticket volume per tenant week or month (its timezone and first day of the week), newest first."""

    group_by: str
    period: str
    timezone: str
    first_day_of_week: Literal["monday", "sunday", "saturday"]
    periods: list[VolumePeriod] = Field(description="newest first")


@API.route("/reports/ticket-volume/periods", "GET", permission="reports:read", tag="reports",
           query=VolumeReportQuery, response=VolumeReport,
           summary="Tickets created, resolved, reopened and the backlog per week or month, by category, priority, "
                   "customer or source")
def ticket_volume_report(query: VolumeReportQuery):
    if query.format in ("png", "svg"):
        return _chart_download("ticket_volume_report", query, {
            "group_by": query.group_by, "period": query.period, "count": query.periods,
            "date": query.date.isoformat() if query.date else None,
            "customer_id": str(query.customer_id) if query.customer_id else None})
    report = tenant_call("reports", "ticket_volume_report", query.group_by, query.period, query.periods,
                         query.date.isoformat() if query.date else None,
                         str(query.customer_id) if query.customer_id else None)
    if query.format == "csv":
        rows = [(p["period_start"], "(unknown)" if g["key"] is None else (g["name"] or g["key"]), g["created"],
                 g["resolved"], g["reopened"], g["backlog"]) for p in report["periods"] for g in p["groups"]]
        return _csv_download(f"ticket-volume-{query.group_by}-{query.period}.csv",
                             ("Period Start", query.group_by.capitalize(), "Created", "Resolved", "Reopened",
                              "Backlog"), rows)
    return report


class OnboardingQuery(Query):
    quarter: Date | None = Field(default=None, description="any day of the tenant quarter (default: this quarter)")
    format: Format = Field(default="json", description=FORMAT_DESCRIPTION)


class StepDelay(Resource):
    step_key: str
    tasks: int
    average_delay_days: float = Field(description="days past the planned due date, 0 when in time")


class OnboardingFigures(Resource):
    plans: int = Field(description="plans whose first-value milestone was done in the quarter")
    average_days: float | None = Field(description="days from start to first value")
    median_days: float | None
    plans_due: int = Field(description="plans whose target date fell in the quarter and is over, or complete")
    completed_within_target: int
    completion_rate_pct: float | None


class OnboardingTier(OnboardingFigures):
    tier: str | None


class OnboardingPrevious(OnboardingFigures):
    date_from: date
    date_to: date
    slowest_step: StepDelay | None


class OnboardingDelta(Resource):
    average_days: float | None
    median_days: float | None
    completion_rate_pct: float | None


class OnboardingVelocity(OnboardingFigures):
    """Onboarding plans (applied from templates) in the tenant's quarter vs the one before."""

    timezone: str
    date_from: date
    date_to: date
    as_of: date = Field(description="the first day not over: today, or the day after the quarter")
    slowest_step: StepDelay | None = Field(description="the template step with the largest average delay")
    steps: list[StepDelay] = Field(description="every step's delay, the slowest first")
    by_tier: list[OnboardingTier]
    previous: OnboardingPrevious
    delta: OnboardingDelta = Field(description="this quarter − the one before (null: either has none)")


@API.route("/reports/onboarding-velocity", "GET", permission="reports:read", tag="reports", query=OnboardingQuery,
           response=OnboardingVelocity,
           summary="Days to first value, completion within target and the slowest step, this quarter vs last")
def onboarding_velocity(query: OnboardingQuery):
    report = tenant_call("reports", "onboarding_velocity", query.quarter.isoformat() if query.quarter else None)
    if query.format == "csv":
        rows = [("All", report["plans"], report["average_days"], report["median_days"], report["plans_due"],
                 report["completion_rate_pct"])]
        rows += [(t["tier"] or "(unknown)", t["plans"], t["average_days"], t["median_days"], t["plans_due"],
                  t["completion_rate_pct"]) for t in report["by_tier"]]
        previous = report["previous"]
        rows.append(("Previous quarter", previous["plans"], previous["average_days"], previous["median_days"],
                     previous["plans_due"], previous["completion_rate_pct"]))
        return _csv_download(f"onboarding-{report['date_from']}.csv",
                             ("Segment", "Plans", "Average Days To First Value", "Median Days", "Plans Due",
                              "Completion Within Target %"), rows)
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
