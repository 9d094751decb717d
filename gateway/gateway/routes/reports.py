"""`/reports`: read models rolled up from events (reports service)."""
from __future__ import annotations

import uuid

from pydantic import Field

from gateway.api import API, Query
from gateway.rpc import tenant_call


class TicketVolumeQuery(Query):
    customer_id: uuid.UUID | None = Field(default=None, description="one customer; all when left out")
    weeks: int | None = Field(default=None, ge=1, le=520, description="how many weeks back, this one included")


@API.route("/reports/ticket-volume", "GET", permission="reports:read",
           summary="Tickets created and resolved per week", tag="reports", query=TicketVolumeQuery)
def ticket_volume(query: TicketVolumeQuery):
    customer_id = str(query.customer_id) if query.customer_id else None
    weeks = () if query.weeks is None else (query.weeks,)  # left out: the service's default
    return tenant_call("reports", "ticket_volume", customer_id, *weeks)
