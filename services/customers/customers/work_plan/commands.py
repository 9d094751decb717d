"""Input shapes of the work plan (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from custops.validation import MAX_INTEGER, Date
from customers.work_plan import board, schedule

Key = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]
StepKey = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Title = Annotated[str, Field(min_length=1, max_length=300)]
MAX_TASKS_PER_PROJECT = 2000
MAX_STEPS = 500
MAX_DEPENDENCIES = 50


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ChecklistItem(_Input):
    text: Annotated[str, Field(min_length=1, max_length=500)]
    done: bool = False


Checklist = Annotated[list[ChecklistItem], Field(max_length=100)]


class ColumnInput(_Input):
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=100)]
    category: board.Category


class PutWorkSettings(_Input):
    """Board columns in board order (the four category columns must stay) and project statuses."""

    columns: Annotated[list[ColumnInput], Field(min_length=4, max_length=30)] = None
    project_statuses: Annotated[list[Key], Field(min_length=1, max_length=30)] = None

    @field_validator("project_statuses")
    @classmethod
    def _distinct(cls, v):
        if v is not None and len(set(v)) != len(v):
            raise ValueError("statuses must be distinct")
        return v


class CreateProject(_Input):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    status: Key = None  # default: the tenant's first status
    start_date: Date | None = None
    target_date: Date | None = None
    portal_shared: bool = False

    @model_validator(mode="after")
    def _order(self):
        if self.start_date and self.target_date and self.target_date < self.start_date:
            raise ValueError("target_date must not lie before start_date")
        return self


class UpdateProject(_Input):
    name: Annotated[str, Field(min_length=1, max_length=200)] = None
    status: Key = None
    start_date: Date | None = None
    target_date: Date | None = None
    portal_shared: bool = None

    def changes(self) -> dict:
        return {f: getattr(self, f) for f in self.model_fields_set}


class _TaskFields(_Input):
    description: Annotated[str, Field(max_length=20_000)] = None
    assignee_id: uuid.UUID | None = None
    start_date: Date | None = None
    due_date: Date | None = None
    milestone: bool = None
    weight: Annotated[int, Field(ge=0, le=1000)] = None
    estimate: Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=2)] | None = None
    estimate_unit: Literal["hour", "day"] | None = None
    checklist: Checklist = None
    portal_visible: bool = None
    depends_on: Annotated[list[uuid.UUID], Field(max_length=MAX_DEPENDENCIES)] = None

    @model_validator(mode="after")
    def _dates_and_estimate(self):
        if self.start_date and self.due_date and self.due_date < self.start_date:
            raise ValueError("due_date must not lie before start_date")
        if self.estimate is not None and self.estimate_unit is None and "estimate_unit" not in self.model_fields_set:
            self.estimate_unit = "hour"
        return self

    def changes(self) -> dict:
        return {f: getattr(self, f) for f in self.model_fields_set}


class CreateTask(_TaskFields):
    title: Title
    status: Key = "todo"
    position: Annotated[int, Field(ge=0)] = None  # default: the end of its column


class UpdateTask(_TaskFields):
    title: Title = None


class MoveTask(_Input):
    status: Key = Field(description="the column to move to (its key)")
    position: Annotated[int, Field(ge=0, le=100_000)] = Field(default=None, description="index in that column "
                                                                                         "(default: its end)")


TableSort = Literal["position", "title", "status", "start_date", "due_date", "assignee_id", "weight",
                    "created_at", "updated_at"]


class TaskFilters(_Input):
    status: Key | None = None
    category: board.Category | None = None
    assignee_id: uuid.UUID | None = None
    milestone: bool | None = None
    late: bool | None = None
    due_before: Date | None = None
    due_after: Date | None = None
    q: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    sort: TableSort = "position"
    order: Literal["asc", "desc"] = "asc"
    portal: bool = False  # only portal-visible tasks (what a portal user sees)


class ProjectFilters(_Input):
    customer_id: uuid.UUID | None = None
    customer_ids: Annotated[list[uuid.UUID], Field(max_length=10_000)] | None = None
    status: Key | None = None
    portal: bool = False  # only portal-shared projects


# --- onboarding templates ---

OwnerRole = Literal["owner", "account_team"]


class TemplateStep(_Input):
    key: StepKey
    title: Title
    description: Annotated[str, Field(max_length=20_000)] = ""
    day: Annotated[int, Field(ge=-schedule.MAX_OFFSET, le=schedule.MAX_OFFSET)] = Field(
        description="Day offset from the customer's start date (Day 0)")
    duration: Annotated[int, Field(ge=1, le=schedule.MAX_DURATION)] = 1
    depends_on: Annotated[list[StepKey], Field(max_length=MAX_DEPENDENCIES)] = []
    milestone: bool = False
    first_value: bool = Field(default=False, description="the milestone that marks the customer's first value")
    owner_role: OwnerRole | None = None
    estimate: Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=2)] | None = None
    estimate_unit: Literal["hour", "day"] = "hour"
    weight: Annotated[int, Field(ge=0, le=1000)] = 1
    portal_visible: bool = False
    checklist: Checklist = []
    forms: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=20)] = []


class SaveTemplate(_Input):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    business_days: bool = False
    steps: Annotated[list[TemplateStep], Field(min_length=1, max_length=MAX_STEPS)]

    @model_validator(mode="after")
    def _steps_form_a_plan(self):
        keys = [s.key for s in self.steps]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError("step keys must be distinct: " + ", ".join(twice))
        known = set(keys)
        for s in self.steps:
            unknown = [d for d in s.depends_on if d not in known]
            if unknown:
                raise ValueError(f"step {s.key} depends on unknown steps: {', '.join(unknown)}")
        from customers.work_plan import graph

        cycle = graph.find_cycle({s.key: s.depends_on for s in self.steps})
        if cycle:
            raise ValueError("step dependencies form a cycle: " + " -> ".join(cycle))
        return self


class ApplyTemplate(_Input):
    template_id: uuid.UUID
    version: Annotated[int, Field(ge=1, le=MAX_INTEGER)] = None  # default: its current version
    start_date: Date = None  # default: the customer's start date (then required there)
    name: Annotated[str, Field(min_length=1, max_length=200)] = None
    portal_shared: bool = False
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] = None


class UpgradePlan(_Input):
    version: Annotated[int, Field(ge=1, le=MAX_INTEGER)] = None  # default: the template's current version
    confirm: bool = False  # False: only show the diff


class ImportTasks(_Input):
    """A tool's CSV export as text (`work_plan.imports`), its rows `offset..offset+limit` taken."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    csv: Annotated[str, Field(min_length=1, max_length=20 * 1024 * 1024)]
    tool: Literal["monday", "clickup", "asana", "notion"] | None = None
    mapping: Annotated[dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=200)]],
                       Field(max_length=20)] | None = None
    dry_run: bool = True
    offset: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=2000)] = 2000
