"""`/reports`: read models rolled up from events (reports service)."""
from __future__ import annotations

import uuid
from datetime import date

from pydantic import Field

from gateway.api import API, Query, Resource
from gateway.rpc import tenant_call


class TicketVolumeQuery(Query):
    customer_id: uuid.UUID | None = Field(default=None, description="one customer; all when left out")
    weeks: int | None = Field(default=None, ge=1, le=104,
                              description="how many weeks back, this one included (default 12, at most 104)")


class WeekVolume(Resource):
    customer_id: uuid.UUID
    iso_year: int
    iso_week: int
    week_start: date = Field(description="the Monday the week starts on, in the tenant's timezone")
    created: int
    resolved: int
    closed: int


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
