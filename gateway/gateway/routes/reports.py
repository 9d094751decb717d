"""`/reports`: read models rolled up from events (reports service)."""
from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from custops.contracts.reports import DEFAULT_REPORT_WEEKS, MAX_REPORT_WEEKS
from gateway.api import API, Query, Resource
from gateway.rpc import tenant_call


class TicketVolumeQuery(Query):
    customer_id: uuid.UUID | None = Field(default=None, description="one customer; all when left out")
    # the bound the reports service applies, from the one place both read it
    weeks: int | None = Field(default=None, ge=1, le=MAX_REPORT_WEEKS,
                              description=f"how many of the tenant's ISO weeks back, this one included "
                                          f"(default {DEFAULT_REPORT_WEEKS}, at most {MAX_REPORT_WEEKS})")


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
    return tenant_call("reports", "ticket_volume", customer_id, *weeks)
