"""Correcting and deleting time entries: who may, what may change, and what may no longer change.
Pure: an entry (a row as a dict) and a correction in, the changes or a refusal out.

The rule:
- **Who.** A member corrects or deletes their own entries. A caller allowed to act for others
  (`time:others` in the gateway's role table: owner and admin) corrects or deletes anyone's, and only
  such a caller moves an entry to another member. The gateway says which by passing a
  `member_scope`: the one member whose entries the caller may touch, or None for anyone's.
- **What.** `member_id`, `customer_id`, `ticket_id` (null detaches the entry), `work_date`,
  `minutes`, `billable` and `note`. An entry's id, tenant, who entered it and when are facts and
  never change. The references after a correction are checked as a new entry's are (see
  `billing.references`): a customer change that keeps a ticket of the old customer is refused on
  `ticket_id`.
- **No longer.** An invoiced entry (`invoiced_at` or `invoice_id` set) never changes and is never
  deleted: an invoice was issued on it, and correcting it takes a credit note (issue 10) — a 409.
  An entry of an approved week (`approved_at`) is locked the same way until its timesheet is
  reopened (`billing.timesheets`); moving an entry into an approved week, or logging time there,
  is refused too (`billing.entry_writer`).
- **Billable again.** A correction of `billable`, `category`, `project_id` or `customer_id`
  decides billability again by the precedence (`billing.billability`), the entry's own say being
  the `billable` given now, else the one it had (when its source was the entry).
- **Confirmed.** An entry that needs confirmation (a timer past the tenant's limit) is confirmed by
  `confirmed: true` from whoever may correct it; any other correction of it leaves it unconfirmed.
"""
from __future__ import annotations

import uuid
from typing import Any

from custops.errors import Conflict, Forbidden

EDITABLE = ("member_id", "customer_id", "ticket_id", "work_date", "minutes", "billable", "note", "project_id",
            "task_id", "activity_id", "category", "tags", "started_at", "ended_at", "billable_reason")
# a change of one of these decides billability again
DECIDING = ("billable", "category", "project_id", "customer_id", "billable_reason")


def lock_reason(entry: dict) -> str | None:
    """Why the entry may no longer change, or None while it may."""
    if entry.get("invoiced_at") is not None or entry.get("invoice_id") is not None:
        return "it is on an invoice (a correction takes a credit note)"
    if entry.get("approved_at") is not None:
        return "its week is approved (reopen the timesheet to change it)"
    return None


def check_may_touch(entry: dict, member_scope: uuid.UUID | None, action: str) -> None:
    """Refuse (403) an entry outside the caller's scope, then (409) an entry that is locked."""
    if member_scope is not None and entry["member_id"] != member_scope:
        raise Forbidden(f"you may {action} only your own time entries")
    reason = lock_reason(entry)
    if reason is not None:
        raise Conflict(f"time entry {entry['id']} can no longer change: {reason}")


def changes(entry: dict, given: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """`{field: (old, new)}` for each given field whose value differs from the entry's."""
    unknown = set(given) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not correctable: {sorted(unknown)}")
    return {field: (entry.get(field), value) for field, value in given.items() if entry.get(field) != value}


def check_reassignment(diff: dict, member_scope: uuid.UUID | None) -> None:
    """Moving an entry to another member is logging time for someone else: not within a scope."""
    if "member_id" in diff and member_scope is not None:
        raise Forbidden("moving a time entry to another member needs the 'time:others' permission")


def corrected(entry: dict, diff: dict) -> dict:
    """The entry as it is after the changes."""
    return {**entry, **{field: new for field, (_old, new) in diff.items()}}


def references_to_check(diff: dict, after: dict) -> dict:
    """Which references of the corrected entry must be asked about again: those that changed, and
    the ticket whenever the customer it must belong to changed."""
    refs = {}
    if "customer_id" in diff:
        refs["customer_id"] = after["customer_id"]
    if after["ticket_id"] is not None and ("ticket_id" in diff or "customer_id" in diff):
        refs["ticket_id"] = after["ticket_id"]
    if "member_id" in diff:
        refs["member_id"] = after["member_id"]
    return refs
