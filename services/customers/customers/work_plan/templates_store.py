"""Onboarding templates (versioned) and the plans applied from them, inside the caller's session.

- Saving a template writes a new immutable version (`onboarding_template_versions`); the template row
  names its current one. A plan (a project with `template_id`/`template_version`) keeps the version it
  was applied from until it is upgraded (`upgrade_plan`, which shows its diff unless confirmed).
- Applying creates the project and every task in one transaction. It is idempotent by key: the key
  given, or else one derived from the customer and template (one plan per template and customer
  unless the caller names another key). A retried apply answers the plan it made (`created: false`),
  and a concurrent second one hits the unique index and gets a Conflict to retry into that answer.
- Owner roles resolve when applied: `owner` to the customer's owner, `account_team` to the first
  (longest-standing) member of its account team, falling back to the owner; none: unassigned.
- A new customer start date re-plans every onboarding plan of the customer (`replan_customer`).
"""
from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from custops import outbox, pagination
from custops.contracts.customers import OnboardingApplied, OnboardingReplanned, OnboardingTemplateSaved
from custops.errors import InvalidInput, NotFound
from customers.access_store import require_tenant
from customers.models import (account_team, onboarding_template_versions, onboarding_templates, projects,
                              task_dependencies, tasks)
from customers.work_plan import calendar_copy, schedule, store, template_diff
from customers.work_plan.commands import ApplyTemplate, SaveTemplate, UpgradePlan
from customers.work_plan.schedule import CALENDAR_DAYS, Dates, PlannedTask, Step


def _step_doc(step) -> dict:
    doc = step.model_dump(mode="json")
    if doc.get("estimate") is not None:
        doc["estimate"] = float(Decimal(str(doc["estimate"])))
    return doc


def template_shape(row, version_row) -> dict:
    return {"id": str(row["id"]), "name": version_row["name"], "version": version_row["version"],
            "current_version": row["current_version"], "business_days": version_row["business_days"],
            "steps": list(version_row["steps"]), "created_at": store._iso(row["created_at"]),
            "updated_at": store._iso(row["updated_at"])}


def _load_template(session, tenant_id, template_id, for_update=False, missing=None) -> dict:
    stmt = select(onboarding_templates).where(onboarding_templates.c.tenant_id == tenant_id,
                                              onboarding_templates.c.id == template_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise missing or NotFound(f"onboarding template {template_id} not found")
    return dict(row)


def _load_version(session, template_id, version: int, missing=None) -> dict:
    row = session.execute(select(onboarding_template_versions).where(
        onboarding_template_versions.c.template_id == template_id,
        onboarding_template_versions.c.version == version)).mappings().first()
    if row is None:
        raise missing or NotFound(f"version {version} of template {template_id} not found")
    return dict(row)


def save_template(session: Session, tenant_id, cmd: SaveTemplate, template_id=None) -> dict:
    """Create a template (`template_id` None) or save a new version of one."""
    require_tenant(session, tenant_id)
    stamp = store.now()
    if template_id is None:
        row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "current_version": 1,
               "created_at": stamp, "updated_at": stamp}
        session.execute(insert(onboarding_templates).values(**row))
    else:
        row = _load_template(session, tenant_id, template_id, for_update=True)
        current = _load_version(session, template_id, row["current_version"])
        steps = [_step_doc(s) for s in cmd.steps]
        if (current["name"], current["business_days"], current["steps"]) == (cmd.name, cmd.business_days, steps):
            return template_shape(row, current)  # saving the same template again makes no version
        row.update(name=cmd.name, current_version=row["current_version"] + 1, updated_at=stamp)
        session.execute(update(onboarding_templates).where(onboarding_templates.c.id == template_id).values(
            name=cmd.name, current_version=row["current_version"], updated_at=stamp))
    version = {"template_id": row["id"], "version": row["current_version"], "tenant_id": tenant_id,
               "name": cmd.name, "business_days": cmd.business_days, "steps": [_step_doc(s) for s in cmd.steps],
               "created_at": stamp}
    session.execute(insert(onboarding_template_versions).values(**version))
    outbox.add(session, tenant_id, OnboardingTemplateSaved(template_id=row["id"], name=cmd.name,
                                                           version=version["version"], step_count=len(cmd.steps),
                                                           business_days=cmd.business_days))
    return template_shape(row, version)


