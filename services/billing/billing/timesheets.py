"""Weekly timesheets: one per member and week (the week in the member's timezone, `billing.weeks`),
and the rule of who moves it where. Pure: a sheet (a row as a dict) and who asks in, the changes
or a refusal out.

    open ──submit──▶ submitted ──approve──▶ approved
      ▲                 │  └──reject (comment)──▶ rejected ──submit──▶ submitted
      └────reopen───────┴──────────reopen (approved)───┘

Decisions:
- **Submit**: the member themselves, or a manager (`time:others`) for them; from `open` or
  `rejected`; not a week that has not begun in the member's zone. Refused (409) while an entry of
  the week needs a person's confirmation (a timer that ran past the limit), naming the entries.
- **Approve / reject**: an owner or admin, or an approver named for that member
  (`timesheet_approvers`); a named approver never decides their own week. Only a submitted week;
  a rejection needs a comment. Approval locks every entry of the week (`approved_at`): they change
  again only after a reopen; new time is not written into an approved week either (409).
- **Reopen**: an approver (as above) reopens an approved or submitted week; the member may take
  back their own submitted week. A week with an invoiced entry is never reopened (a correction of
  invoiced time takes a credit note): 409.
- **Reminders**: a past week (its last day is before the member's local today) that is not
  submitted yet gets one `timesheet.reminder` per member and week (`reminded_at` remembers it).
"""
from __future__ import annotations

import uuid
from datetime import date

from custops.errors import Conflict, Forbidden, InvalidInput

MAX_COMMENT = 2000


def _problem(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, [{"field": field, "message": message}])


def check_comment(comment: str | None, required: bool) -> str | None:
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise _problem("comment", f"at most {MAX_COMMENT} characters")
    if required and comment is None:
        raise _problem("comment", "a rejection says why: give a comment")
    return comment


def check_may_submit(sheet: dict, caller: uuid.UUID, manages_time: bool, local_today: date) -> None:
    if sheet["member_id"] != caller and not manages_time:
        raise Forbidden("you may submit only your own timesheet (another member's needs 'time:others')")
    if sheet["week_start"] > local_today:
        raise Conflict(f"the week of {sheet['week_start']} has not begun: it cannot be submitted")
    if sheet["status"] not in ("open", "rejected"):
        raise Conflict(f"the timesheet is {sheet['status']}: only an open or rejected week is submitted")


def check_confirmed(unconfirmed: list[uuid.UUID]) -> None:
    if unconfirmed:
        raise Conflict("entries of the week need a confirmation first (a timer ran past the tenant's limit): "
                       + ", ".join(str(e) for e in unconfirmed))


def may_decide(sheet: dict, caller: uuid.UUID, is_manager: bool, approvers: set[uuid.UUID]) -> bool:
    if is_manager:
        return True
    return caller in approvers and caller != sheet["member_id"]


def check_may_decide(sheet: dict, caller: uuid.UUID, is_manager: bool, approvers: set[uuid.UUID],
                     action: str) -> None:
    if not may_decide(sheet, caller, is_manager, approvers):
        raise Forbidden(f"only an owner, an admin or an approver named for this member may {action} their timesheet")


def check_decidable(sheet: dict, action: str) -> None:
    if sheet["status"] != "submitted":
        raise Conflict(f"the timesheet is {sheet['status']}: only a submitted week is {action}")


def check_may_reopen(sheet: dict, caller: uuid.UUID, is_manager: bool, approvers: set[uuid.UUID],
                     invoiced: int) -> None:
    own_submitted = sheet["member_id"] == caller and sheet["status"] == "submitted"
    if not own_submitted:
        check_may_decide(sheet, caller, is_manager, approvers, "reopen")
    if sheet["status"] not in ("submitted", "approved"):
        raise Conflict(f"the timesheet is {sheet['status']}: only a submitted or approved week is reopened")
    if invoiced:
        raise Conflict(f"{invoiced} entries of the week are invoiced: a correction takes a credit note")


def needs_reminder(sheet_status: str | None, reminded: bool, week_ended: bool) -> bool:
    return week_ended and not reminded and sheet_status in (None, "open", "rejected")
