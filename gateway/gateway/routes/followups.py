"""`/followups` and `/customers/{id}/followups`: promises made to customers (timeline service).

Members, contractors and read-only users see and touch the follow-ups of the customers they work on
(`roles.visible_customer_ids`); any other follow-up does not exist for them (404), as another
tenant's. A follow-up is assigned to the caller unless the body names another member.
`GET /followups?grouped=true` is the caller's (or `assignee_id`'s) open follow-ups grouped overdue /
due today / upcoming in that member's timezone; otherwise a page of follow-ups, soonest due first.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Literal

from flask import g
from pydantic import Field

from custops.contracts.timeline import FollowupPreset, FollowupSubjectType
from custops.validation import Instant
from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, filters, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call

Note = Field(min_length=1, max_length=2000)
Status = Literal["open", "completed", "cancelled"]
Group = Literal["overdue", "due_today", "upcoming"]
ANALYTICS_DEFAULT_RANGE = timedelta(days=30)


class CreateFollowup(Body):
    assignee_id: uuid.UUID = Field(default=None, description="the member who keeps the promise (default: you)")
    due_at: Instant = Field(description="when it should be done; not in the past")
    note: str = Note
    subject_type: FollowupSubjectType | None = Field(
        default=None, description="what it follows up: an activity of the customer's timeline or a ticket")
    subject_id: uuid.UUID | None = None
    overdue_after_minutes: int = Field(default=None, ge=0, le=10080,
                                       description="grace after `due_at` before it is overdue (default 60)")


class UpdateFollowup(Body):
    note: str = Note


class Postpone(Body):
    """Exactly one of `preset` (counted from today in the assignee's timezone, at the same local time
    of day; `next_business_day` in the tenant's business calendar) and `until`."""

    preset: FollowupPreset = None
    until: Instant = None
    reason: str = Field(default=None, max_length=500)


class Complete(Body):
    resolution: str = Note


class Reassign(Body):
    assignee_id: uuid.UUID


class Cancel(Body):
    reason: str = Field(default=None, max_length=500)


class FollowupQuery(Paged):
    grouped: bool = Field(default=False, description="the open follow-ups of one member (`assignee_id`, default "
                                                     "you) grouped overdue / due today / upcoming in their timezone")
    mine: bool = Field(default=False, description="only yours (the same as assignee_id=<your id>)")
    assignee_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    status: list[Status] | None = Field(default=None, max_length=3, description="repeat for several")
    subject_type: FollowupSubjectType | None = None
    subject_id: uuid.UUID | None = None
    due_from: Instant | None = Field(default=None, description="due at or after")
    due_to: Instant | None = Field(default=None, description="due before")


class AnalyticsQuery(Query):
    due_from: Instant = Field(default=None, description="the follow-ups due at or after this instant "
                                                        "(default: 30 days before `due_to`)...")
    due_to: Instant = Field(default=None, description="...and before this one (default: now)")
    assignee_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


class Postponement(Resource):
    previous_due_at: datetime
    due_at: datetime
    preset: FollowupPreset | None
    reason: str | None
    postponed_by: uuid.UUID | None
    postponed_at: datetime


class Followup(Resource):
    id: uuid.UUID
    customer_id: uuid.UUID
    subject_type: FollowupSubjectType | None
    subject_id: uuid.UUID | None
    assignee_id: uuid.UUID
    created_by: uuid.UUID | None
    note: str
    due_at: datetime
    overdue_after_minutes: int
    overdue_at: datetime = Field(description="`due_at` + the grace: `followup.overdue` is raised then if still open")
    status: Status
    postponements: int
    due_raised_at: datetime | None = Field(description="when `followup.due` was raised for the current due time")
    overdue_raised_at: datetime | None
    resolution: str | None
    completed_at: datetime | None
    completed_by: uuid.UUID | None
    cancel_reason: str | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class FollowupDetail(Followup):
    postponement_history: list[Postponement] = Field(description="every postponement, oldest first")


class ListedFollowup(Followup):
    group: Group | None = Field(description="in a grouped list: its group; otherwise null")


class FollowupList(Resource):
    """A page of follow-ups; grouped (`grouped=true`): every open follow-up of the member, the groups
    in the order overdue, due today, upcoming (at most 500 each), with the counts and the timezone."""

    items: list[ListedFollowup]
    next_cursor: str | None
    total: int | None
    groups: dict[Group, int] | None = Field(description="grouped: how many follow-ups each group holds")
    timezone: str | None = Field(description="grouped: the member's timezone the groups were made in")


class Figures(Resource):
    total: int
    completed: int
    on_time: int
    open: int
    overdue_count: int
    postponements: int
    completion_rate: float | None
    on_time_rate: float | None = Field(description="completed before overdue / completed")
    average_postponements: float | None


class MemberFigures(Figures):
    member_id: uuid.UUID


class CustomerFigures(Figures):
    customer_id: uuid.UUID


class Analytics(Resource):
    due_from: datetime
    due_to: datetime
    overall: Figures
    by_member: list[MemberFigures]
    by_customer: list[CustomerFigures]


def _scoped(wanted: dict) -> dict:
    visible = roles.visible_customer_ids(g.identity)
    if visible is not None:
        wanted["customer_ids"] = visible
    return wanted


def _visible(followup_id: str) -> dict:
    """The follow-up, if this identity may see its customer (else it does not exist for it)."""
    followup = tenant_call("timeline", "get_followup", followup_id)
    if not roles.may_see_customer(g.identity, followup["customer_id"]):
        raise Problem(404, f"follow-up {followup_id} not found")
    return followup


@API.route("/customers/<uuid:customer_id>/followups", "POST", permission="followups:write", tag="followups",
           summary="Promise a follow-up on a customer (standalone, or on an activity or a ticket of theirs)",
           body=CreateFollowup, status=201, location="/followups/{id}", response=Followup)
def create_followup(customer_id: str, body: CreateFollowup):
    roles.check_customer(g.identity, customer_id)
    wanted = payload(body)
    wanted.setdefault("assignee_id", g.identity.member_id)
    return tenant_call("timeline", "create_followup", customer_id, wanted)


@API.route("/followups", "GET", permission="followups:read", tag="followups",
           summary="Follow-ups, soonest due first (filters), or a member's open ones grouped (grouped=true)",
           query=FollowupQuery, response=FollowupList)
def list_followups(query: FollowupQuery):
    wanted = filters(query)
    grouped, mine = wanted.pop("grouped", False), wanted.pop("mine", False)
    if mine or (grouped and not query.assignee_id):
        wanted["assignee_id"] = g.identity.member_id
    _scoped(wanted)
    if not grouped:
        page = tenant_call("timeline", "list_followups", wanted, query.limit, query.cursor)
        return {**page, "items": [{**f, "group": None} for f in page["items"]], "groups": None, "timezone": None}
    if wanted.get("assignee_id") is None:
        raise Problem(422, "a grouped list is a member's", [{"field": "assignee_id", "message": "name a member"}])
    doc = tenant_call("timeline", "member_followups", wanted["assignee_id"], wanted.get("customer_ids"))
    items = [{**f, "group": name} for name, group in doc["groups"].items() for f in group["items"]]
    if query.customer_id:
        items = [f for f in items if f["customer_id"] == str(query.customer_id)]
    return {"items": items, "next_cursor": None, "total": len(items),
            "groups": {name: group["count"] for name, group in doc["groups"].items()}, "timezone": doc["timezone"]}


@API.route("/followups/analytics", "GET", permission="followups:read", tag="followups",
           summary="Completion rate, on-time rate, overdue count and average postponements by member and customer",
           query=AnalyticsQuery, response=Analytics)
def followup_analytics(query: AnalyticsQuery):
    due_to = query.due_to or datetime.now(timezone.utc)
    wanted = {**query.model_dump(mode="json", exclude_none=True), "due_to": due_to.isoformat(),
              "due_from": (query.due_from or due_to - ANALYTICS_DEFAULT_RANGE).isoformat()}
    return tenant_call("timeline", "followup_analytics", _scoped(wanted))


@API.route("/followups/<uuid:followup_id>", "GET", permission="followups:read", tag="followups",
           summary="A follow-up and its postponements", response=FollowupDetail)
def get_followup(followup_id: str):
    return _visible(followup_id)


@API.route("/followups/<uuid:followup_id>", "PATCH", permission="followups:write", tag="followups",
           summary="Change a follow-up's note (its due time moves by postponing it)", body=UpdateFollowup,
           response=Followup, statuses=(409,))
def update_followup(followup_id: str, body: UpdateFollowup):
    _visible(followup_id)
    return tenant_call("timeline", "update_followup", followup_id, payload(body))


@API.route("/followups/<uuid:followup_id>/postpone", "POST", permission="followups:write", tag="followups",
           summary="Postpone an open follow-up by a preset or to a date (recorded)", body=Postpone,
           response=Followup, statuses=(409,))
def postpone_followup(followup_id: str, body: Postpone):
    _visible(followup_id)
    return tenant_call("timeline", "postpone_followup", followup_id, payload(body))


@API.route("/followups/<uuid:followup_id>/complete", "POST", permission="followups:write", tag="followups",
           summary="Complete an open follow-up with a resolution note", body=Complete, response=Followup,
           statuses=(409,))
def complete_followup(followup_id: str, body: Complete):
    _visible(followup_id)
    return tenant_call("timeline", "complete_followup", followup_id, payload(body))


@API.route("/followups/<uuid:followup_id>/reassign", "POST", permission="followups:write", tag="followups",
           summary="Give an open follow-up to another member", body=Reassign, response=Followup, statuses=(409,))
def reassign_followup(followup_id: str, body: Reassign):
    _visible(followup_id)
    return tenant_call("timeline", "reassign_followup", followup_id, payload(body))


@API.route("/followups/<uuid:followup_id>/cancel", "POST", permission="followups:write", tag="followups",
           summary="Cancel an open follow-up (it counts in no rate)", body=Cancel, response=Followup,
           statuses=(409,))
def cancel_followup(followup_id: str, body: Cancel):
    _visible(followup_id)
    return tenant_call("timeline", "cancel_followup", followup_id, payload(body))