def get_template(session: Session, tenant_id, template_id, version: int | None = None) -> dict:
    row = _load_template(session, tenant_id, template_id)
    return template_shape(row, _load_version(session, template_id, version or row["current_version"]))


def list_templates(session: Session, tenant_id, limit: int, cursor) -> dict:
    stmt = select(onboarding_templates).where(onboarding_templates.c.tenant_id == tenant_id)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(pagination.page(stmt, onboarding_templates.c.created_at, onboarding_templates.c.id,
                                           cursor, limit)).mappings().all()
    versions = {}
    for r in rows[:limit]:
        versions[r["id"]] = _load_version(session, r["id"], r["current_version"])
    page = pagination.result(rows, limit, "created_at", lambda r: template_shape(r, versions[r["id"]]))
    return {**page, "total": total}


# --- applying ---

def _days(session, tenant_id, business_days: bool):
    return calendar_copy.open_days(session, tenant_id) if business_days else CALENDAR_DAYS


def _steps(version_row) -> list[Step]:
    return [Step(s["key"], s["day"], s.get("duration", 1), tuple(s.get("depends_on", [])), s.get("milestone", False))
            for s in version_row["steps"]]


def _owners(session, tenant_id, customer) -> dict:
    team = session.execute(select(account_team.c.member_id).where(account_team.c.customer_id == customer["id"])
                           .order_by(account_team.c.added_at, account_team.c.member_id).limit(1)).scalar()
    return {"owner": customer["owner_id"], "account_team": team or customer["owner_id"], None: None}


def apply_template(session: Session, tenant_id, customer_id, cmd: ApplyTemplate) -> dict:
    """Create the plan: one project and a task per step, in one transaction (see the module's doc)."""
    require_tenant(session, tenant_id)
    customer = store._customer(session, tenant_id, customer_id)
    session.execute(select(projects.c.id).where(projects.c.id == None).with_for_update())  # noqa: E711
    key = cmd.idempotency_key or f"apply:{customer_id}:{cmd.template_id}"
    existing = session.execute(select(projects).where(projects.c.tenant_id == tenant_id,
                                                      projects.c.idempotency_key == key)).mappings().first()
    if existing is not None:
        if existing["customer_id"] != customer_id:
            raise InvalidInput("idempotency key already used", [{
                "field": "idempotency_key", "message": "already used for another customer's plan"}])
        return {"created": False, "project": store.get_project(session, tenant_id, existing["id"])}
    unknown = InvalidInput("unknown template", [{"field": "template_id", "message": "no such template in this tenant"}])
    template = _load_template(session, tenant_id, cmd.template_id, missing=unknown)
    version = _load_version(session, template["id"], cmd.version or template["current_version"], missing=InvalidInput(
        "unknown template version", [{"field": "version", "message": "no such version of this template"}]))
    start = cmd.start_date or customer["start_date"]
    if start is None:
        raise InvalidInput("no start date", [{"field": "start_date",
                                              "message": "required: the customer has no start date"}])
    days = _days(session, tenant_id, version["business_days"])
    try:
        planned = schedule.plan(_steps(version), start, days)
    except ValueError as exc:
        raise InvalidInput("the template cannot be planned", [{"field": "template_id", "message": str(exc)}]) from None
    _, statuses = store.settings(session, tenant_id)
    status = "active" if "active" in statuses else statuses[0]
    target = max((d.due for d in planned.values()), default=None)
    project = store.insert_project(session, tenant_id, customer_id, name=cmd.name or version["name"], status=status,
                                   start_date=start, target_date=target, portal_shared=cmd.portal_shared,
                                   template_id=template["id"], template_version=version["version"],
                                   business_days=version["business_days"], idempotency_key=key)
    ids = _insert_step_tasks(session, tenant_id, project, version["steps"], planned, _owners(session, tenant_id,
                                                                                              customer), {})
    outbox.add(session, tenant_id, OnboardingApplied(
        project_id=project["id"], customer_id=customer_id, template_id=template["id"],
        template_version=version["version"], start_date=start.isoformat(), target_date=store._iso(target),
        steps=[{"key": s["key"], "task_id": str(ids[s["key"]]), "start_date": planned[s["key"]].start.isoformat(),
                "due_date": planned[s["key"]].due.isoformat(), "milestone": s.get("milestone", False),
                "first_value": s.get("first_value", False)} for s in version["steps"]]))
    return {"created": True, "project": store.get_project(session, tenant_id, project["id"])}


