"""`/timers`: the stopwatch (billing service). A member starts timers for themselves on a customer
they may see (on a ticket, a task or a timeline activity of it); one runs per member by default
(starting another stops the first into its entry). They pause, resume, touch, stop (into a time
entry) or discard their own; a manager (`time:others`) any. A member sees their own timers and
those of the members they are named approver of; owners and admins everyone's.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from flask import g
from pydantic import Field

from gateway import roles
from gateway.api import API, Body, Paged, Resource, filters, page_of, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call


class StartTimer(Body):
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = Field(default=None, description="a ticket of this customer")
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = Field(default=None, description="a timeline activity (a call, a meeting)")
    category: Annotated[str, Field(min_length=1, max_length=100)] = None
    billable: bool = Field(default=None, description="the entry's own say (else the category, project or "
                                                     "customer default decides; none deciding is a 422)")
    billable_reason: Annotated[str, Field(max_length=2000)] = None
    note: Annotated[str, Field(max_length=10_000)] = None
    tags: Annotated[list[Annotated[str, Field(max_length=50)]], Field(max_length=20)] = None


class TimerQuery(Paged):
    member_id: uuid.UUID | None = None
    live: bool = Field(default=True, description="running or paused ones only (false: also stopped, discarded)")


class StopwatchTimer(Resource):
    id: uuid.UUID
    member_id: uuid.UUID
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None
    project_id: uuid.UUID | None
    task_id: uuid.UUID | None
    activity_id: uuid.UUID | None
    category: str | None
    state: str = Field(description="running, paused, stopped or discarded")
    started_at: datetime
    elapsed_seconds: int = Field(description="time run so far, pauses excluded")
    stop_reason: str | None = Field(description="stopped, replaced (another was started), idle, discarded")
    entry_id: uuid.UUID | None = Field(description="the time entry its stop made")
    over_limit: bool = Field(description="it ran past the tenant's limit: its entry needs a confirmation")


def _viewer() -> str | None:
    return roles.time_member_scope(g.identity)


@API.route("/timers", "POST", permission="time:write", summary="Start a timer (stops your running one)",
           tag="timers", body=StartTimer, status=201, location="/timers/{id}", response=StopwatchTimer)
def start_timer(body: StartTimer):
    roles.check_customer_reference(g.identity, body.customer_id)
    return tenant_call("billing", "start_timer", g.identity.member_id, payload(body))


@API.route("/timers", "GET", permission="time:write", summary="Timers (yours, and those you may see)",
           tag="timers", query=TimerQuery, response=page_of(StopwatchTimer))
def list_timers(query: TimerQuery):
    page = tenant_call("billing", "list_timers", filters(query), query.limit, query.cursor, _viewer())
    if roles.visible_customer_ids(g.identity) is not None:  # a scoped approver: customers they see only
        page = {**page, "items": [t for t in page["items"] if roles.may_see_customer(g.identity, t["customer_id"])],
                "total": None}
    return page


@API.route("/timers/<uuid:timer_id>", "GET", permission="time:write", summary="Get a timer", tag="timers",
           response=StopwatchTimer)
def get_timer(timer_id: str):
    timer = tenant_call("billing", "get_timer", timer_id, _viewer())
    if not roles.may_see_customer(g.identity, timer["customer_id"]):
        raise Problem(404, f"timer {timer_id} not found")
    return timer


def _act(method: str, timer_id: str):
    return tenant_call("billing", method, g.identity.member_id, timer_id, roles.time_member_scope(g.identity))


@API.route("/timers/<uuid:timer_id>/pause", "POST", permission="time:write", summary="Pause a running timer",
           tag="timers", response=StopwatchTimer, statuses=(409,))
def pause_timer(timer_id: str):
    return _act("pause_timer", timer_id)


@API.route("/timers/<uuid:timer_id>/resume", "POST", permission="time:write", summary="Resume a paused timer",
           tag="timers", response=StopwatchTimer, statuses=(409,))
def resume_timer(timer_id: str):
    return _act("resume_timer", timer_id)


@API.route("/timers/<uuid:timer_id>/touch", "POST", permission="time:write", tag="timers", response=StopwatchTimer,
           summary="Tell a timer you are still at it (its idle-stop clock starts again)", statuses=(409,))
def touch_timer(timer_id: str):
    return _act("touch_timer", timer_id)


@API.route("/timers/<uuid:timer_id>/stop", "POST", permission="time:write", tag="timers", response=StopwatchTimer,
           summary="Stop a timer: it becomes a time entry (marked for confirmation past the tenant's limit)",
           statuses=(409,))
def stop_timer(timer_id: str):
    return _act("stop_timer", timer_id)


@API.route("/timers/<uuid:timer_id>", "DELETE", permission="time:write", tag="timers", response=StopwatchTimer,
           summary="Discard a timer (no time entry)", statuses=(409,))
def discard_timer(timer_id: str):
    return _act("discard_timer", timer_id)
