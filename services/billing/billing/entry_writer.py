"""Writing a time entry inside a transaction: deciding its billability (`billing.billability`) from
the tenant's categories and billing defaults, and holding its week open while it is written.

The week lock (issue 10: "a week approved while an entry is being edited"): every write of an entry
first makes sure the timesheet row of each member-week it touches exists (an `open` one if none),
then holds it `FOR SHARE` until the write commits; approving a week takes the same row `FOR UPDATE`
and then the week's entries `FOR UPDATE`. So an approval waits for an edit under way and then sees
(and locks) its result, or the edit waits for the approval and is refused (409: the week is
approved) — neither is lost. Rows are locked in one order (member, week) so two writes never
deadlock each other.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from billing import billability, time_setup, weeks
from billing.directory import Zone
from billing.models import timesheets
from custops.errors import Conflict, InvalidInput


def decide(session: Session, tenant_id: uuid.UUID, *, billable: bool | None, reason: str | None,
           category: str | None, project_id: uuid.UUID | None, customer_id: uuid.UUID,
           keep_category: str | None = None) -> billability.Decision:
    """The entry's billability by the precedence, or `InvalidInput` naming the field at fault."""
    row = time_setup.usable_category(session, tenant_id, category, keep=keep_category)
    levels = billability.Levels(
        entry=billable, category=row["billable"] if row is not None else None,
        project=time_setup.default_of(session, tenant_id, "project", project_id),
        customer=time_setup.default_of(session, tenant_id, "customer", customer_id),
        category_name=category, has_project=project_id is not None)
    try:
        return billability.decide(levels, reason)
    except billability.Undecided as undecided:
        raise InvalidInput(undecided.message, [{"field": undecided.field, "message": undecided.message}]) from None


def hold_week(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, work_date: date, zone: Zone,
              now: datetime, for_update: bool = False) -> dict:
    """The member-week's timesheet (made `open` if there is none), locked until the commit."""
    start = weeks.week_start(work_date, zone.week_start)
    session.execute(insert(timesheets).values(
        id=uuid.uuid4(), tenant_id=tenant_id, member_id=member_id, week_start=start, timezone=zone.timezone,
        status="open", created_at=now).on_conflict_do_nothing())
    stmt = select(timesheets).where(timesheets.c.tenant_id == tenant_id, timesheets.c.member_id == member_id,
                                    timesheets.c.week_start == start)
    stmt = stmt.with_for_update() if for_update else stmt.with_for_update(read=True)
    return dict(session.execute(stmt).mappings().one())


def hold_weeks_open(session: Session, tenant_id: uuid.UUID, touched: list[tuple[uuid.UUID, date, Zone]],
                    now: datetime) -> None:
    """Hold every member-week touched (in one order), refusing (409) one that is approved."""
    held = {}
    for member_id, work_date, zone in touched:
        held.setdefault((str(member_id), weeks.week_start(work_date, zone.week_start)), (member_id, work_date, zone))
    for key in sorted(held):
        member_id, work_date, zone = held[key]
        sheet = hold_week(session, tenant_id, member_id, work_date, zone, now)
        if sheet["status"] == "approved":
            raise Conflict(f"the week of {sheet['week_start']} is approved for this member: "
                           "reopen its timesheet to change its time")
