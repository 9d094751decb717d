"""Onboarding velocity's read model (`onboarding_plans`, one row per plan applied from a template)
and its query; the tasks are the status report's `task_facts` (with their template step). The rules
are in `reports.onboarding_report`."""
from __future__ import annotations

from datetime import date

from sqlalchemy import (BigInteger, Column, Date, DateTime, PrimaryKeyConstraint, Table, case, func, or_, text,
                        tuple_)
from sqlalchemy.dialects.postgresql import UUID, insert

from reports import onboarding_report, periods, replay
from reports.models import metadata

# A plan: its start (Day 0), target date and first-value milestone's task, from onboarding.applied;
# start and target moved by onboarding.replanned, by (occurred_at, sequence); project.deleted ends it.
onboarding_plans = Table(
    "onboarding_plans",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("template_id", UUID(as_uuid=True)),
    Column("start_date", Date),
    Column("target_date", Date),
    Column("first_value_task_id", UUID(as_uuid=True)),
    Column("plan_at", DateTime(timezone=True)),
    Column("plan_seq", BigInteger, nullable=False, server_default="0"),
    Column("deleted_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("tenant_id", "project_id"),
)

replay.read_model("onboarding", onboarding_plans)


def _day(value) -> date | None:
    return None if value is None else date.fromisoformat(str(value)[:10])


def save_plan(session, tenant_id, envelope, data, applied: bool) -> None:
    """onboarding.applied (everything) or onboarding.replanned (start and target), newest kept."""
    table = onboarding_plans
    values = {"tenant_id": tenant_id, "project_id": data.project_id, "customer_id": data.customer_id,
              "start_date": _day(data.start_date), "target_date": _day(data.target_date),
              "plan_at": envelope.occurred_at, "plan_seq": envelope.sequence or 0}
    if applied:
        first_value = next((s.get("task_id") for s in data.steps if s.get("first_value")), None)
        values.update(template_id=data.template_id, first_value_task_id=first_value)
    stmt = insert(table).values(**values)
    newer = or_(table.c.plan_at.is_(None),
                tuple_(table.c.plan_at, table.c.plan_seq) <= tuple_(stmt.excluded.plan_at, stmt.excluded.plan_seq))
    updates = {name: case((newer, stmt.excluded[name]), else_=table.c[name])
               for name in ("start_date", "plan_at", "plan_seq")}
    # a re-plan told before target dates were in its event keeps the target known
    updates["target_date"] = case((newer, func.coalesce(stmt.excluded.target_date, table.c.target_date)),
                                  else_=table.c.target_date)
    if applied:
        updates.update(template_id=stmt.excluded.template_id, first_value_task_id=stmt.excluded.first_value_task_id)
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.project_id],
                                               set_=updates))


def delete_plan(session, tenant_id, envelope, data) -> None:
    session.execute(onboarding_plans.update().where(onboarding_plans.c.tenant_id == tenant_id,
                                                    onboarding_plans.c.project_id == data.project_id)
                    .values(deleted_at=envelope.occurred_at))


_DONE = ("t.completed_at IS NOT NULL AND t.deleted_at IS NULL AND (t.reopened_at IS NULL OR "
         "(t.completed_at, t.completed_seq) > (t.reopened_at, t.reopened_seq))")
_PLANS = text(f"""
    SELECT c.tier, p.start_date, p.target_date,
           (SELECT CAST(timezone(:tz, t.completed_at) AS date) FROM task_facts t
             WHERE t.tenant_id = p.tenant_id AND t.task_id = p.first_value_task_id AND {_DONE}) AS first_value_day,
           count(t.task_id) FILTER (WHERE t.deleted_at IS NULL) AS tasks,
           count(t.task_id) FILTER (WHERE {_DONE}) AS done,
           max(CAST(timezone(:tz, t.completed_at) AS date)) FILTER (WHERE {_DONE}) AS last_done_day
      FROM onboarding_plans p
      LEFT JOIN report_customers c ON c.tenant_id = p.tenant_id AND c.customer_id = p.customer_id
      LEFT JOIN task_facts t ON t.tenant_id = p.tenant_id AND t.project_id = p.project_id
     WHERE p.tenant_id = :tenant_id AND p.deleted_at IS NULL
     GROUP BY p.tenant_id, p.project_id, c.tier
""")
_STEP_TASKS = text(f"""
    SELECT t.step_key, t.due_date, CASE WHEN {_DONE} THEN CAST(timezone(:tz, t.completed_at) AS date) END
      FROM task_facts t JOIN onboarding_plans p ON p.tenant_id = t.tenant_id AND p.project_id = t.project_id
     WHERE t.tenant_id = :tenant_id AND p.deleted_at IS NULL AND t.deleted_at IS NULL
       AND t.step_key IS NOT NULL AND t.due_date >= :first AND t.due_date <= :last
""")


def velocity(session, tenant_id, tz: str, week_start: str, day: date, today: date) -> dict:
    """Onboarding velocity of the tenant quarter containing `day`, vs the quarter before."""
    current = periods.period_of(day, "quarter", week_start)
    before = periods.previous(*current, "quarter", week_start)
    params = {"tenant_id": tenant_id, "tz": tz}
    plans = [onboarding_report.Plan(*row) for row in session.execute(_PLANS, params)]
    tasks = [onboarding_report.StepTask(*row) for row in session.execute(
        _STEP_TASKS, {**params, "first": before[0], "last": current[1]})]
    return onboarding_report.report(plans, tasks, current, before, today)