def _insert_step_tasks(session, tenant_id, project, steps: list[dict], planned: dict, owners: dict,
                       existing_ids: dict) -> dict:
    """A task per step (positions after what the todo column holds), written in one statement with
    their dependencies. `existing_ids`: step key -> task id of steps that already have a task (upgrades)."""
    ids = dict(existing_ids)
    position = session.execute(select(func.count()).where(tasks.c.project_id == project["id"],
                                                          tasks.c.status == "todo")).scalar_one()
    ids.update({s["key"]: uuid.uuid4() for s in steps})  # all first: a step may wait for a later-listed one
    specs = []
    for s in steps:
        task_id = ids[s["key"]]
        dates = planned[s["key"]]
        specs.append({"title": s["title"], "position": position, "description": s.get("description", ""),
                      "assignee_id": owners.get(s.get("owner_role")), "start_date": dates.start,
                      "due_date": dates.due, "milestone": s.get("milestone", False), "weight": s.get("weight", 1),
                      "estimate": s.get("estimate"), "estimate_unit": s.get("estimate_unit"),
                      "checklist": s.get("checklist", []), "portal_visible": s.get("portal_visible", False),
                      "depends_on": [ids[d] for d in s.get("depends_on", []) if d in ids], "step_key": s["key"],
                      "step": s, "task_id": task_id})
        position += 1
    store.insert_tasks(session, tenant_id, project, specs)
    return ids


# --- re-planning ---

def _plan_tasks(session, project_id) -> tuple[list[dict], dict]:
    rows = [dict(r) for r in session.execute(select(tasks).where(tasks.c.project_id == project_id)
                                             .order_by(tasks.c.position, tasks.c.created_at, tasks.c.id)).mappings()]
    return rows, store.dependencies_of(session, [r["id"] for r in rows])


def _planned_tasks(rows, deps) -> list[PlannedTask]:
    found = []
    for r in rows:
        s = r["step"]
        step = Step(r["step_key"], s["day"], s.get("duration", 1), (), s.get("milestone", False)) if s else None
        dates = Dates(r["start_date"], r["due_date"]) if r["start_date"] and r["due_date"] else None
        found.append(PlannedTask(str(r["id"]), step, dates, r["category"] == "done",
                                 tuple(str(d) for d in deps[r["id"]])))
    return found


def _move_doc(move) -> dict:
    return {"task_id": move.task_id,
            "from": {"start_date": store._iso(move.before.start), "due_date": store._iso(move.before.due)}
            if move.before else None,
            "to": {"start_date": move.after.start.isoformat(), "due_date": move.after.due.isoformat()}}


def replan_project(session: Session, tenant_id, project: dict, start: date, reason: str,
                   template_version: int | None = None) -> list[dict]:
    """Re-plan a plan's not-done step tasks from `start`; writes and tells the moves (none: nothing told)."""
    rows, deps = _plan_tasks(session, project["id"])
    days = _days(session, tenant_id, project["business_days"])
    moves = schedule.replan(_planned_tasks(rows, deps), start, days)
    stamp = store.now()
    if moves:  # one statement for all the moves
        session.connection().execute(
            update(tasks).where(tasks.c.id == bindparam("moved_id")).values(
                start_date=bindparam("new_start"), due_date=bindparam("new_due"), updated_at=stamp),
            [{"moved_id": uuid.UUID(m.task_id), "new_start": m.after.start, "new_due": m.after.due} for m in moves])
    target = max([m.after.due for m in moves] + [r["due_date"] for r in rows if r["due_date"] and
                                                  r["id"] not in {uuid.UUID(m.task_id) for m in moves}], default=None)
    changes = {"start_date": start, "target_date": target}
    if template_version is not None:
        changes["template_version"] = template_version
    session.execute(update(projects).where(projects.c.id == project["id"]).values(**changes, updated_at=stamp))
    documents = [_move_doc(m) for m in moves]
    if moves or template_version is not None or project["start_date"] != start:
        outbox.add(session, tenant_id, OnboardingReplanned(
            project_id=project["id"], customer_id=project["customer_id"], reason=reason, start_date=start.isoformat(),
            moves=documents, template_version=template_version, target_date=store._iso(target)))
    return documents


