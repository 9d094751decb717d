"""`/projects` and a customer's projects (customers service): the work plan's projects and their three
views — Kanban (`/kanban`), Gantt (`/gantt`, with the critical path computed by the service) and the
Table (`/tasks`, sortable, filterable, paged; `/tasks.csv`). Members, contractors and read-only users
see the projects of the customers they work on; portal users see their own company's portal-shared
projects and, in them, only the portal-visible tasks (docs/access.md). Any other project is a 404."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from flask import Response, g, stream_with_context
from pydantic import Field

from custops.contracts.customers import TaskCategory
from custops.validation import MAX_INTEGER, Date
from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, filters, page_of, payload
from gateway.problems import Problem
from gateway.routes.audit import _csv_line
from gateway.routes.tasks import CreateTask, Task
from gateway.rpc import tenant_call

Status = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]
EXPORT_PAGE_ROWS = 1000
EXPORT_MAX_ROWS = 100_000


class CreateProject(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    status: Status = Field(default=None, description="one of the tenant's project statuses (`/work-settings`); "
                                                     "default: the first")
    start_date: Date | None = None
    target_date: Date | None = None
    portal_shared: bool = Field(default=None, description="shown in the customer's portal (its portal-visible "
                                                          "tasks only)")


class UpdateProject(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)] = None
    status: Status = None
    start_date: Date | None = None
    target_date: Date | None = None
    portal_shared: bool = None


class ProjectQuery(Paged):
    customer_id: uuid.UUID | None = None
    status: Status | None = None


class CustomerProjectQuery(Paged):
    status: Status | None = None


class Project(Resource):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    status: str
    start_date: date | None
    target_date: date | None
    template_id: uuid.UUID | None = Field(description="the onboarding template it was applied from")
    template_version: int | None
    business_days: bool = Field(description="its template's Day offsets count business days")
    portal_shared: bool
    progress: float | None = Field(description="done weight ÷ total weight of its tasks (null: no tasks)")
    task_count: int
    done_count: int
    late_count: int = Field(description="tasks past due and not done")
    late: bool
    created_at: datetime
    updated_at: datetime


class Deleted(Resource):
    id: uuid.UUID
    deleted: bool


class KanbanColumn(Resource):
    key: str
    name: str
    category: TaskCategory
    count: int
    tasks: list[Task] = Field(description="by position")


class Kanban(Resource):
    project: Project
    columns: list[KanbanColumn] = Field(description="the tenant's columns in board order")


class GanttTask(Resource):
    id: uuid.UUID
    title: str
    status: str
    category: TaskCategory
    start_date: date | None
    due_date: date | None
    milestone: bool
    depends_on: list[uuid.UUID] = Field(description="finish-to-start: the tasks it waits for")
    duration_days: int
    slack_days: int = Field(description="days it can slip without moving the finish")
    critical: bool = Field(description="on the critical path")
    late: bool
    assignee_id: uuid.UUID | None


class Gantt(Resource):
    project: Project
    tasks: list[GanttTask] = Field(description="by start date")
    critical_path: list[uuid.UUID] = Field(description="the chain of tasks with no slack, first to last")
    length_days: int
    start_date: date | None
    finish_date: date | None


class TaskTableQuery(Paged):
    status: Status | None = None
    category: TaskCategory | None = None
    assignee_id: uuid.UUID | None = None
    milestone: bool | None = None
    late: bool | None = Field(default=None, description="past due and not done (in the tenant's timezone)")
    due_before: Date | None = None
    due_after: Date | None = None
    q: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(default=None,
                                                                          description="in titles and descriptions")
    sort: Literal["position", "title", "status", "start_date", "due_date", "assignee_id", "weight", "created_at",
                  "updated_at"] = "position"
    order: Literal["asc", "desc"] = "asc"


class TaskExportQuery(Query):
    status: Status | None = None
    category: TaskCategory | None = None
    assignee_id: uuid.UUID | None = None
    milestone: bool | None = None
    late: bool | None = None
    sort: Literal["position", "title", "status", "start_date", "due_date", "assignee_id", "weight", "created_at",
                  "updated_at"] = "position"
    order: Literal["asc", "desc"] = "asc"


class UpgradePlan(Body):
    version: Annotated[int, Field(ge=1, le=MAX_INTEGER)] = Field(default=None,
                                                                 description="default: the template's current one")
    confirm: bool = Field(default=None, description="false (default): only the diff; true: apply it and re-plan")


class PlanUpgrade(Resource):
    project_id: uuid.UUID
    from_version: int
    to_version: int
    added: list[str] = Field(description="step keys that become new tasks")
    removed: list[str] = Field(description="step keys whose (not done) tasks are deleted")
    changed: list[dict[str, Any]] = Field(description="`{key, changes: {field: {before, after}}}` per changed step")
    kept_done: list[str] = Field(description="removed or changed steps whose task is done: left as it is")
    applied: bool
    moves: list[dict[str, Any]] = Field(description="tasks re-planned by the upgrade `{task_id, from, to}`")


class ColumnSetting(Body):
    key: Status
    name: Annotated[str, Field(min_length=1, max_length=100)]
    category: TaskCategory


class PutWorkSettings(Body):
    columns: Annotated[list[ColumnSetting], Field(min_length=4, max_length=30)] = Field(
        default=None, description="board columns in order; the todo, in_progress, blocked and done columns stay")
    project_statuses: Annotated[list[Status], Field(min_length=1, max_length=30)] = None


class BoardColumn(Resource):
    key: str
    name: str
    category: TaskCategory
    order: int


class WorkSettings(Resource):
    columns: list[BoardColumn]
    project_statuses: list[str]


def _portal_options() -> dict:
    return {"portal": True} if roles.customer_scope(g.identity) is not None else {}


def visible_project(project_id: str) -> dict:
    """The project, if this identity may see it (404 otherwise, as for another tenant's)."""
    project = tenant_call("customers", "get_project", project_id, _portal_options())
    if not roles.may_see_customer(g.identity, project["customer_id"]):
        raise Problem(404, f"project {project_id} not found")
    return project


def check_visible_project(project_id: str) -> None:
    """404 before reading or changing a project this identity may not see (a look-up only when scoped)."""
    if roles.visible_customer_ids(g.identity) is not None:
        visible_project(project_id)


# --- projects ---

@API.route("/customers/<uuid:customer_id>/projects", "POST", permission="projects:write", tag="projects",
           summary="Create a project for a customer", body=CreateProject, status=201, location="/projects/{id}",
           response=Project)
def create_project(customer_id: str, body: CreateProject):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "create_project", customer_id, payload(body))


