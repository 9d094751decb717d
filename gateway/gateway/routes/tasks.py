"""`/tasks/<id>` (customers service): one task of the work plan — read, change, move on the board
(column and position in one call; into done completes it, with who and when), delete. A task of a
customer outside one's scope, or one a portal user may not see, is a 404."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from flask import g
from pydantic import Field

from custops.contracts.customers import TaskCategory
from custops.validation import Date
from gateway import roles
from gateway.api import API, Body, Resource, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call

Status = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]
Estimate = Annotated[float, Field(ge=0, le=100_000, multiple_of=0.01)]


class ChecklistItem(Body):
    text: Annotated[str, Field(min_length=1, max_length=500)]
    done: bool = False


Checklist = Annotated[list[ChecklistItem], Field(max_length=100)]
DependsOn = Annotated[list[uuid.UUID], Field(max_length=50, description="finish-to-start: tasks of the same project "
                                                                         "this one waits for (no cycles)")]


class _TaskFields(Body):
    description: Annotated[str, Field(max_length=20_000)] = None
    assignee_id: uuid.UUID | None = None
    start_date: Date | None = None
    due_date: Date | None = None
    milestone: bool = None
    weight: Annotated[int, Field(ge=0, le=1000)] = Field(default=None, description="its share of the project's "
                                                                                  "progress (default 1)")
    estimate: Estimate | None = None
    estimate_unit: Literal["hour", "day"] | None = None
    checklist: Checklist = None
    portal_visible: bool = Field(default=None, description="shown to the customer's portal users when its "
                                                           "project is portal-shared")
    depends_on: DependsOn = None


class CreateTask(_TaskFields):
    title: Annotated[str, Field(min_length=1, max_length=300)]
    status: Status = Field(default=None, description="a board column's key (default: todo)")
    position: Annotated[int, Field(ge=0, le=100_000)] = Field(default=None, description="index in its column "
                                                                                       "(default: its end)")


class UpdateTask(_TaskFields):
    """Only the fields given change. The status changes by a move (`/tasks/{id}/move`)."""

    title: Annotated[str, Field(min_length=1, max_length=300)] = None


class MoveTask(Body):
    status: Status = Field(description="the column to move to (a board column's key)")
    position: Annotated[int, Field(ge=0, le=100_000)] = Field(default=None, description="index in that column "
                                                                                       "(default: its end)")


class ChecklistEntry(Resource):
    text: str
    done: bool


class Task(Resource):
    id: uuid.UUID
    project_id: uuid.UUID
    customer_id: uuid.UUID
    title: str
    description: str
    status: str = Field(description="its board column")
    category: TaskCategory = Field(description="what its column counts as: todo, in_progress, blocked, done")
    position: int
    assignee_id: uuid.UUID | None
    start_date: date | None
    due_date: date | None
    milestone: bool
    weight: int
    estimate: float | None
    estimate_unit: Literal["hour", "day"] | None
    checklist: list[ChecklistEntry]
    portal_visible: bool
    depends_on: list[uuid.UUID]
    step_key: str | None = Field(description="the onboarding template step it was planned from")
    late: bool = Field(description="past due and not done")
    completed_at: datetime | None
    completed_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class Deleted(Resource):
    id: uuid.UUID
    deleted: bool


def _portal_options() -> dict:
    return {"portal": True} if roles.customer_scope(g.identity) is not None else {}


def visible_task(task_id: str) -> dict:
    task = tenant_call("customers", "get_task", task_id, _portal_options())
    if not roles.may_see_customer(g.identity, task["customer_id"]):
        raise Problem(404, f"task {task_id} not found")
    return task


def check_visible_task(task_id: str) -> None:
    if roles.visible_customer_ids(g.identity) is not None:
        visible_task(task_id)


@API.route("/tasks/<uuid:task_id>", "GET", permission="projects:read", summary="Get a task", tag="tasks",
           response=Task)
def get_task(task_id: str):
    return visible_task(task_id)


@API.route("/tasks/<uuid:task_id>", "PATCH", permission="projects:write", summary="Change a task", tag="tasks",
           body=UpdateTask, response=Task)
def update_task(task_id: str, body: UpdateTask):
    check_visible_task(task_id)
    return tenant_call("customers", "update_task", task_id, payload(body))


@API.route("/tasks/<uuid:task_id>/move", "POST", permission="tasks:status", tag="tasks", body=MoveTask,
           response=Task, summary="Move a task to a column and position (into done: completed, with who and when)")
def move_task(task_id: str, body: MoveTask):
    check_visible_task(task_id)
    return tenant_call("customers", "move_task", task_id, payload(body))


@API.route("/tasks/<uuid:task_id>", "DELETE", permission="projects:write", summary="Delete a task", tag="tasks",
           response=Deleted)
def delete_task(task_id: str):
    check_visible_task(task_id)
    return tenant_call("customers", "delete_task", task_id)
