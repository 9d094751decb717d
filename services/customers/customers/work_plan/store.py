"""Reads and writes of projects and tasks inside the caller's session, and the three views of one
data model (Kanban, Gantt, Table). Every query is scoped by `tenant_id`; every change adds its event
to the outbox in the same transaction (and so is audited). A project's row lock serialises the
changes of its tasks (positions, dependencies), so concurrent moves never interleave.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql as psycopg_sql
from psycopg.types.json import Jsonb
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from custops import caller, outbox
from custops.contracts.customers import (ProjectCreated, ProjectDeleted, ProjectUpdated, TaskCompleted, TaskCreated,
                                         TaskDeleted, TaskMoved, TaskReopened, TaskUpdated, WorkSettingsChanged)
from custops.errors import Conflict, InvalidInput, NotFound
from customers.access_store import load_member, require_tenant
from customers.models import customers, projects, task_dependencies, tasks, tenants, work_settings
from customers.work_plan import board, graph
from customers.work_plan.commands import (CreateProject, CreateTask, MoveTask, ProjectFilters, PutWorkSettings,
                                          TaskFilters, UpdateProject, UpdateTask)

TABLE_COLUMNS = ("id", "title", "status", "category", "assignee_id", "start_date", "due_date", "milestone",
                 "weight", "estimate", "estimate_unit", "late", "portal_visible", "depends_on", "position",
                 "completed_at")


def now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _str(value) -> str | None:
    return str(value) if value is not None else None


def _json(value):
    """A value as events and answers carry it."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def actor_member_id() -> uuid.UUID | None:
    actor = caller.current_actor()
    return actor.id if actor.type == "member" else None


def tenant_today(session: Session, tenant_id) -> date:
    zone = session.execute(select(tenants.c.timezone).where(tenants.c.id == tenant_id)).scalar() or "UTC"
    try:
        return datetime.now(ZoneInfo(zone)).date()
    except (KeyError, ValueError):
        return datetime.now(timezone.utc).date()


# --- settings: board columns and project statuses ---

def settings(session: Session, tenant_id) -> tuple[list[board.Column], list[str]]:
    row = session.execute(select(work_settings).where(work_settings.c.tenant_id == tenant_id)).mappings().first()
    columns = board.columns_of(row["columns"] if row else None)
    stored = row["project_statuses"] if row else None
    statuses = list(stored) if stored else list(board.DEFAULT_PROJECT_STATUSES)
    return columns, statuses


def settings_shape(columns, statuses) -> dict:
    return {"columns": [{"key": c.key, "name": c.name, "category": c.category, "order": c.order} for c in columns],
            "project_statuses": statuses}


def put_settings(session: Session, tenant_id, cmd: PutWorkSettings) -> dict:
    require_tenant(session, tenant_id)
    session.execute(select(tenants.c.id).where(tenants.c.id == tenant_id).with_for_update())
    columns, statuses = settings(session, tenant_id)
    if cmd.columns is not None:
        wanted = [board.Column(c.key, c.name, c.category, i) for i, c in enumerate(cmd.columns)]
        errors = board.check_columns(wanted)
        if errors:
            raise InvalidInput("invalid board columns", errors)
        removed = {c.key for c in columns} - {c.key for c in wanted}
        recategorised = {c.key for c in wanted for old in columns if old.key == c.key and old.category != c.category}
        busy = session.execute(select(tasks.c.status).where(
            tasks.c.tenant_id == tenant_id, tasks.c.status.in_(removed | recategorised)).distinct()).scalars().all()
        if busy:
            raise Conflict("columns still hold tasks: " + ", ".join(sorted(busy)),
                           [{"field": "columns", "message": f"column {k} still holds tasks: move them first"}
                            for k in sorted(busy)])
        columns = wanted
    if cmd.project_statuses is not None:
        removed = set(statuses) - set(cmd.project_statuses)
        busy = session.execute(select(projects.c.status).where(
            projects.c.tenant_id == tenant_id, projects.c.status.in_(removed)).distinct()).scalars().all()
        if busy:
            raise Conflict("project statuses still in use: " + ", ".join(sorted(busy)),
                           [{"field": "project_statuses", "message": f"status {s} is still in use"}
                            for s in sorted(busy)])
        statuses = list(cmd.project_statuses)
    doc = settings_shape(columns, statuses)
    values = {"columns": doc["columns"], "project_statuses": statuses, "updated_at": now()}
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    session.execute(pg_insert(work_settings).values(tenant_id=tenant_id, **values)
                    .on_conflict_do_update(index_elements=[work_settings.c.tenant_id], set_=values))
    outbox.add(session, tenant_id, WorkSettingsChanged(columns=doc["columns"], project_statuses=statuses))
    return doc


