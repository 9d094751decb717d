"""The status report's read models (projects, task facts) and its query. The rules are in
`reports.status_report`; this module applies them to rows.

Each task keeps its latest completion and latest reopening by (instant, producer sequence) — a
maximum, so the arrival order of task.completed / task.reopened (separate queues, redeliveries)
does not change the count. task.reopened carries no instant of its own: the envelope's
`occurred_at` is when it happened.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Date, Integer, and_, case, cast, extract, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from reports import status_report
from reports.models import report_projects, task_facts, ticket_facts
from reports.status_report import WEEK_START_DAYS, StatusRules


def _seq(envelope) -> int:
    return envelope.sequence or 0


def _day(text) -> date | None:
    """A work-plan date (`YYYY-MM-DD`) or None; a value that is not one is left out."""
    if not text:
        return None
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _newer(at_column, seq_column, given_at, given_seq):
    return or_(at_column.is_(None), tuple_(at_column, seq_column) <= tuple_(given_at, given_seq))


def save_project(session, tenant_id, envelope, project_id, customer_id, name=None, deleted=False) -> None:
    """Upsert a project's row: its name when the event is newer than the one the name came from;
    `deleted` marks it deleted for good."""
    table = report_projects
    values = {"tenant_id": tenant_id, "project_id": project_id, "customer_id": customer_id}
    if name is not None:
        values.update(name=name[:300], name_at=envelope.occurred_at, name_seq=_seq(envelope))
    if deleted:
        values["deleted_at"] = envelope.occurred_at
    stmt = insert(table).values(**values)
    if deleted:
        stmt = stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.project_id],
                                          set_={"deleted_at": stmt.excluded.deleted_at})
    elif name is not None:
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.tenant_id, table.c.project_id],
            set_={"name": stmt.excluded.name, "name_at": stmt.excluded.name_at, "name_seq": stmt.excluded.name_seq},
            where=_newer(table.c.name_at, table.c.name_seq, stmt.excluded.name_at, stmt.excluded.name_seq))
    else:
        stmt = stmt.on_conflict_do_nothing()
    session.execute(stmt)


def save_task(session, tenant_id, envelope, data, plan: dict | None = None, mark: str | None = None,
              at: datetime | None = None, deleted: bool = False) -> None:
    """Upsert a task's fact row: each key of `plan` (due_date, milestone, step_key: only the keys
    given) when the event is newer than the one that key came from (a task.updated carries only
    what changed: an older task.created arriving after it still gives the other keys); `mark`
    (completed / reopened) at `at` when newer than the one kept."""
    table = task_facts
    stmt_values = {"tenant_id": tenant_id, "task_id": data.task_id, "project_id": data.project_id,
                   "customer_id": data.customer_id}
    if plan:
        stmt_values.update(plan, plan_at=envelope.occurred_at, plan_seq=_seq(envelope))
        for key in plan:  # each key keeps the version of the newest event that carried it
            stmt_values[f"{key}_at"], stmt_values[f"{key}_seq"] = envelope.occurred_at, _seq(envelope)
    if mark:
        stmt_values.update({f"{mark}_at": at, f"{mark}_seq": _seq(envelope)})
    if deleted:
        stmt_values["deleted_at"] = envelope.occurred_at
    stmt = insert(table).values(**stmt_values)
    updates = {"project_id": stmt.excluded.project_id, "customer_id": stmt.excluded.customer_id}
    newer_plan = _newer(table.c.plan_at, table.c.plan_seq, stmt.excluded.plan_at, stmt.excluded.plan_seq)
    for key in (plan or {}):
        kept_at, kept_seq = table.c[f"{key}_at"], table.c[f"{key}_seq"]
        newer_key = _newer(kept_at, kept_seq, stmt.excluded[f"{key}_at"], stmt.excluded[f"{key}_seq"])
        for column in (key, f"{key}_at", f"{key}_seq"):
            updates[column] = case((newer_key, stmt.excluded[column]), else_=table.c[column])
    if plan:
        updates["plan_at"] = case((newer_plan, stmt.excluded.plan_at), else_=table.c.plan_at)
        updates["plan_seq"] = case((newer_plan, stmt.excluded.plan_seq), else_=table.c.plan_seq)
    if mark:
        kept_at, kept_seq = table.c[f"{mark}_at"], table.c[f"{mark}_seq"]
        given_at, given_seq = stmt.excluded[f"{mark}_at"], stmt.excluded[f"{mark}_seq"]
        newer_mark = or_(kept_at.is_(None), tuple_(kept_at, kept_seq) < tuple_(given_at, given_seq))
        updates[f"{mark}_at"] = case((newer_mark, given_at), else_=kept_at)
        updates[f"{mark}_seq"] = case((newer_mark, given_seq), else_=kept_seq)
    if deleted:
        updates["deleted_at"] = stmt.excluded.deleted_at
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.task_id], set_=updates))


def plan_of(fields: dict) -> dict:
    """The plan fields an event's values (or `changes`) carry: due_date, milestone, and the template
    step it was planned from (step_key, when told: onboarding velocity)."""
    plan = {}
    if "due_date" in fields:
        plan["due_date"] = _day(fields["due_date"])
    if "milestone" in fields:
        plan["milestone"] = bool(fields["milestone"])
    if fields.get("step_key"):
        plan["step_key"] = str(fields["step_key"])[:100]
    return plan


# --- the query


def _local_week(instant, tz: str, week_start: str):
    """SQL: the first day of the tenant week the instant falls in (status_report.week_of)."""
    day = cast(func.timezone(tz, instant), Date)
    return _week_of_day(day, week_start)


def _week_of_day(day, week_start: str):
    first = WEEK_START_DAYS[week_start]
    offset = (cast(extract("isodow", day), Integer) - first + 7) % 7
    return day - offset


def _completed(table, mark="completed"):
    done, reopened = (table.c[f"{mark}_at"], table.c[f"{mark}_seq"]), (table.c.reopened_at, table.c.reopened_seq)
    return and_(done[0].is_not(None), or_(reopened[0].is_(None), tuple_(*done) > tuple_(*reopened)))


def _utc_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Indexed UTC bounds around the local days first..last, a day's margin each side (any zone's
    offset is under a day); the exact bound is on the local week."""
    return (datetime.combine(first, time(), timezone.utc) - timedelta(days=1),
            datetime.combine(last, time(), timezone.utc) + timedelta(days=2))


