"""`/time-entries`: time logged against customers and tickets (billing service)."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from flask import g
from pydantic import Field

from gateway.api import API, Body, Paged, filters, payload
from gateway.rpc import tenant_call


class LogTime(Body):
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    minutes: int
    billable: bool = None
    work_date: date = None
    note: Annotated[str, Field(max_length=10_000)] = None


class TimeEntryQuery(Paged):
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    date_from: date | None = Field(default=None, alias="from", description="first work date (inclusive)")
    date_to: date | None = Field(default=None, alias="to", description="last work date (inclusive)")


@API.route("/time-entries", "POST", permission="time:write", summary="Log time", tag="time",
           body=LogTime, status=201)
def log_time(body: LogTime):
    # the entry is the caller's own: the member comes from the token, never from the body
    return tenant_call("billing", "log_time", g.identity.member_id, payload(body))


@API.route("/time-entries", "GET", permission="time:read", summary="List time entries, newest first",
           tag="time", query=TimeEntryQuery)
def list_time_entries(query: TimeEntryQuery):
    return tenant_call("billing", "list_time_entries", filters(query), query.limit, query.cursor)