# --- shapes ---

def project_shape(row, stats: dict | None = None) -> dict:
    stats = stats or {}
    return {"id": str(row["id"]), "customer_id": str(row["customer_id"]), "name": row["name"],
            "status": row["status"], "start_date": _iso(row["start_date"]), "target_date": _iso(row["target_date"]),
            "template_id": _str(row["template_id"]), "template_version": row["template_version"],
            "business_days": row["business_days"], "portal_shared": row["portal_shared"],
            "progress": stats.get("progress"), "task_count": stats.get("task_count", 0),
            "done_count": stats.get("done_count", 0), "late_count": stats.get("late_count", 0),
            "late": stats.get("late_count", 0) > 0,
            "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"])}


def task_shape(row, depends_on: list, today: date) -> dict:
    done = row["category"] == "done"
    return {"id": str(row["id"]), "project_id": str(row["project_id"]), "customer_id": str(row["customer_id"]),
            "title": row["title"], "description": row["description"], "status": row["status"],
            "category": row["category"], "position": row["position"], "assignee_id": _str(row["assignee_id"]),
            "start_date": _iso(row["start_date"]), "due_date": _iso(row["due_date"]), "milestone": row["milestone"],
            "weight": row["weight"], "estimate": _json(row["estimate"]), "estimate_unit": row["estimate_unit"],
            "checklist": list(row["checklist"] or []), "portal_visible": row["portal_visible"],
            "depends_on": sorted(str(d) for d in depends_on), "step_key": row["step_key"],
            "late": board.is_late(row["due_date"], done, today),
            "completed_at": _iso(row["completed_at"]), "completed_by": _str(row["completed_by"]),
            "created_at": _iso(row["created_at"]), "updated_at": _iso(row["updated_at"])}


def dependencies_of(session: Session, task_ids: list) -> dict:
    found: dict = {t: [] for t in task_ids}
    if task_ids:
        for task_id, dep in session.execute(select(task_dependencies.c.task_id, task_dependencies.c.depends_on_id)
                                            .where(task_dependencies.c.task_id.in_(task_ids))):
            found[task_id].append(dep)
    return found


def project_stats(session: Session, tenant_id, project_ids: list, today: date) -> dict:
    found = {p: {"progress": None, "task_count": 0, "done_count": 0, "late_count": 0} for p in project_ids}
    if not project_ids:
        return found
    rows = session.execute(select(tasks.c.project_id, tasks.c.weight, tasks.c.category, tasks.c.due_date).where(
        tasks.c.tenant_id == tenant_id, tasks.c.project_id.in_(project_ids))).all()
    weights: dict = {p: [] for p in project_ids}
    for project_id, weight, category, due in rows:
        done = category == "done"
        weights[project_id].append((weight, done))
        stats = found[project_id]
        stats["task_count"] += 1
        stats["done_count"] += done
        stats["late_count"] += board.is_late(due, done, today)
    for p in project_ids:
        found[p]["progress"] = board.progress(weights[p])
    return found


# --- projects ---

def load_project(session: Session, tenant_id, project_id, for_update=False, portal=False) -> dict:
    stmt = select(projects).where(projects.c.tenant_id == tenant_id, projects.c.id == project_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None or (portal and not row["portal_shared"]):
        raise NotFound(f"project {project_id} not found")
    return dict(row)


def _check_status(session, tenant_id, status: str) -> None:
    _, statuses = settings(session, tenant_id)
    if status not in statuses:
        raise InvalidInput("unknown project status", [{"field": "status", "message": "must be one of "
                                                       + ", ".join(statuses)}])


def _customer(session, tenant_id, customer_id, missing=None) -> dict:
    row = session.execute(select(customers).where(customers.c.tenant_id == tenant_id,
                                                  customers.c.id == customer_id)).mappings().first()
    if row is None:
        raise missing or NotFound(f"customer {customer_id} not found")
    return dict(row)


def insert_project(session: Session, tenant_id, customer_id, *, name, status, start_date=None, target_date=None,
                   portal_shared=False, template_id=None, template_version=None, business_days=False,
                   idempotency_key=None) -> dict:
    created = now()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "customer_id": customer_id, "name": name, "status": status,
           "start_date": start_date, "target_date": target_date, "template_id": template_id,
           "template_version": template_version, "business_days": business_days, "portal_shared": portal_shared,
           "idempotency_key": idempotency_key, "created_at": created, "updated_at": created}
    session.execute(insert(projects).values(**row))
    outbox.add(session, tenant_id, ProjectCreated(
        project_id=row["id"], customer_id=customer_id, name=name, status=status, start_date=_iso(start_date),
        target_date=_iso(target_date), template_id=template_id, template_version=template_version,
        portal_shared=portal_shared))
    return row


