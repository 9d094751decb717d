"""Customer health (reports service): a customer's score explained, the tenant's at-risk list and
its health settings. A customer's health is part of the customer: whoever sees the customer sees it
(members, contractors and read-only users their own customers only, `roles.check_customer`); the
at-risk list and the settings are tenant-wide, like the other reports."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from flask import g
from pydantic import Field

from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, payload
from gateway.routes.reports import FORMAT_DESCRIPTION, Format, _csv_download
from gateway.rpc import tenant_call

CSV_PAGE = 1000  # the reports service's largest page
HealthState = Literal["healthy", "at_risk", "critical"]
Signal = Literal["onboarding_misses", "interaction_drop", "open_tickets", "oldest_open_ticket_days",
                 "sla_breaches_30d", "days_since_human_touch", "days_since_sponsor_touch", "overdue_invoices",
                 "csat", "nps"]


class SignalExplained(Resource):
    signal: Signal
    known: bool = Field(description="false: no value for this customer; left out, its weight shared by the rest")
    value: float | None = Field(description="the signal's raw value (days, counts, a fraction for interaction_drop)")
    risk: float | None = Field(description="0 (no concern) .. 1 (as bad as it gets), by the tenant's ramp")
    weight_share: float | None = Field(description="its share of 100 among the known signals")
    points: float | None = Field(description="what it cost the score (points of 100)")


class Trend(Resource):
    seven_days: int | None = Field(alias="7d", description="score now − score 7 days ago (null: no score that old)")
    thirty_days: int | None = Field(alias="30d", description="score now − score 30 days ago")


class CustomerHealth(Resource):
    """As of now: time-driven signals (days since the last touch, ticket age) are worked out when asked."""

    customer_id: uuid.UUID
    as_of: datetime
    score: int = Field(ge=0, le=100)
    state: HealthState
    signals: list[SignalExplained] = Field(description="every signal, known ones costliest first")
    trend: Trend


class CustomerHealthQuery(Query):
    format: Format = Field(default="json", description=FORMAT_DESCRIPTION + " (one row per signal)")


@API.route("/customers/<uuid:customer_id>/health", "GET", permission="customers:read", tag="reports",
           summary="A customer's health score, every signal's contribution, and its 7/30-day trend",
           query=CustomerHealthQuery, response=CustomerHealth)
def customer_health(customer_id: str, query: CustomerHealthQuery):
    roles.check_customer(g.identity, customer_id)
    doc = tenant_call("reports", "customer_health", customer_id)
    if query.format == "csv":  # the score explained: a row per signal, what it cost
        return _csv_download(f"health-{customer_id}.csv", ("Signal", "Known", "Value", "Risk", "Weight Share",
                                                           "Points"),
                             [(s["signal"], "yes" if s["known"] else "no", s["value"], s["risk"], s["weight_share"],
                               s["points"]) for s in doc["signals"]])
    return doc


class AtRiskQuery(Paged):
    state: HealthState | None = Field(default=None, description="only this state (default: at_risk and critical)")
    cursor: str | None = Field(default=None, pattern=r"^[0-9]{1,9}$", description="the previous page's next_cursor")
    format: Format = Field(default="json", description=FORMAT_DESCRIPTION + " (every page)")


class Contribution(Resource):
    signal: Signal
    value: float
    risk: float
    weight_share: float
    points: float


class AtRiskCustomer(Resource):
    customer_id: uuid.UUID
    score: int
    state: HealthState
    trend: Trend
    top_contributions: list[Contribution] = Field(description="the signals that cost the most, at most 3")


class AtRisk(Resource):
    as_of: datetime
    items: list[AtRiskCustomer] = Field(description="lowest score first, then the fastest 7-day fall")
    total: int = Field(description="customers in the states asked for (items holds at most `limit`)")
    next_cursor: str | None = Field(description="the next page's cursor; null: this is the last page")


@API.route("/reports/at-risk", "GET", permission="reports:read", tag="reports", query=AtRiskQuery,
           summary="Customers at risk, by score then trend", response=AtRisk)
def at_risk(query: AtRiskQuery):
    if query.format != "csv":
        return tenant_call("reports", "at_risk", query.state, query.limit, query.cursor)
    rows, cursor = [], None
    while True:  # the whole list, page by page
        page = tenant_call("reports", "at_risk", query.state, CSV_PAGE, cursor)
        rows += [(i["customer_id"], i["score"], i["state"], i["trend"]["7d"], i["trend"]["30d"],
                  i["top_contributions"][0]["signal"] if i["top_contributions"] else None) for i in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return _csv_download("at-risk.csv", ("Customer", "Score", "State", "7-day trend", "30-day trend", "Top signal"),
                         rows)


class Ramp(Body):
    ok: float = Field(description="at or past this value the signal's risk is 0")
    bad: float = Field(description="at or past this value it is 1 (for csat/nps, bad is below ok)")


Weight = Annotated[int, Field(ge=0, le=1000)]


class HealthSettings(Resource):
    weights: dict[str, int] = Field(description="relative weight of each signal (only ratios matter)")
    ramps: dict[str, dict[str, float]] = Field(description="each signal's `{ok, bad}`")
    healthy: int = Field(description="healthy at or above this score")
    at_risk: int = Field(description="at risk at or above this score; critical below")


class PutHealthSettings(Body):
    """The weights and ramps given replace those signals' (the others keep theirs)."""

    weights: dict[Signal, Weight] = None
    ramps: dict[Signal, Ramp] = None
    healthy: int = Field(default=None, ge=0, le=100)
    at_risk: int = Field(default=None, ge=0, le=100)


@API.route("/reports/health-settings", "GET", permission="reports:read", tag="reports",
           summary="The tenant's customer-health weights, ramps and thresholds", response=HealthSettings)
def get_health_settings():
    return tenant_call("reports", "get_health_settings")


@API.route("/reports/health-settings", "PUT", permission="tenant:write", tag="reports", body=PutHealthSettings,
           summary="Change the tenant's customer-health weights, ramps and thresholds", response=HealthSettings)
def put_health_settings(body: PutHealthSettings):
    return tenant_call("reports", "put_health_settings", payload(body))
