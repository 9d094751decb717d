"""The time report's read model (one row per time entry, its latest revision) and its query. The
rules are in `reports.time_report`; the upserts here are its `supersedes`, in SQL."""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert

from reports import time_report
from reports.models import time_facts

_FIELDS = ("member_id", "customer_id", "project_id", "category", "minutes", "billable", "work_date", "revision",
           "deleted")


def _upsert(deletion: bool):
    table = time_facts
    stmt = insert(table)
    kept, given = table.c.revision, stmt.excluded.revision
    # time_report.supersedes: a deletion takes its own revision or an older one; a version needs a
    # newer revision than the kept one and never revives a deleted entry
    where = kept <= given if deletion else and_(~table.c.deleted, kept < given)
    return stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.entry_id],
                                      set_={name: stmt.excluded[name] for name in _FIELDS}, where=where)


# built once per kind: the statement is the same for every event
_UPSERTS = {False: _upsert(False), True: _upsert(True)}


def save_entry(session, tenant_id, data, deletion: bool = False) -> None:
    """Keep the entry as the event carries it, if its revision supersedes the kept one."""
    session.execute(_UPSERTS[deletion], {
        "tenant_id": tenant_id, "entry_id": data.entry_id, "member_id": data.member_id,
        "customer_id": data.customer_id, "project_id": data.project_id, "category": data.category,
        "minutes": data.minutes, "billable": data.billable, "work_date": data.work_date,
        "revision": data.revision, "deleted": deletion})


def time_by(session, tenant_id, group_by: str, date_from: date, date_to: date, customer_id=None) -> dict:
    """Tracked / billable / internal time per group over the work dates date_from..date_to."""
    table = time_facts
    key = table.c[time_report.DIMENSION_COLUMNS[group_by]]
    stmt = (select(key, func.sum(table.c.minutes), func.coalesce(func.sum(table.c.minutes).filter(table.c.billable), 0))
            .where(table.c.tenant_id == tenant_id, ~table.c.deleted, table.c.work_date >= date_from,
                   table.c.work_date <= date_to)
            .group_by(key))
    if customer_id is not None:
        stmt = stmt.where(table.c.customer_id == customer_id)
    items = [{"key": None if value is None else str(value), **time_report.figures(int(tracked), int(billable))}
             for value, tracked, billable in session.execute(stmt)]
    items.sort(key=lambda item: (-item["tracked_minutes"], item["key"] is None, item["key"] or ""))
    tracked = sum(item["tracked_minutes"] for item in items)
    billable = sum(item["billable_minutes"] for item in items)
    return {"group_by": group_by, "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
            "items": items, "totals": time_report.figures(tracked, billable)}