def create_project(session: Session, tenant_id, customer_id, cmd: CreateProject) -> dict:
    require_tenant(session, tenant_id)
    _customer(session, tenant_id, customer_id)
    _, statuses = settings(session, tenant_id)
    status = cmd.status or statuses[0]
    _check_status(session, tenant_id, status)
    row = insert_project(session, tenant_id, customer_id, name=cmd.name, status=status, start_date=cmd.start_date,
                         target_date=cmd.target_date, portal_shared=cmd.portal_shared)
    return project_shape(row, {"progress": None})


def get_project(session: Session, tenant_id, project_id, portal=False) -> dict:
    row = load_project(session, tenant_id, project_id, portal=portal)
    today = tenant_today(session, tenant_id)
    return project_shape(row, project_stats(session, tenant_id, [row["id"]], today)[row["id"]])


def list_projects(session: Session, tenant_id, f: ProjectFilters, limit: int, cursor) -> dict:
    from custops import pagination

    stmt = select(projects).where(projects.c.tenant_id == tenant_id)
    if f.customer_id:
        stmt = stmt.where(projects.c.customer_id == f.customer_id)
    if f.customer_ids is not None:
        stmt = stmt.where(projects.c.customer_id.in_(f.customer_ids))
    if f.status:
        stmt = stmt.where(projects.c.status == f.status)
    if f.portal:
        stmt = stmt.where(projects.c.portal_shared.is_(True))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(pagination.page(stmt, projects.c.created_at, projects.c.id, cursor, limit)).mappings().all()
    today = tenant_today(session, tenant_id)
    stats = project_stats(session, tenant_id, [r["id"] for r in rows[:limit]], today)
    page = pagination.result(rows, limit, "created_at", lambda r: project_shape(r, stats[r["id"]]))
    return {**page, "total": total}


def update_project(session: Session, tenant_id, project_id, cmd: UpdateProject) -> dict:
    row = load_project(session, tenant_id, project_id, for_update=True)
    changes = {k: v for k, v in cmd.changes().items() if row[k] != v}
    if any(v is None for k, v in changes.items() if k in ("name", "status", "portal_shared")):
        raise InvalidInput("invalid project", [{"field": k, "message": "must not be null"}
                                               for k, v in changes.items() if v is None and k != "start_date"
                                               and k != "target_date"])
    if "status" in changes:
        _check_status(session, tenant_id, changes["status"])
    start, target = changes.get("start_date", row["start_date"]), changes.get("target_date", row["target_date"])
    if start and target and target < start:
        raise InvalidInput("invalid project dates", [{"field": "target_date",
                                                      "message": "must not lie before start_date"}])
    if changes:
        previous = {k: _json(row[k]) for k in changes}
        row.update(changes, updated_at=now())
        session.execute(update(projects).where(projects.c.id == project_id).values(**changes,
                                                                                   updated_at=row["updated_at"]))
        outbox.add(session, tenant_id, ProjectUpdated(project_id=project_id, customer_id=row["customer_id"],
                                                      changes={k: _json(v) for k, v in changes.items()},
                                                      previous=previous))
    today = tenant_today(session, tenant_id)
    return project_shape(row, project_stats(session, tenant_id, [row["id"]], today)[row["id"]])


def delete_project(session: Session, tenant_id, project_id) -> dict:
    row = load_project(session, tenant_id, project_id, for_update=True)
    task_ids = session.execute(select(tasks.c.id).where(tasks.c.project_id == project_id)).scalars().all()
    session.execute(delete(tasks).where(tasks.c.project_id == project_id))
    session.execute(delete(projects).where(projects.c.id == project_id))
    outbox.add(session, tenant_id, ProjectDeleted(project_id=project_id, customer_id=row["customer_id"],
                                                  name=row["name"], task_ids=task_ids))
    return {"id": str(project_id), "deleted": True}


