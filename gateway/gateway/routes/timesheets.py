"""`/timesheets`: a member's weekly timesheet (billing service), the week in the member's timezone
and named by any day in it. A member submits their own week (a manager, `time:others`, anyone's);
owners and admins approve, reject (with a comment) or reopen any, a member only the weeks of the
members they are named approver of (`timesheets:approve`; billing checks the naming). A member sees
their own sheets and those they approve (of another member's week, the entries of customers they
see); owners and admins everyone's. Approved weeks lock their entries; a week with invoiced time
never reopens.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from flask import g
from pydantic import Field

from gateway import roles
from gateway.api import API, Body, Paged, Resource, filters, page_of, payload
from custops.validation import Date
from gateway.rpc import tenant_call


class TimesheetComment(Body):
    comment: Annotated[str, Field(max_length=2000)] = Field(default=None, description="required to reject")


class TimesheetQuery(Paged):
    member_id: uuid.UUID | None = None
    status: str | None = Field(default=None, pattern="^(open|submitted|approved|rejected)$")
    date_from: Date | None = Field(default=None, alias="from", description="weeks that end on or after")
    date_to: Date | None = Field(default=None, alias="to", description="weeks that begin on or before")


class Timesheet(Resource):
    id: uuid.UUID | None = Field(description="null for a week nothing happened in yet")
    member_id: uuid.UUID
    week_start: date
    week_end: date
    timezone: str = Field(description="the member's zone: whose days these are")
    status: str = Field(description="open, submitted, approved or rejected")
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    comment: str | None


class TimesheetWeek(Timesheet):
    total_minutes: int
    billable_minutes: int
    entry_count: int
    days: dict = Field(description="per day: total and billable minutes")
    entries: list = Field(description="the week's time entries")
    needs_confirmation: list[uuid.UUID] = Field(description="entries to confirm before the week can be approved")


def _viewer() -> str | None:
    return roles.time_member_scope(g.identity)


def _is_manager() -> bool:
    return roles.time_member_scope(g.identity) is None


def _shaped(week: dict) -> dict:
    """The week as this identity may see it: a scoped approver sees the week's totals, and only the
    entries of customers they may see (the rows of other customers do not exist for them)."""
    if roles.visible_customer_ids(g.identity) is not None and isinstance(week.get("entries"), list):
        week = {**week, "entries": [e for e in week["entries"]
                                    if roles.may_see_customer(g.identity, e.get("customer_id"))]}
    return week


WEEK = "/timesheets/<uuid:member_id>/<day>"


@API.route("/timesheets", "GET", permission="time:write", summary="Timesheets (yours, and those you approve)",
           tag="timesheets", query=TimesheetQuery, response=page_of(Timesheet))
def list_timesheets(query: TimesheetQuery):
    return tenant_call("billing", "list_timesheets", filters(query), query.limit, query.cursor, _viewer())


@API.route(WEEK, "GET", permission="time:write", tag="timesheets", response=TimesheetWeek,
           summary="A member's week (any day of it, YYYY-MM-DD): status, entries, totals per day")
def get_timesheet(member_id: str, day: str):
    return _shaped(tenant_call("billing", "get_timesheet", member_id, day, _viewer()))


def _move(method: str, member_id: str, day: str, body: TimesheetComment | None):
    return _shaped(tenant_call("billing", method, g.identity.member_id, member_id, day,
                               payload(body) if body else {}, _is_manager()))


@API.route(WEEK + "/submit", "POST", permission="time:write", tag="timesheets", body=TimesheetComment,
           response=TimesheetWeek, statuses=(409,),
           summary="Submit a week for approval (your own; anyone's with 'time:others')")
def submit_timesheet(member_id: str, day: str, body: TimesheetComment):
    return _move("submit_timesheet", member_id, day, body)


@API.route(WEEK + "/approve", "POST", permission="timesheets:approve", tag="timesheets", body=TimesheetComment,
           response=TimesheetWeek, statuses=(409,),
           summary="Approve a submitted week: its entries are locked and may be invoiced")
def approve_timesheet(member_id: str, day: str, body: TimesheetComment):
    return _move("approve_timesheet", member_id, day, body)


@API.route(WEEK + "/reject", "POST", permission="timesheets:approve", tag="timesheets", body=TimesheetComment,
           response=TimesheetWeek, statuses=(409,), summary="Send a submitted week back, with a comment")
def reject_timesheet(member_id: str, day: str, body: TimesheetComment):
    return _move("reject_timesheet", member_id, day, body)


@API.route(WEEK + "/reopen", "POST", permission="time:write", tag="timesheets", body=TimesheetComment,
           response=TimesheetWeek, statuses=(409,),
           summary="Reopen an approved or submitted week (an approver; the member their own submitted one)")
def reopen_timesheet(member_id: str, day: str, body: TimesheetComment):
    return _move("reopen_timesheet", member_id, day, body)