def status_rows(session, tenant_id, tz: str, week_start: str, week: date, today: date, rules: StatusRules,
                customer_id=None) -> list[dict]:
    """The report's rows for the tenant week starting `week`: one per live project (and one per
    customer with resolved tickets), by customer then project name."""
    last_week = week - timedelta(days=7)
    as_of = status_report.as_of_day(week, today)
    lower, upper = _utc_bounds(last_week, week + timedelta(days=6))
    tasks, projects, tickets = task_facts, report_projects, ticket_facts

    task_week = _local_week(tasks.c.completed_at, tz, week_start)
    live = or_(projects.c.deleted_at.is_(None), projects.c.project_id.is_(None))
    counted = (select(tasks.c.project_id, tasks.c.customer_id,
                      func.count().filter(task_week == week).label("this_week"),
                      func.count().filter(task_week == last_week).label("last_week"))
               .select_from(tasks.outerjoin(projects, and_(projects.c.tenant_id == tasks.c.tenant_id,
                                                           projects.c.project_id == tasks.c.project_id)))
               .where(tasks.c.tenant_id == tenant_id, tasks.c.deleted_at.is_(None), live,
                      tasks.c.completed_at >= lower, tasks.c.completed_at < upper, _completed(tasks),
                      task_week >= last_week, task_week <= week)
               .group_by(tasks.c.project_id, tasks.c.customer_id))
    completed_day = cast(func.timezone(tz, tasks.c.completed_at), Date)
    done = _completed(tasks)
    late = (select(tasks.c.project_id, tasks.c.customer_id,
                   func.count().filter(~and_(done, completed_day < as_of)).label("overdue"),
                   func.count().filter(tasks.c.milestone, tasks.c.due_date >= last_week,
                                       ~and_(done, completed_day <= tasks.c.due_date)).label("missed"))
            .where(tasks.c.tenant_id == tenant_id, tasks.c.deleted_at.is_(None), tasks.c.due_date < as_of)
            .group_by(tasks.c.project_id, tasks.c.customer_id))
    ticket_week = _local_week(tickets.c.resolved_at, tz, week_start)
    resolved = (select(tickets.c.customer_id,
                       func.count().filter(ticket_week == week).label("this_week"),
                       func.count().filter(ticket_week == last_week).label("last_week"))
                .where(tickets.c.tenant_id == tenant_id, tickets.c.resolved_at >= lower,
                       tickets.c.resolved_at < upper, _completed(tickets, "resolved"),
                       ticket_week >= last_week, ticket_week <= week)
                .group_by(tickets.c.customer_id))
    named = select(projects.c.project_id, projects.c.customer_id, projects.c.name).where(
        projects.c.tenant_id == tenant_id, projects.c.deleted_at.is_(None))
    if customer_id is not None:
        counted = counted.where(tasks.c.customer_id == customer_id)
        late = late.where(tasks.c.customer_id == customer_id)
        resolved = resolved.where(tickets.c.customer_id == customer_id)
        named = named.where(projects.c.customer_id == customer_id)

    acc: dict[tuple, dict] = {}

    def entry(project_id, customer, name=None):
        key = (str(customer), str(project_id) if project_id else None)
        item = acc.setdefault(key, {"project_id": key[1], "customer_id": key[0], "project_name": None,
                                    "counts": [0, 0, 0, 0]})
        if name is not None:
            item["project_name"] = name
        return item

    for project_id, customer, name in session.execute(named):
        entry(project_id, customer, name)
    deleted = {str(p) for (p,) in session.execute(select(projects.c.project_id).where(
        projects.c.tenant_id == tenant_id, projects.c.deleted_at.is_not(None)))}
    for project_id, customer, this_week, last in session.execute(counted):
        entry(project_id, customer)["counts"][:2] = [this_week, last]
    for project_id, customer, overdue, missed in session.execute(late):
        if str(project_id) not in deleted:
            entry(project_id, customer)["counts"][2:] = [overdue, missed]
    for customer, this_week, last in session.execute(resolved):
        entry(None, customer, "Tickets")["counts"][:2] = [this_week, last]

    rows = []
    for key in sorted(acc, key=lambda k: (k[0], k[1] is None, acc[k]["project_name"] or k[1] or "")):
        item = acc[key]
        base = {"project_id": item["project_id"], "customer_id": item["customer_id"],
                "project_name": item["project_name"] or item["project_id"]}
        rows.append(status_report.row(base, *item["counts"], rules))
    return rows