# --- tasks ---

def load_task(session: Session, tenant_id, task_id, for_update=False, portal=False) -> dict:
    stmt = select(tasks).where(tasks.c.tenant_id == tenant_id, tasks.c.id == task_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"task {task_id} not found")
    if portal:
        shared = session.execute(select(projects.c.portal_shared).where(projects.c.id == row["project_id"])).scalar()
        if not (shared and row["portal_visible"]):
            raise NotFound(f"task {task_id} not found")
    return dict(row)


def _check_assignee(session, tenant_id, assignee_id) -> None:
    if assignee_id is None:
        return
    unknown = InvalidInput("unknown assignee", [{"field": "assignee_id", "message": "no such member in this tenant"}])
    member = load_member(session, tenant_id, assignee_id, missing=unknown)
    if member["role"] == "portal" or member.get("deactivated_at") is not None:
        raise InvalidInput("invalid assignee", [{"field": "assignee_id",
                                                 "message": "must be an active team member"}])


def _project_graph(session, project_id) -> dict:
    ids = session.execute(select(tasks.c.id).where(tasks.c.project_id == project_id)).scalars().all()
    return {t: list(d) for t, d in dependencies_of(session, list(ids)).items()}


def _check_dependencies(session, project_id, task_id, depends_on: list) -> None:
    """Dependencies must be other tasks of the same project and form no cycle (CPM needs a DAG)."""
    depends_on = list(dict.fromkeys(depends_on))
    project_graph = _project_graph(session, project_id)
    unknown = [d for d in depends_on if d not in project_graph or d == task_id]
    if unknown:
        raise InvalidInput("invalid dependencies", [{"field": "depends_on", "message":
                                                     f"{d} is not another task of this project"} for d in unknown])
    project_graph[task_id] = depends_on
    cycle = graph.find_cycle(project_graph)
    if cycle:
        raise InvalidInput("dependencies would form a cycle", [{
            "field": "depends_on", "message": "cycle: " + " -> ".join(str(c) for c in cycle)}])


def _column(session, tenant_id, status) -> board.Column:
    columns, _ = settings(session, tenant_id)
    for c in columns:
        if c.key == status:
            return c
    raise InvalidInput("unknown status", [{"field": "status", "message": "must be a board column: "
                                           + ", ".join(c.key for c in columns)}])


def _column_ids(session, project_id, status) -> list:
    return list(session.execute(select(tasks.c.id).where(tasks.c.project_id == project_id, tasks.c.status == status)
                                .order_by(tasks.c.position, tasks.c.created_at, tasks.c.id)).scalars())


def insert_task(session: Session, tenant_id, project: dict, **fields) -> dict:
    """Insert one task (no checks: callers check) and tell `task.created` (`insert_tasks`)."""
    if fields.get("position") is None:
        fields["position"] = session.execute(select(func.count()).where(
            tasks.c.project_id == project["id"], tasks.c.status == fields.get("status", "todo"))).scalar_one()
    return insert_tasks(session, tenant_id, project, [fields])[0]


# From this many rows a COPY writes them (an import's chunk); fewer (a template's plan) are one INSERT.
COPY_AT_LEAST = 200


def copy_rows(session: Session, table, rows: list[dict]) -> None:
    """Write `rows` (dicts with the same keys) into `table` by COPY on the session's own connection,
    in its transaction. A multi-row INSERT of a 1,000-row chunk spent most of its client time having
    psycopg split and bind a statement of ~29,000 parameters; COPY streams the rows instead. A unique
    index refusing a row is an IntegrityError, as from an INSERT (a concurrent import's Conflict)."""
    columns = list(rows[0])
    jsonb = {c for c in columns if isinstance(table.c[c].type, JSONB)}
    statement = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
        psycopg_sql.Identifier(table.name), psycopg_sql.SQL(", ").join(map(psycopg_sql.Identifier, columns)))
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([Jsonb(row[c]) if c in jsonb and row[c] is not None else row[c] for c in columns])
    except psycopg.IntegrityError as exc:
        raise IntegrityError(str(statement), None, exc) from None


