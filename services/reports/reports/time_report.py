"""The time report's rules: which version of an entry counts, and the figures of a group. Pure.

- Every `time.*` event carries the whole entry and its `revision` (1 when logged, +1 per
  correction). The read model keeps one row per entry, the highest revision seen: a correction
  replaces the entry's minutes, billability, day, customer, project, member and category, so an
  edited entry counts once with its latest values, whatever order the events arrive in. A
  deletion (the entry as it was, its revision) removes the entry from every figure, and an
  update of the same or an older revision arriving after it does not bring it back.
- Entries count by their `work_date` (the member's calendar day): a range is inclusive of both ends.
- Hours are minutes ÷ 60, rounded to two decimals for display; sums are done in minutes.
- Internal time is time that is not billable. Billable utilization is billable ÷ tracked minutes
  (None when nothing was tracked), as a fraction rounded to four decimals.
"""
from __future__ import annotations

DIMENSIONS = ("customer", "project", "member", "category")
# the column each dimension groups time_facts by
DIMENSION_COLUMNS = {"customer": "customer_id", "project": "project_id", "member": "member_id",
                     "category": "category"}


def supersedes(new_revision: int, kept_revision: int | None, kept_deleted: bool, deletion: bool) -> bool:
    """Whether an event of `new_revision` replaces the kept row (None: none kept yet). A logged or
    corrected version needs a higher revision than the kept one, and never revives a deletion;
    a deletion applies to its own revision or any older one."""
    if kept_revision is None:
        return True
    if deletion:
        return new_revision >= kept_revision
    return not kept_deleted and new_revision > kept_revision


def hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def utilization(billable_minutes: int, tracked_minutes: int) -> float | None:
    return None if tracked_minutes == 0 else round(billable_minutes / tracked_minutes, 4)


def figures(tracked_minutes: int, billable_minutes: int) -> dict:
    """A group's figures: tracked, billable and internal minutes and hours, and utilization."""
    internal = tracked_minutes - billable_minutes
    return {"tracked_minutes": tracked_minutes, "billable_minutes": billable_minutes, "internal_minutes": internal,
            "tracked_hours": hours(tracked_minutes), "billable_hours": hours(billable_minutes),
            "internal_hours": hours(internal), "utilization": utilization(billable_minutes, tracked_minutes)}