def replan_customer(session: Session, tenant_id, customer_id, start: date | None) -> list[dict]:
    """After the customer's start date changed: re-plan each of its plans; `[{project_id, moves}]`."""
    if start is None:
        return []
    plans = session.execute(select(projects).where(
        projects.c.tenant_id == tenant_id, projects.c.customer_id == customer_id,
        projects.c.template_id.is_not(None)).order_by(projects.c.created_at, projects.c.id).with_for_update()
    ).mappings().all()
    return [{"project_id": str(p["id"]), "moves": replan_project(session, tenant_id, dict(p), start,
                                                                 "start_date_changed")} for p in plans]


# --- upgrading a plan to another template version ---

def upgrade_plan(session: Session, tenant_id, project_id, cmd: UpgradePlan) -> dict:
    """The diff between the plan's template version and `cmd.version` (default: the current one);
    with `confirm`, apply it and re-plan. Done tasks never change (`template_diff`)."""
    project = store.load_project(session, tenant_id, project_id, for_update=cmd.confirm)
    if project["template_id"] is None:
        raise InvalidInput("not an onboarding plan", [{"field": "project_id",
                                                       "message": "this project was not applied from a template"}])
    template = _load_template(session, tenant_id, project["template_id"])
    target_version = cmd.version or template["current_version"]
    old = _load_version(session, template["id"], project["template_version"])
    new = _load_version(session, template["id"], target_version, missing=InvalidInput(
        "unknown template version", [{"field": "version", "message": "no such version of this template"}]))
    rows, _ = _plan_tasks(session, project_id)
    by_key = {r["step_key"]: r for r in rows if r["step_key"]}
    done_keys = {k for k, r in by_key.items() if r["category"] == "done"}
    found = template_diff.diff(list(old["steps"]), list(new["steps"]), done_keys)
    answer = {"project_id": str(project_id), "from_version": old["version"], "to_version": new["version"],
              "added": [s["key"] for s in found.added], "removed": found.removed,
              "changed": found.changed, "kept_done": found.kept_done, "applied": False, "moves": []}
    if not cmd.confirm or (found.empty and old["version"] == new["version"]):
        return answer
    new_steps = {s["key"]: s for s in new["steps"]}
    removed_ids = [by_key[k]["id"] for k in found.removed if k in by_key]
    if removed_ids:
        session.execute(delete(tasks).where(tasks.c.id.in_(removed_ids)))
    stamp = store.now()
    for change in found.changed:
        row, step = by_key.get(change["key"]), new_steps[change["key"]]
        if row is None:
            continue
        session.execute(update(tasks).where(tasks.c.id == row["id"]).values(
            title=step["title"], description=step.get("description", ""), milestone=step.get("milestone", False),
            weight=step.get("weight", 1), estimate=step.get("estimate"),
            estimate_unit=step.get("estimate_unit") if step.get("estimate") is not None else None,
            portal_visible=step.get("portal_visible", False), step=step, updated_at=stamp))
    kept = {k: r["id"] for k, r in by_key.items() if r["id"] not in removed_ids}
    customer = store._customer(session, tenant_id, project["customer_id"])
    placeholder = {s["key"]: Dates(project["start_date"], project["start_date"]) for s in found.added}
    ids = _insert_step_tasks(session, tenant_id, project, found.added, placeholder,
                             _owners(session, tenant_id, customer), kept)
    # dependencies of every step task follow the new version (done tasks keep theirs)
    for key, step in new_steps.items():
        task_id = ids.get(key)
        if task_id is None or key in done_keys:
            continue
        session.execute(delete(task_dependencies).where(task_dependencies.c.task_id == task_id))
        wanted = [ids[d] for d in step.get("depends_on", []) if d in ids]
        if wanted:
            session.execute(insert(task_dependencies), [{"task_id": task_id, "depends_on_id": d, "tenant_id": tenant_id}
                                                        for d in wanted])
    session.execute(update(projects).where(projects.c.id == project_id).values(business_days=new["business_days"]))
    project["business_days"] = new["business_days"]
    answer["moves"] = replan_project(session, tenant_id, project, project["start_date"], "template_upgraded",
                                     template_version=new["version"])
    answer["applied"] = True
    return answer