def insert_tasks(session: Session, tenant_id, project: dict, specs: list[dict]) -> list[dict]:
    """Insert tasks (no checks: callers check) in one statement, their dependencies in another, and
    tell `task.created` for each. A spec holds a task's fields (`title` required, `position` given;
    `depends_on`: ids of tasks inserted before it or in this call; `task_id` to choose its id)."""
    created = now()
    rows, dependencies = [], []
    for spec in specs:
        category = spec.get("category", "todo")
        estimate = spec.get("estimate")
        row = {"id": spec.get("task_id") or uuid.uuid4(), "tenant_id": tenant_id, "project_id": project["id"],
               "customer_id": project["customer_id"], "title": spec["title"],
               "description": spec.get("description") or "", "status": spec.get("status", "todo"),
               "category": category, "position": spec["position"], "assignee_id": spec.get("assignee_id"),
               "start_date": spec.get("start_date"), "due_date": spec.get("due_date"),
               "milestone": bool(spec.get("milestone", False)), "weight": spec.get("weight", 1),
               "estimate": estimate, "estimate_unit": (spec.get("estimate_unit") or "hour") if estimate is not None
               else None, "checklist": [dict(c) for c in spec.get("checklist") or ()],
               "portal_visible": bool(spec.get("portal_visible", False)), "step_key": spec.get("step_key"),
               "step": spec.get("step"), "import_key": spec.get("import_key"),
               "completed_at": created if category == "done" else None,
               "completed_by": actor_member_id() if category == "done" else None,
               "created_at": spec.get("created") or created, "updated_at": spec.get("created") or created}
        rows.append(row)
        dependencies += [{"task_id": row["id"], "depends_on_id": d, "tenant_id": tenant_id}
                         for d in spec.get("depends_on") or ()]
    if len(rows) >= COPY_AT_LEAST:
        copy_rows(session, tasks, rows)
    elif rows:
        session.execute(insert(tasks), rows)
    if dependencies:
        session.execute(insert(task_dependencies), dependencies)
    outbox.add_many(session, [(tenant_id, TaskCreated(
        task_id=row["id"], project_id=project["id"], customer_id=project["customer_id"], title=row["title"],
        status=row["status"], category=row["category"], assignee_id=row["assignee_id"],
        start_date=_iso(row["start_date"]), due_date=_iso(row["due_date"]), milestone=row["milestone"],
        weight=row["weight"], portal_visible=row["portal_visible"], depends_on=list(spec.get("depends_on") or ()),
        step_key=row["step_key"])) for row, spec in zip(rows, specs)])
    return rows


def create_task(session: Session, tenant_id, project_id, cmd: CreateTask) -> dict:
    project = load_project(session, tenant_id, project_id, for_update=True)
    count = session.execute(select(func.count()).where(tasks.c.project_id == project_id)).scalar_one()
    if count >= 2000:
        raise Conflict("a project holds at most 2000 tasks")
    column = _column(session, tenant_id, cmd.status)
    _check_assignee(session, tenant_id, cmd.assignee_id)
    depends_on = list(dict.fromkeys(cmd.depends_on or []))
    new_id = uuid.uuid4()
    if depends_on:
        _check_dependencies(session, project_id, new_id, depends_on)
    position = cmd.position
    column_ids = _column_ids(session, project_id, column.key)
    if position is not None and position < len(column_ids):  # make room
        session.execute(update(tasks).where(tasks.c.project_id == project_id, tasks.c.status == column.key,
                                            tasks.c.position >= position).values(position=tasks.c.position + 1))
    else:
        position = len(column_ids)
    row = insert_task(session, tenant_id, project, title=cmd.title, status=column.key, category=column.category,
                      position=position, description=cmd.description or "", assignee_id=cmd.assignee_id,
                      start_date=cmd.start_date, due_date=cmd.due_date, milestone=bool(cmd.milestone),
                      weight=1 if cmd.weight is None else cmd.weight, estimate=cmd.estimate,
                      estimate_unit=cmd.estimate_unit, checklist=[c.model_dump() for c in cmd.checklist or []],
                      portal_visible=bool(cmd.portal_visible), depends_on=depends_on, task_id=new_id)
    return task_shape(row, depends_on, tenant_today(session, tenant_id))


def get_task(session: Session, tenant_id, task_id, portal=False) -> dict:
    row = load_task(session, tenant_id, task_id, portal=portal)
    return task_shape(row, dependencies_of(session, [row["id"]])[row["id"]], tenant_today(session, tenant_id))