@API.route("/customers/<uuid:customer_id>/projects", "GET", permission="projects:read", tag="projects",
           summary="A customer's projects, newest first", query=CustomerProjectQuery, response=page_of(Project))
def list_customer_projects(customer_id: str, query: CustomerProjectQuery):
    roles.check_customer(g.identity, customer_id)
    wanted = {**filters(query), **_portal_options()}
    return tenant_call("customers", "list_customer_projects", customer_id, wanted, query.limit, query.cursor)


@API.route("/projects", "GET", permission="projects:read", tag="projects", query=ProjectQuery,
           summary="Projects across the customers one sees, newest first", response=page_of(Project))
def list_projects(query: ProjectQuery):
    wanted = {**filters(query), **_portal_options()}
    visible = roles.visible_customer_ids(g.identity)
    if visible is not None:
        wanted["customer_ids"] = visible
    return tenant_call("customers", "list_projects", wanted, query.limit, query.cursor)


@API.route("/projects/<uuid:project_id>", "GET", permission="projects:read", summary="Get a project (with progress)",
           tag="projects", response=Project)
def get_project(project_id: str):
    return visible_project(project_id)


@API.route("/projects/<uuid:project_id>", "PATCH", permission="projects:write", summary="Change a project",
           tag="projects", body=UpdateProject, response=Project)
def update_project(project_id: str, body: UpdateProject):
    check_visible_project(project_id)
    return tenant_call("customers", "update_project", project_id, payload(body))


@API.route("/projects/<uuid:project_id>", "DELETE", permission="projects:write",
           summary="Delete a project and its tasks", tag="projects", response=Deleted)
def delete_project(project_id: str):
    check_visible_project(project_id)
    return tenant_call("customers", "delete_project", project_id)


# --- the three views ---

