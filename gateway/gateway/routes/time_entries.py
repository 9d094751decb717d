"""`/time-entries`: time logged against customers and tickets (billing service).

Whose an entry is: the caller's own unless the body names another `member_id`, which needs
`time:others` (owner, admin). The same rule decides whose entries a caller may correct or delete;
billing applies it (and what may no longer change: invoiced time) from the `member_scope` passed.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from flask import g
from pydantic import Field

from gateway import roles
from custops.validation import Date, Instant
from gateway.api import API, Body, Paged, Resource, filters, page_of, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call

Note = Annotated[str, Field(max_length=10_000)]
Reason = Annotated[str, Field(max_length=2000)]
Category = Annotated[str, Field(min_length=1, max_length=100)]
Tags = Annotated[list[Annotated[str, Field(max_length=50)]], Field(max_length=20)]
BILLABLE = ("whether the time is billable; without it the category, the project or the customer default "
            "decides (entry > category > project > customer), and when none does the entry is refused (422)")


class LogTime(Body):
    """`minutes`, or `started_at` and `ended_at` (then `minutes` is their span)."""

    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = Field(default=None, description="a ticket of this customer")
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = Field(default=None, description="a timeline activity (a call, a meeting)")
    member_id: uuid.UUID = Field(default=None, description="whose time it is (default: the caller's); "
                                                          "another member's needs 'time:others'")
    minutes: int = Field(default=None, ge=1, le=1440)
    started_at: Instant = None
    ended_at: Instant = None
    billable: bool = Field(default=None, description=BILLABLE)
    billable_reason: Reason = Field(default=None, description="why the entry overrides its category's, project's "
                                                              "or customer's default (required then)")
    category: Category = Field(default=None, description="one of the tenant's time categories")
    tags: Tags = None
    work_date: Date = Field(default=None, description="the day worked (default: the member's local day of "
                                                      "`started_at`, else today); not in the future")
    note: Note = None


class CorrectTime(Body):
    """The fields to change; `ticket_id: null` detaches the entry from its ticket."""

    member_id: uuid.UUID = Field(default=None, description="move the entry to another member: needs 'time:others'")
    customer_id: uuid.UUID = None
    ticket_id: uuid.UUID | None = Field(default=None, description="a ticket of the entry's customer, or null")
    minutes: int = Field(default=None, ge=1, le=1440)
    billable: bool = Field(default=None, description=BILLABLE)
    work_date: Date = None
    note: Note = None
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    started_at: Instant | None = None
    ended_at: Instant | None = None
    billable_reason: Reason | None = None
    category: Category | None = None
    tags: Tags = None
    confirmed: bool = Field(default=None, description="true confirms an entry that needs it (a timer past the "
                                                      "tenant's limit); its week cannot be approved before")


class TimeEntryQuery(Paged):
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    billable: bool | None = None
    category: str | None = Field(default=None, max_length=100)
    date_from: Date | None = Field(default=None, alias="from", description="first work date (inclusive)")
    date_to: Date | None = Field(default=None, alias="to", description="last work date (inclusive)")


class TimeEntry(Resource):
    id: uuid.UUID
    member_id: uuid.UUID = Field(description="whose time it is")
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None
    work_date: date
    minutes: int
    billable: bool
    note: str
    entered_by_member_id: uuid.UUID = Field(description="who entered it (a manager may log a colleague's time)")
    revision: int = Field(description="1 when logged, +1 per correction")
    created_at: datetime
    updated_at: datetime | None = Field(description="the last correction; null: never corrected")
    invoiced_at: datetime | None = Field(description="when it was put on an invoice; null: not invoiced")
    locked: bool = Field(description="true once invoiced (for good) or while its week is approved: it can no "
                                     "longer be corrected or deleted (409)")
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    category: str | None = None
    billable_source: str = Field(description="which level decided `billable`: entry, category, project or customer")
    billable_reason: str | None = None
    tags: list[str]
    started_at: datetime | None = None
    ended_at: datetime | None = None
    timer_id: uuid.UUID | None = Field(default=None, description="the timer it was stopped from")
    needs_confirmation: str | None = Field(default=None, description="why it needs a person's confirmation "
                                                                     "('over_limit'); null: it does not")
    approved_at: datetime | None = Field(default=None, description="its week's approval; null: not approved")
    invoice_id: uuid.UUID | None = None


class DeletedEntry(Resource):
    id: uuid.UUID
    deleted: bool


@API.route("/time-entries", "POST", permission="time:write", summary="Log time", tag="time",
           body=LogTime, status=201, location="/time-entries/{id}", response=TimeEntry)
def log_time(body: LogTime):
    scope = roles.time_member_scope(g.identity)
    if scope is not None and body.member_id is not None and str(body.member_id) != scope:
        raise Problem(403, "logging time for another member needs the 'time:others' permission",
                      [{"field": "member_id", "message": "must be your own member id"}])
    roles.check_customer_reference(g.identity, body.customer_id)
    # the caller (from the token) is who entered it; the entry is `member_id`'s, else the caller's
    return tenant_call("billing", "log_time", g.identity.member_id, payload(body))


@API.route("/time-entries", "GET", permission="time:read", summary="List time entries, newest first",
           tag="time", query=TimeEntryQuery, response=page_of(TimeEntry))
def list_time_entries(query: TimeEntryQuery):
    wanted = filters(query)
    visible = roles.visible_customer_ids(g.identity)
    if visible is not None:
        wanted["customer_ids"] = visible
    return tenant_call("billing", "list_time_entries", wanted, query.limit, query.cursor)


def _visible_entry(entry_id: str) -> dict:
    """The time entry, if this identity may see its customer (else it does not exist for it)."""
    entry = tenant_call("billing", "get_time_entry", entry_id)
    if not roles.may_see_customer(g.identity, entry["customer_id"]):
        raise Problem(404, f"time entry {entry_id} not found")
    return entry


@API.route("/time-entries/<uuid:entry_id>", "GET", permission="time:read", summary="Get a time entry",
           tag="time", response=TimeEntry)
def get_time_entry(entry_id: str):
    return _visible_entry(entry_id)


@API.route("/time-entries/<uuid:entry_id>", "PATCH", permission="time:write", tag="time", body=CorrectTime,
           summary="Correct a time entry (your own; anyone's with 'time:others'; never an invoiced one or one of an "
                   "approved week: 409)",
           response=TimeEntry, statuses=(409,))
def correct_time_entry(entry_id: str, body: CorrectTime):
    if roles.visible_customer_ids(g.identity) is not None:
        _visible_entry(entry_id)
        roles.check_customer_reference(g.identity, body.customer_id)
    return tenant_call("billing", "correct_time_entry", g.identity.member_id, entry_id, payload(body),
                       roles.time_member_scope(g.identity))


@API.route("/time-entries/<uuid:entry_id>", "DELETE", permission="time:write", tag="time",
           summary="Delete a time entry (your own; anyone's with 'time:others'; never an invoiced one: 409)",
           response=DeletedEntry, statuses=(409,))
def delete_time_entry(entry_id: str):
    if roles.visible_customer_ids(g.identity) is not None:
        _visible_entry(entry_id)
    return tenant_call("billing", "delete_time_entry", g.identity.member_id, entry_id,
                       roles.time_member_scope(g.identity))