def update_task(session: Session, tenant_id, task_id, cmd: UpdateTask) -> dict:
    row = load_task(session, tenant_id, task_id)
    load_project(session, tenant_id, row["project_id"], for_update=True)
    row = load_task(session, tenant_id, task_id, for_update=True)
    given = cmd.changes()
    nulls = [k for k in ("title", "milestone", "weight", "checklist", "portal_visible", "depends_on", "description")
             if k in given and given[k] is None]
    if nulls:
        raise InvalidInput("invalid task", [{"field": k, "message": "must not be null"} for k in nulls])
    current_deps = dependencies_of(session, [task_id])[task_id]
    changes, previous = {}, {}
    if "depends_on" in given:
        wanted = list(dict.fromkeys(given.pop("depends_on")))
        if set(wanted) != set(current_deps):
            _check_dependencies(session, row["project_id"], task_id, wanted)
            session.execute(delete(task_dependencies).where(task_dependencies.c.task_id == task_id))
            if wanted:
                session.execute(insert(task_dependencies), [
                    {"task_id": task_id, "depends_on_id": d, "tenant_id": tenant_id} for d in wanted])
            changes["depends_on"], previous["depends_on"] = sorted(map(str, wanted)), sorted(map(str, current_deps))
            current_deps = wanted
    if "checklist" in given:
        given["checklist"] = [c.model_dump() if hasattr(c, "model_dump") else c for c in given["checklist"]]
    if "assignee_id" in given and given["assignee_id"] != row["assignee_id"]:
        _check_assignee(session, tenant_id, given["assignee_id"])
    start, due = given.get("start_date", row["start_date"]), given.get("due_date", row["due_date"])
    if start and due and due < start:
        raise InvalidInput("invalid task dates", [{"field": "due_date", "message": "must not lie before start_date"}])
    if "estimate" in given and given["estimate"] is None:
        given["estimate_unit"] = None
    elif "estimate" in given and given.get("estimate_unit") is None:
        given["estimate_unit"] = row["estimate_unit"] or "hour"
    row_changes = {k: v for k, v in given.items() if row[k] != v}
    if row_changes:
        row_changes["updated_at"] = now()
        session.execute(update(tasks).where(tasks.c.id == task_id).values(**row_changes))
        for k, v in row_changes.items():
            if k != "updated_at":
                changes[k], previous[k] = _json(v), _json(row[k])
        row.update(row_changes)
    if changes:
        outbox.add(session, tenant_id, TaskUpdated(task_id=task_id, project_id=row["project_id"],
                                                   customer_id=row["customer_id"], changes=changes, previous=previous))
    return task_shape(row, current_deps, tenant_today(session, tenant_id))


def move_task(session: Session, tenant_id, task_id, cmd: MoveTask) -> dict:
    """Move a task to a column and a position in one call (`board.moved_positions`); crossing into done
    completes it (`task.completed`: who and when), out of done reopens it."""
    row = load_task(session, tenant_id, task_id)
    project = load_project(session, tenant_id, row["project_id"], for_update=True)
    row = load_task(session, tenant_id, task_id, for_update=True)
    column = _column(session, tenant_id, cmd.status)
    source = _column_ids(session, project["id"], row["status"])
    target = source if column.key == row["status"] else _column_ids(session, project["id"], column.key)
    index = len(target) if cmd.position is None else cmd.position
    positions = board.moved_positions(source, target, task_id, index)
    old_positions = dict(session.execute(select(tasks.c.id, tasks.c.position).where(
        tasks.c.id.in_(list(positions)))).all())
    stamp = now()
    for other, position in positions.items():
        if other != task_id and old_positions.get(other) != position:
            session.execute(update(tasks).where(tasks.c.id == other).values(position=position))
    values = {"status": column.key, "category": column.category, "position": positions[task_id]}
    was_done, done = row["category"] == "done", column.category == "done"
    if done and not was_done:
        values.update(completed_at=stamp, completed_by=actor_member_id())
    elif was_done and not done:
        values.update(completed_at=None, completed_by=None)
    changed = any(row[k] != v for k, v in values.items())
    if changed:
        values["updated_at"] = stamp
        session.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
        previous = dict(row)
        row.update(values)
        outbox.add(session, tenant_id, TaskMoved(
            task_id=task_id, project_id=row["project_id"], customer_id=row["customer_id"], status=row["status"],
            category=row["category"], position=row["position"], previous_status=previous["status"],
            previous_category=previous["category"], previous_position=previous["position"]))
        if done and not was_done:
            outbox.add(session, tenant_id, TaskCompleted(
                task_id=task_id, project_id=row["project_id"], customer_id=row["customer_id"], title=row["title"],
                completed_by=row["completed_by"], completed_at=stamp, due_date=_iso(row["due_date"]),
                milestone=row["milestone"], weight=row["weight"], step_key=row["step_key"],
                template_id=project["template_id"]))
        elif was_done and not done:
            outbox.add(session, tenant_id, TaskReopened(task_id=task_id, project_id=row["project_id"],
                                                        customer_id=row["customer_id"], status=row["status"],
                                                        category=row["category"]))
    return task_shape(row, dependencies_of(session, [task_id])[task_id], tenant_today(session, tenant_id))