@API.route("/projects/<uuid:project_id>/kanban", "GET", permission="projects:read", tag="projects",
           summary="The Kanban view: columns in order with their tasks and counts", response=Kanban)
def project_kanban(project_id: str):
    check_visible_project(project_id)
    return tenant_call("customers", "project_kanban", project_id, _portal_options())


@API.route("/projects/<uuid:project_id>/gantt", "GET", permission="projects:read", tag="projects",
           summary="The Gantt view: dates, dependencies, milestones and the critical path", response=Gantt)
def project_gantt(project_id: str):
    check_visible_project(project_id)
    return tenant_call("customers", "project_gantt", project_id, _portal_options())


@API.route("/projects/<uuid:project_id>/tasks", "GET", permission="projects:read", tag="projects",
           summary="The Table view: a project's tasks sorted, filtered and paged", query=TaskTableQuery,
           response=page_of(Task))
def list_project_tasks(project_id: str, query: TaskTableQuery):
    check_visible_project(project_id)
    return tenant_call("customers", "list_tasks", project_id, {**filters(query), **_portal_options()}, query.limit,
                       query.cursor)


@API.route("/projects/<uuid:project_id>/tasks.csv", "GET", permission="projects:read", tag="projects",
           summary="The Table view as CSV", query=TaskExportQuery, produces="text/csv")
def export_project_tasks(project_id: str, query: TaskExportQuery):
    check_visible_project(project_id)
    chosen = {**filters(query), **_portal_options()}
    first = tenant_call("customers", "export_tasks", project_id, chosen, None, EXPORT_PAGE_ROWS)

    def lines():
        page, sent = first, 0
        yield _csv_line(page["columns"])
        while True:
            for row in page["rows"][:EXPORT_MAX_ROWS - sent]:
                yield _csv_line(row)
            sent += len(page["rows"])
            if page["next_cursor"] is None or sent >= EXPORT_MAX_ROWS:
                return
            page = tenant_call("customers", "export_tasks", project_id, chosen, page["next_cursor"], EXPORT_PAGE_ROWS)

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="project-{project_id}-tasks.csv"'})


@API.route("/projects/<uuid:project_id>/tasks", "POST", permission="projects:write", tag="projects",
           summary="Add a task to a project", body=CreateTask, status=201, location="/tasks/{id}", response=Task)
def create_task(project_id: str, body: CreateTask):
    check_visible_project(project_id)
    return tenant_call("customers", "create_task", project_id, payload(body))


@API.route("/projects/<uuid:project_id>/template-upgrade", "POST", permission="projects:write", tag="projects",
           summary="Upgrade an onboarding plan to another template version: the diff, applied only with confirm",
           body=UpgradePlan, response=PlanUpgrade)
def upgrade_plan(project_id: str, body: UpgradePlan):
    check_visible_project(project_id)
    return tenant_call("customers", "upgrade_plan", project_id, payload(body))


# --- the tenant's board columns and project statuses ---

@API.route("/work-settings", "GET", permission="tenant:read", tag="projects", response=WorkSettings,
           summary="The tenant's board columns (each with its status category) and project statuses")
def get_work_settings():
    return tenant_call("customers", "get_work_settings")


@API.route("/work-settings", "PUT", permission="tenant:write", tag="projects", body=PutWorkSettings,
           response=WorkSettings, statuses=(409,),
           summary="Set the board columns and project statuses (a column or status still in use stays)")
def put_work_settings(body: PutWorkSettings):
    return tenant_call("customers", "put_work_settings", payload(body))


# --- importing a tool's CSV export ---

class ImportBody(Body):
    csv: Annotated[str, Field(min_length=1, max_length=150_000)] = Field(
        description="the export's text (or send the file itself as `text/csv`); a bigger export: `custops import`, "
                    "which sends it in chunks")
    mapping: Annotated[dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=200)]],
                       Field(max_length=20)] = Field(default=None, description="`{field: column}` overriding "
                                                                               "the detected mapping")


class ImportQuery(Query):
    tool: Literal["monday", "clickup", "asana", "notion"] | None = Field(default=None, description="default: "
                                                                                                   "detected")
    dry_run: bool = Field(default=True, description="true (default): report what would be created, write nothing")