def delete_task(session: Session, tenant_id, task_id) -> dict:
    row = load_task(session, tenant_id, task_id)
    load_project(session, tenant_id, row["project_id"], for_update=True)
    session.execute(delete(tasks).where(tasks.c.id == task_id))
    remaining = _column_ids(session, row["project_id"], row["status"])
    for position, other in enumerate(remaining):
        session.execute(update(tasks).where(tasks.c.id == other, tasks.c.position != position)
                        .values(position=position))
    outbox.add(session, tenant_id, TaskDeleted(task_id=task_id, project_id=row["project_id"],
                                               customer_id=row["customer_id"], title=row["title"]))
    return {"id": str(task_id), "deleted": True}


# --- the three views ---

def _project_tasks(session, tenant_id, project_id, portal: bool) -> list[dict]:
    stmt = select(tasks).where(tasks.c.tenant_id == tenant_id, tasks.c.project_id == project_id)
    if portal:
        stmt = stmt.where(tasks.c.portal_visible.is_(True))
    stmt = stmt.order_by(tasks.c.position, tasks.c.created_at, tasks.c.id)
    return [dict(r) for r in session.execute(stmt).mappings()]


def kanban(session: Session, tenant_id, project_id, portal=False) -> dict:
    """The board: every column in order with its tasks (by position) and its count."""
    project = load_project(session, tenant_id, project_id, portal=portal)
    columns, _ = settings(session, tenant_id)
    rows = _project_tasks(session, tenant_id, project_id, portal)
    deps = dependencies_of(session, [r["id"] for r in rows])
    today = tenant_today(session, tenant_id)
    by_column: dict = {c.key: [] for c in columns}
    for r in rows:
        by_column.setdefault(r["status"], []).append(task_shape(r, deps[r["id"]], today))
    stats = project_stats(session, tenant_id, [project["id"]], today)[project["id"]]
    return {"project": project_shape(project, stats),
            "columns": [{"key": c.key, "name": c.name, "category": c.category, "count": len(by_column[c.key]),
                         "tasks": by_column[c.key]} for c in columns]}


def gantt(session: Session, tenant_id, project_id, portal=False) -> dict:
    """Tasks with dates, dependencies and milestones, and the critical path (`graph.critical_path`)."""
    project = load_project(session, tenant_id, project_id, portal=portal)
    rows = _project_tasks(session, tenant_id, project_id, portal)
    deps = dependencies_of(session, [r["id"] for r in rows])
    visible = {r["id"] for r in rows}
    today = tenant_today(session, tenant_id)
    durations = {r["id"]: _duration(r) for r in rows}
    schedule = graph.critical_path(durations, {r["id"]: [d for d in deps[r["id"]] if d in visible] for r in rows})
    on_path = set(schedule.critical_path)
    items = []
    for r in sorted(rows, key=lambda r: (r["start_date"] or r["due_date"] or date.max, r["position"], str(r["id"]))):
        items.append({"id": str(r["id"]), "title": r["title"], "status": r["status"], "category": r["category"],
                      "start_date": _iso(r["start_date"]), "due_date": _iso(r["due_date"]),
                      "milestone": r["milestone"], "depends_on": sorted(str(d) for d in deps[r["id"]] if d in visible),
                      "duration_days": durations[r["id"]], "slack_days": schedule.slack[r["id"]],
                      "critical": r["id"] in on_path,
                      "late": board.is_late(r["due_date"], r["category"] == "done", today),
                      "assignee_id": _str(r["assignee_id"])})
    starts = [r["start_date"] or r["due_date"] for r in rows if r["start_date"] or r["due_date"]]
    ends = [r["due_date"] or r["start_date"] for r in rows if r["start_date"] or r["due_date"]]
    stats = project_stats(session, tenant_id, [project["id"]], today)[project["id"]]
    return {"project": project_shape(project, stats), "tasks": items,
            "critical_path": [str(t) for t in schedule.critical_path], "length_days": schedule.length,
            "start_date": _iso(min(starts)) if starts else None, "finish_date": _iso(max(ends)) if ends else None}


def _duration(row) -> int:
    if row["milestone"]:
        return 0
    if row["start_date"] and row["due_date"]:
        return (row["due_date"] - row["start_date"]).days + 1
    return 1 if row["due_date"] or row["start_date"] else 0


_SORTS = {"position": (tasks.c.status, tasks.c.position), "title": (tasks.c.title,), "status": (tasks.c.status,),
          "start_date": (tasks.c.start_date,), "due_date": (tasks.c.due_date,), "assignee_id": (tasks.c.assignee_id,),
          "weight": (tasks.c.weight,), "created_at": (tasks.c.created_at,), "updated_at": (tasks.c.updated_at,)}


def _table_statement(session, tenant_id, project_id, f: TaskFilters):
    stmt = select(tasks).where(tasks.c.tenant_id == tenant_id, tasks.c.project_id == project_id)
    if f.portal:
        stmt = stmt.where(tasks.c.portal_visible.is_(True))
    if f.status:
        stmt = stmt.where(tasks.c.status == f.status)
    if f.category:
        stmt = stmt.where(tasks.c.category == f.category)
    if f.assignee_id:
        stmt = stmt.where(tasks.c.assignee_id == f.assignee_id)
    if f.milestone is not None:
        stmt = stmt.where(tasks.c.milestone.is_(f.milestone))
    if f.due_before:
        stmt = stmt.where(tasks.c.due_date < f.due_before)
    if f.due_after:
        stmt = stmt.where(tasks.c.due_date > f.due_after)
    if f.q:
        stmt = stmt.where(or_(tasks.c.title.icontains(f.q, autoescape=True),
                              tasks.c.description.icontains(f.q, autoescape=True)))
    if f.late is not None:
        late = and_(tasks.c.due_date < tenant_today(session, tenant_id), tasks.c.category != "done")
        stmt = stmt.where(late if f.late else ~late)
    columns = _SORTS[f.sort]
    ordered = [c.desc().nulls_last() if f.order == "desc" else c.asc().nulls_last() for c in columns]
    return stmt.order_by(*ordered, tasks.c.created_at, tasks.c.id)


def _offset(cursor) -> int:
    from custops import pagination

    if cursor is None:
        return 0
    try:
        (offset,) = pagination.decode_key(cursor, [int])
    except InvalidInput:
        raise
    if offset < 0:
        raise InvalidInput("invalid cursor", [{"field": "cursor", "message": "not a cursor from this API"}])
    return offset


def table(session: Session, tenant_id, project_id, f: TaskFilters, limit: int, cursor) -> dict:
    """A sorted, filtered page of the project's tasks, with the filtered total. The cursor is the
    offset of the next row: a table sorted on any column pages by position in that order."""
    from custops import pagination

    load_project(session, tenant_id, project_id, portal=f.portal)
    stmt = _table_statement(session, tenant_id, project_id, f)
    offset = _offset(cursor)
    total = session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = [dict(r) for r in session.execute(stmt.offset(offset).limit(limit)).mappings()]
    deps = dependencies_of(session, [r["id"] for r in rows])
    today = tenant_today(session, tenant_id)
    following = offset + len(rows)
    return {"items": [task_shape(r, deps[r["id"]], today) for r in rows],
            "next_cursor": pagination.encode_key(following) if following < total else None, "total": total}


def table_csv_page(session: Session, tenant_id, project_id, f: TaskFilters, limit: int, cursor) -> dict:
    """A page of the CSV export: `{columns, rows, next_cursor}` in the table's order."""
    page = table(session, tenant_id, project_id, f, limit, cursor)

    def cell(value):
        if isinstance(value, list):
            return " ".join(str(v) for v in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else value

    return {"columns": list(TABLE_COLUMNS), "rows": [[cell(item[c]) for c in TABLE_COLUMNS] for item in page["items"]],
            "next_cursor": page["next_cursor"]}