class ImportReport(Resource):
    tool: str
    delimiter: str
    mapping: dict[str, str] = Field(description="task field → the export's column")
    rows: int = Field(description="rows read from the file")
    dry_run: bool
    created: int
    would_create: list[dict[str, Any]] = Field(description="dry run: each row it would create")
    already_imported: int = Field(description="rows whose stable key the project holds: never doubled")
    errors: list[dict[str, Any]] = Field(description="`{line, key, message}` of every row it cannot take")
    warnings: list[dict[str, Any]]


@API.route("/projects/<uuid:project_id>/import", "POST", permission="projects:write", tag="projects",
           body=ImportBody, query=ImportQuery, response=ImportReport, text_bodies={"text/csv": "csv"},
           summary="Import a Monday, ClickUp, Asana or Notion CSV export (a dry run unless dry_run=false)")
def import_tasks(project_id: str, body: ImportBody, query: ImportQuery):
    check_visible_project(project_id)
    given = {**payload(body), "dry_run": query.dry_run, "offset": 0}
    if query.tool:
        given["tool"] = query.tool
    report = None
    while given["offset"] is not None:
        page = tenant_call("customers", "import_tasks", project_id, given)
        if report is None:
            report = {**page, "would_create": list(page.get("would_create") or []),
                      "warnings": list(page.get("warnings") or [])}
        else:
            for total in ("created", "already_imported"):
                report[total] = report.get(total, 0) + page.get(total, 0)
            report["would_create"] += page.get("would_create") or []
            report["warnings"] += page.get("warnings") or []
        given["offset"] = page.get("next_offset")
    for internal in ("offset", "next_offset"):
        report.pop(internal, None)
    return report


# --- the same import as a background job with progress ---

class ImportJobBody(Body):
    csv: Annotated[str, Field(min_length=1, max_length=150_000)] = Field(
        description="the export's text (or send the file itself as `text/csv`); bounded by the request body "
                    "limit: a bigger export, `custops import`")
    mapping: Annotated[dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=200)]],
                       Field(max_length=20)] = Field(default=None, description="`{field: column}` overriding "
                                                                               "the detected mapping")


class ImportJobQuery(Query):
    tool: Literal["monday", "clickup", "asana", "notion"] | None = Field(default=None, description="default: "
                                                                                                   "detected")


class ImportJob(Resource):
    id: uuid.UUID
    project_id: uuid.UUID
    status: Literal["queued", "running", "done", "failed"]
    tool: str | None
    mapping: dict[str, str] | None = Field(description="the mapping asked for (null: detected)")
    rows_total: int | None = Field(description="rows of the file that hold a task")
    rows_done: int = Field(description="of rows_total, handled so far (progress)")
    created: int = Field(description="tasks created")
    skipped: int = Field(description="rows already imported (their stable key is in the project): never doubled")
    errors: list[dict[str, Any]] = Field(description="`{line, key, message}` of every row it cannot take")
    warnings: list[dict[str, Any]] = Field(description="e.g. an assignee no member matches (the first 200)")
    failure: str | None = Field(description="why a failed job failed")
    attempts: int = Field(description="runs started (a job whose worker died is resumed, at most 3 times)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@API.route("/projects/<uuid:project_id>/import-jobs", "POST", permission="projects:write", tag="projects",
           body=ImportJobBody, query=ImportJobQuery, status=202, location="/import-jobs/{id}", response=ImportJob,
           text_bodies={"text/csv": "csv"},
           summary="Import a Monday, ClickUp, Asana or Notion CSV export in the background (a job with progress)")
def start_import_job(project_id: str, body: ImportJobBody, query: ImportJobQuery):
    check_visible_project(project_id)
    given = payload(body)
    if query.tool:
        given["tool"] = query.tool
    return tenant_call("customers", "start_import_job", project_id, given)


@API.route("/import-jobs/<uuid:import_job_id>", "GET", permission="projects:write", tag="projects", response=ImportJob,
           summary="An import job: its status and progress")
def get_import_job(import_job_id: str):
    job = tenant_call("customers", "get_import_job", import_job_id)
    if roles.visible_customer_ids(g.identity) is not None:
        try:
            visible_project(job["project_id"])
        except Problem:
            raise Problem(404, f"import job {import_job_id} not found") from None
    return job
