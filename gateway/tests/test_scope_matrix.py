"""Every role × every route × own/other customer × own/other tenant: no leak, no wrong refusal.

The expected answers are written here by hand, from the roles as the design states them (docs/access.md),
not read from `gateway.roles`: `ALLOWED` names the roles that may call each route, `TARGET` what
customer a route's answer depends on. The gateway runs against a double of the services that holds a
small world of two tenants — our tenant with the customer every scoped user works on (`OWN`) and one
nobody of them works on (`OTHER`), another tenant with its own customer (`FOREIGN`) — and answers as
the services do: another tenant's id named in a path is not found (404), in a body unknown (422).

The same tables are printed in docs/access.md (`python gateway/tests/test_scope_matrix.py --write`);
`test_the_matrix_in_the_docs_is_current` fails when that copy is stale.
"""
from __future__ import annotations

import re
import sys
import uuid
from pathlib import Path

import pytest

from custops.errors import InvalidInput, NotFound

ROLES = ("owner", "admin", "member", "contractor", "read_only", "portal")
SCOPED = {"member", "contractor", "read_only", "portal"}  # see only the customers they work on / belong to

STAFF = "owner admin member contractor read_only"
MANAGERS = "owner admin"
EVERYONE = STAFF + " portal"

# who may call each route, as the design gives it (hand-written; not read from gateway.roles)
ALLOWED: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "anyone",
    ("GET", "/audit"): MANAGERS,
    ("GET", "/audit/export.csv"): MANAGERS,
    ("POST", "/customers"): MANAGERS,
    ("GET", "/customers"): STAFF,
    ("GET", "/customers/<customer_id>"): STAFF,
    ("PATCH", "/customers/<customer_id>"): MANAGERS,
    ("POST", "/customers/<customer_id>/contacts"): MANAGERS,
    ("GET", "/customers/<customer_id>/contacts"): STAFF,
    ("POST", "/customers/<customer_id>/contacts/<contact_id>/archive"): MANAGERS,
    # the portal: managers invite a contact and take its access away; the invite itself is the credential
    ("POST", "/customers/<customer_id>/contacts/<contact_id>/portal-invite"): MANAGERS,
    ("DELETE", "/customers/<customer_id>/contacts/<contact_id>/portal-access"): MANAGERS,
    ("POST", "/portal/accept"): "anyone",
    ("GET", "/customers/<customer_id>/team"): STAFF,
    ("PUT", "/customers/<customer_id>/team/<member_id>"): MANAGERS,
    ("DELETE", "/customers/<customer_id>/team/<member_id>"): MANAGERS,
    # the timeline: a portal user reads their own company's customer-visible activities
    ("GET", "/customers/<customer_id>/timeline"): EVERYONE,
    ("POST", "/customers/<customer_id>/interactions"): "owner admin member",
    ("POST", "/customers/<customer_id>/timeline/<activity_id>/corrections"): "owner admin member",
    ("POST", "/customers/<customer_id>/timeline/<activity_id>/retraction"): "owner admin member",
    ("GET", "/customers/<customer_id>/timeline/<activity_id>/history"): EVERYONE,
    ("GET", "/activity"): EVERYONE,
    ("GET", "/activity/export.csv"): EVERYONE,
    ("GET", "/activity/heatmap"): STAFF,
    ("GET", "/activity/heatmap/members"): STAFF,
    ("GET", "/interaction-types"): STAFF,
    ("PUT", "/interaction-types/<kind>"): MANAGERS,
    ("GET", "/activity-views"): STAFF,
    ("POST", "/activity-views"): "owner admin member contractor",
    ("GET", "/activity-views/<view_id>"): STAFF,
    ("PATCH", "/activity-views/<view_id>"): "owner admin member contractor",
    ("DELETE", "/activity-views/<view_id>"): "owner admin member contractor",
    # follow-ups: staff read them, contractors keep theirs too (their customers only)
    ("POST", "/customers/<customer_id>/followups"): "owner admin member contractor",
    ("GET", "/followups"): STAFF,
    ("GET", "/followups/analytics"): STAFF,
    ("GET", "/followups/<followup_id>"): STAFF,
    ("PATCH", "/followups/<followup_id>"): "owner admin member contractor",
    ("POST", "/followups/<followup_id>/postpone"): "owner admin member contractor",
    ("POST", "/followups/<followup_id>/complete"): "owner admin member contractor",
    ("POST", "/followups/<followup_id>/reassign"): "owner admin member contractor",
    ("POST", "/followups/<followup_id>/cancel"): "owner admin member contractor",
    ("POST", "/mailboxes"): MANAGERS,
    ("GET", "/mailboxes"): MANAGERS,
    ("GET", "/mailboxes/<mailbox_id>"): MANAGERS,
    ("PATCH", "/mailboxes/<mailbox_id>"): MANAGERS,
    ("DELETE", "/mailboxes/<mailbox_id>"): MANAGERS,
    ("PUT", "/mailboxes/<mailbox_id>/folders"): MANAGERS,
    ("POST", "/mailboxes/<mailbox_id>/pause"): MANAGERS,
    ("POST", "/mailboxes/<mailbox_id>/resume"): MANAGERS,
    ("POST", "/mailboxes/<mailbox_id>/test"): MANAGERS,
    ("GET", "/mailboxes/<mailbox_id>/status"): MANAGERS,
    # mail no customer matched: the support team triages it; the quarantine and raw bytes: managers
    ("GET", "/mail/unassigned"): "owner admin member",
    ("POST", "/mail/<mail_id>/assign"): "owner admin member",
    ("GET", "/mail/quarantine"): MANAGERS,
    ("GET", "/mail/<mail_id>/raw"): MANAGERS,
    ("GET", "/tenant"): STAFF,
    ("PATCH", "/tenant"): MANAGERS,
    ("GET", "/me"): EVERYONE,
    ("GET", "/me/tokens"): STAFF,
    ("POST", "/me/tokens"): STAFF,
    ("GET", "/members"): STAFF,
    ("POST", "/members"): MANAGERS,
    ("GET", "/members/<member_id>"): STAFF,
    ("PATCH", "/members/<member_id>"): MANAGERS,
    ("POST", "/members/<member_id>/deactivate"): MANAGERS,
    ("POST", "/members/<member_id>/reactivate"): MANAGERS,
    ("GET", "/members/<member_id>/tokens"): MANAGERS,
    ("POST", "/members/<member_id>/tokens"): MANAGERS,
    ("DELETE", "/tokens/<token_id>"): STAFF,
    # reports: tenant-wide figures, for managers and read-only users
    ("GET", "/reports/ticket-volume"): "owner admin read_only",
    ("GET", "/reports/status"): "owner admin read_only",
    ("GET", "/reports/time"): "owner admin read_only",
    ("GET", "/reports/sla"): "owner admin read_only",
    ("GET", "/reports/ticket-volume/periods"): "owner admin read_only",
    ("GET", "/reports/onboarding-velocity"): "owner admin read_only",
    ("GET", "/reports/status-rules"): "owner admin read_only",
    ("PUT", "/reports/status-rules"): MANAGERS,
    # customer health: a customer's is part of the customer (staff, scoped); the list and settings tenant-wide
    ("GET", "/customers/<customer_id>/health"): STAFF,
    ("GET", "/reports/at-risk"): "owner admin read_only",
    ("GET", "/reports/health-settings"): "owner admin read_only",
    ("PUT", "/reports/health-settings"): MANAGERS,
    # benchmarks and the tenant's headline metrics are reports; the per-customer metrics are customer rows
    # (staff but contractors, who see no SLA figures nor time lists; scoped)
    ("GET", "/reports/benchmarks"): "owner admin read_only",
    ("GET", "/metrics"): "owner admin read_only",
    ("GET", "/customer_metrics"): "owner admin member read_only",
    ("GET", "/sla/policies"): "owner admin member read_only",
    ("PUT", "/sla/policies"): MANAGERS,
    ("DELETE", "/sla/policies/<policy_id>"): MANAGERS,
    ("GET", "/sla/calendar"): "owner admin member read_only",
    ("PUT", "/sla/calendar"): MANAGERS,
    ("POST", "/sla/calendar/holidays"): MANAGERS,
    ("POST", "/sla/calendar/public-holidays"): MANAGERS,
    ("GET", "/sla/settings"): "owner admin member read_only",
    ("PUT", "/sla/settings"): MANAGERS,
    ("GET", "/tickets/<ticket_id>/sla"): "owner admin member read_only",
    ("GET", "/sla/recompute-jobs"): "owner admin member read_only",
    ("GET", "/sla/recompute-jobs/<job_id>"): "owner admin member read_only",
    ("POST", "/tickets"): "owner admin member portal",
    ("GET", "/tickets"): EVERYONE,
    ("GET", "/tickets/<ticket_id>"): EVERYONE,
    ("PATCH", "/tickets/<ticket_id>"): "owner admin member",
    ("POST", "/tickets/<ticket_id>/status"): "owner admin member contractor",
    ("POST", "/tickets/<ticket_id>/messages"): "owner admin member portal",
    ("GET", "/tickets/<ticket_id>/messages"): EVERYONE,
    ("POST", "/tickets/<ticket_id>/assign"): "owner admin member",
    ("GET", "/teams"): STAFF,
    ("POST", "/teams"): MANAGERS,
    ("PATCH", "/teams/<team_id>"): MANAGERS,
    ("DELETE", "/teams/<team_id>"): MANAGERS,
    ("GET", "/canned-responses"): STAFF,
    ("POST", "/canned-responses"): MANAGERS,
    ("DELETE", "/canned-responses/<canned_id>"): MANAGERS,
    ("POST", "/canned-responses/<canned_id>/render"): STAFF,
    ("GET", "/ticket-categories"): EVERYONE,
    ("POST", "/ticket-categories"): MANAGERS,
    ("DELETE", "/ticket-categories/<name>"): MANAGERS,
    # time: contractors log and correct their own, and do not read time lists (money-adjacent)
    ("POST", "/time-entries"): "owner admin member contractor",
    ("GET", "/time-entries"): "owner admin member read_only",
    ("GET", "/time-entries/<entry_id>"): "owner admin member read_only",
    ("PATCH", "/time-entries/<entry_id>"): "owner admin member contractor",
    ("DELETE", "/time-entries/<entry_id>"): "owner admin member contractor",
    # money (issue 10): rates, invoices and exports are the owner's alone (an admin does all but billing)
    ("GET", "/billing/profile"): "owner",
    ("PATCH", "/billing/profile"): "owner",
    ("PUT", "/billing/profile/logo"): "owner",
    ("GET", "/customers/<customer_id>/billing"): "owner",
    ("PATCH", "/customers/<customer_id>/billing"): "owner",
    ("POST", "/rates"): "owner",
    ("GET", "/rates"): "owner",
    ("POST", "/fixed-fees"): "owner",
    ("POST", "/retainers"): "owner",
    ("GET", "/customers/<customer_id>/agreements"): "owner",
    ("PUT", "/projects/<project_id>/budget"): "owner",
    ("GET", "/projects/<project_id>/budget"): "owner",
    ("POST", "/invoices"): "owner",
    ("GET", "/invoices"): "owner",
    ("GET", "/invoices/<invoice_id>"): "owner",
    ("PATCH", "/invoices/<invoice_id>"): "owner",
    ("DELETE", "/invoices/<invoice_id>"): "owner",
    ("POST", "/invoices/<invoice_id>/lines"): "owner",
    ("PATCH", "/invoices/<invoice_id>/lines/<line_id>"): "owner",
    ("DELETE", "/invoices/<invoice_id>/lines/<line_id>"): "owner",
    ("POST", "/invoices/<invoice_id>/issue"): "owner",
    ("POST", "/invoices/<invoice_id>/payments"): "owner",
    ("POST", "/invoices/<invoice_id>/void"): "owner",
    ("POST", "/invoices/<invoice_id>/credit-notes"): "owner",
    ("GET", "/invoices/<invoice_id>/entries"): "owner",
    ("GET", "/invoices/<invoice_id>/pdf"): "owner",
    ("GET", "/exports/invoices.csv"): "owner",
    ("GET", "/exports/quickbooks-online.csv"): "owner",
    ("GET", "/exports/quickbooks.iif"): "owner",
    ("GET", "/exports/time-entries.csv"): "owner",
    # the stopwatch and weekly timesheets: whoever logs time runs timers and submits their week; owners,
    # admins and named approvers (members) approve; the time setup is the managers'
    ("POST", "/timers"): "owner admin member contractor",
    ("GET", "/timers"): "owner admin member contractor",
    ("GET", "/timers/<timer_id>"): "owner admin member contractor",
    ("POST", "/timers/<timer_id>/pause"): "owner admin member contractor",
    ("POST", "/timers/<timer_id>/resume"): "owner admin member contractor",
    ("POST", "/timers/<timer_id>/touch"): "owner admin member contractor",
    ("POST", "/timers/<timer_id>/stop"): "owner admin member contractor",
    ("DELETE", "/timers/<timer_id>"): "owner admin member contractor",
    ("GET", "/timesheets"): "owner admin member contractor",
    ("GET", "/timesheets/<member_id>/<day>"): "owner admin member contractor",
    ("POST", "/timesheets/<member_id>/<day>/submit"): "owner admin member contractor",
    ("POST", "/timesheets/<member_id>/<day>/reopen"): "owner admin member contractor",
    ("POST", "/timesheets/<member_id>/<day>/approve"): "owner admin member",
    ("POST", "/timesheets/<member_id>/<day>/reject"): "owner admin member",
    ("GET", "/time-categories"): "owner admin member contractor",
    ("POST", "/time-categories"): MANAGERS,
    ("PATCH", "/time-categories/<category_id>"): MANAGERS,
    ("GET", "/billing-defaults/<level>/<subject_id>"): MANAGERS,
    ("PUT", "/billing-defaults/<level>/<subject_id>"): MANAGERS,
    ("GET", "/time-settings"): "owner admin member contractor",
    ("PATCH", "/time-settings"): MANAGERS,
    ("GET", "/timesheet-approvers/<member_id>"): MANAGERS,
    ("PUT", "/timesheet-approvers/<member_id>"): MANAGERS,
    # the work plan: staff read projects and tasks, portal users their company's shared ones; members
    # change them, contractors move tasks; managers keep templates, custom fields and board settings
    ("GET", "/customers/<customer_id>/lifecycle"): STAFF,
    ("GET", "/custom-fields"): STAFF,
    ("PUT", "/custom-fields/<key>"): MANAGERS,
    ("DELETE", "/custom-fields/<key>"): MANAGERS,
    ("POST", "/customers/<customer_id>/projects"): "owner admin member",
    ("GET", "/customers/<customer_id>/projects"): EVERYONE,
    ("GET", "/projects"): EVERYONE,
    ("GET", "/projects/<project_id>"): EVERYONE,
    ("PATCH", "/projects/<project_id>"): "owner admin member",
    ("DELETE", "/projects/<project_id>"): "owner admin member",
    ("GET", "/projects/<project_id>/kanban"): EVERYONE,
    ("GET", "/projects/<project_id>/gantt"): EVERYONE,
    ("GET", "/projects/<project_id>/tasks"): EVERYONE,
    ("GET", "/projects/<project_id>/tasks.csv"): EVERYONE,
    ("POST", "/projects/<project_id>/tasks"): "owner admin member",
    ("POST", "/projects/<project_id>/template-upgrade"): "owner admin member",
    ("POST", "/projects/<project_id>/import"): "owner admin member",
    ("GET", "/work-settings"): STAFF,
    ("PUT", "/work-settings"): MANAGERS,
    ("GET", "/tasks/<task_id>"): EVERYONE,
    ("PATCH", "/tasks/<task_id>"): "owner admin member",
    ("POST", "/tasks/<task_id>/move"): "owner admin member contractor",
    ("DELETE", "/tasks/<task_id>"): "owner admin member",
    ("GET", "/onboarding-templates"): STAFF,
    ("POST", "/onboarding-templates"): MANAGERS,
    ("GET", "/onboarding-templates/<template_id>"): STAFF,
    ("PUT", "/onboarding-templates/<template_id>"): MANAGERS,
    ("POST", "/customers/<customer_id>/onboarding"): "owner admin member",
    # forms: staff read forms and a customer's submissions, managers build and send them; the link's token
    # is the credential of whoever fills the form in
    ("GET", "/forms"): STAFF,
    ("POST", "/forms"): MANAGERS,
    ("GET", "/forms/<form_id>"): STAFF,
    ("PATCH", "/forms/<form_id>"): MANAGERS,
    ("POST", "/customers/<customer_id>/form-links"): MANAGERS,
    ("GET", "/customers/<customer_id>/form-submissions"): STAFF,
    ("GET", "/forms/by-link/<token>"): "anyone",
    ("POST", "/forms/by-link/<token>/submissions"): "anyone",
    # the satisfaction survey a resolved ticket's requester gets: staff read the setting, managers change it
    ("GET", "/survey-settings"): STAFF,
    ("PUT", "/survey-settings"): MANAGERS,
    # the portal's forms: a portal user fills in the portal-visible forms for their own company (the company
    # is the portal user's, never named); managers may look at what the portal offers
    ("GET", "/portal/forms"): "owner admin portal",
    ("GET", "/portal/forms/<form_id>"): "owner admin portal",
    ("POST", "/portal/forms/<form_id>/submissions"): "owner admin portal",
    # the import as a background job: whoever may import into the project, and see its progress
    ("POST", "/projects/<project_id>/import-jobs"): "owner admin member",
    ("GET", "/import-jobs/<import_job_id>"): "owner admin member",
}

# what customer a route's answer depends on: the customer named in the path (`path`), the customer of
# the ticket, time entry or follow-up named in the path (`ticket`, `entry`, `followup`), a customer or
# ticket named in the body (`body`, `body_ticket`), or the rows of a list (`list`, filtered by
# `customer_id=`); absent: none
TARGET: dict[tuple[str, str], str] = {
    ("POST", "/mail/<mail_id>/assign"): "body",
    ("GET", "/customers"): "list",
    ("GET", "/customers/<customer_id>"): "path",
    ("PATCH", "/customers/<customer_id>"): "path",
    ("POST", "/customers/<customer_id>/contacts"): "path",
    ("GET", "/customers/<customer_id>/contacts"): "path",
    ("POST", "/customers/<customer_id>/contacts/<contact_id>/archive"): "path",
    ("POST", "/customers/<customer_id>/contacts/<contact_id>/portal-invite"): "path",
    ("DELETE", "/customers/<customer_id>/contacts/<contact_id>/portal-access"): "path",
    ("GET", "/customers/<customer_id>/team"): "path",
    ("PUT", "/customers/<customer_id>/team/<member_id>"): "path",
    ("DELETE", "/customers/<customer_id>/team/<member_id>"): "path",
    ("GET", "/customers/<customer_id>/timeline"): "path",
    ("POST", "/customers/<customer_id>/interactions"): "path",
    ("POST", "/customers/<customer_id>/timeline/<activity_id>/corrections"): "path",
    ("POST", "/customers/<customer_id>/timeline/<activity_id>/retraction"): "path",
    ("GET", "/customers/<customer_id>/timeline/<activity_id>/history"): "path",
    ("GET", "/activity"): "list",
    ("POST", "/customers/<customer_id>/followups"): "path",
    ("GET", "/followups"): "list",
    ("GET", "/followups/<followup_id>"): "followup",
    ("PATCH", "/followups/<followup_id>"): "followup",
    ("POST", "/followups/<followup_id>/postpone"): "followup",
    ("POST", "/followups/<followup_id>/complete"): "followup",
    ("POST", "/followups/<followup_id>/reassign"): "followup",
    ("POST", "/followups/<followup_id>/cancel"): "followup",
    ("GET", "/tickets/<ticket_id>/sla"): "ticket",
    ("POST", "/tickets"): "body",
    ("GET", "/tickets"): "list",
    ("GET", "/tickets/<ticket_id>"): "ticket",
    ("PATCH", "/tickets/<ticket_id>"): "ticket",
    ("POST", "/tickets/<ticket_id>/status"): "ticket",
    ("POST", "/tickets/<ticket_id>/messages"): "ticket",
    ("GET", "/tickets/<ticket_id>/messages"): "ticket",
    ("POST", "/tickets/<ticket_id>/assign"): "ticket",
    ("POST", "/canned-responses/<canned_id>/render"): "body_ticket",
    ("POST", "/time-entries"): "body",
    ("GET", "/time-entries"): "list",
    ("GET", "/time-entries/<entry_id>"): "entry",
    ("PATCH", "/time-entries/<entry_id>"): "entry",
    ("DELETE", "/time-entries/<entry_id>"): "entry",
    ("GET", "/customers/<customer_id>/billing"): "path",
    ("PATCH", "/customers/<customer_id>/billing"): "path",
    ("GET", "/customers/<customer_id>/agreements"): "path",
    ("PUT", "/projects/<project_id>/budget"): "project",
    ("GET", "/projects/<project_id>/budget"): "project",
    ("POST", "/timers"): "body",
    # the work plan: `project` / `task`, the customer of the project or task named in the path
    ("GET", "/customers/<customer_id>/lifecycle"): "path",
    ("POST", "/customers/<customer_id>/projects"): "path",
    ("GET", "/customers/<customer_id>/projects"): "path",
    ("GET", "/projects"): "list",
    ("POST", "/projects/<project_id>/import-jobs"): "project",
    ("GET", "/import-jobs/<import_job_id>"): "project",  # the job's project's customer
    ("GET", "/customer_metrics"): "list",
    ("GET", "/projects/<project_id>"): "project",
    ("PATCH", "/projects/<project_id>"): "project",
    ("DELETE", "/projects/<project_id>"): "project",
    ("GET", "/projects/<project_id>/kanban"): "project",
    ("GET", "/projects/<project_id>/gantt"): "project",
    ("GET", "/projects/<project_id>/tasks"): "project",
    ("GET", "/projects/<project_id>/tasks.csv"): "project",
    ("POST", "/projects/<project_id>/tasks"): "project",
    ("POST", "/projects/<project_id>/template-upgrade"): "project",
    ("POST", "/projects/<project_id>/import"): "project",
    ("GET", "/tasks/<task_id>"): "task",
    ("PATCH", "/tasks/<task_id>"): "task",
    ("POST", "/tasks/<task_id>/move"): "task",
    ("DELETE", "/tasks/<task_id>"): "task",
    ("POST", "/customers/<customer_id>/onboarding"): "path",
    ("POST", "/customers/<customer_id>/form-links"): "path",
    ("GET", "/customers/<customer_id>/form-submissions"): "path",
    ("GET", "/customers/<customer_id>/health"): "path",
}

# a valid body for each route that takes one and names a customer (others get {}: past authorisation,
# their validation answers)
BODIES: dict[tuple[str, str], dict] = {
    ("PUT", "/reports/status-rules"): {"min_last_week": 2},
    ("PATCH", "/mailboxes/<mailbox_id>"): {"name": "Support desk"},
    ("PUT", "/mailboxes/<mailbox_id>/folders"): {"folders": ["INBOX", "Support"]},
    ("POST", "/mail/<mail_id>/assign"): {},
    ("POST", "/customers"): {"name": "Acme", "tier": "smb"},
    ("PATCH", "/customers/<customer_id>"): {"name": "Acme Two"},
    ("POST", "/customers/<customer_id>/contacts"): {"name": "Jo", "email": "jo@acme.example"},
    ("PUT", "/customers/<customer_id>/team/<member_id>"): {"internal_access": False},
    ("POST", "/customers/<customer_id>/contacts/<contact_id>/portal-invite"): {"expires_in_days": 7},
    ("POST", "/portal/accept"): {"invite": "csi_an-invite"},
    ("POST", "/customers/<customer_id>/interactions"): {"kind": "call", "summary": "rang them"},
    ("POST", "/customers/<customer_id>/timeline/<activity_id>/corrections"): {"summary": "rang them twice"},
    ("POST", "/customers/<customer_id>/timeline/<activity_id>/retraction"): {"reason": "wrong customer"},
    ("PUT", "/interaction-types/<kind>"): {"label": "Quarterly review"},
    ("POST", "/activity-views"): {"name": "Calls"},
    ("POST", "/customers/<customer_id>/followups"): {"due_at": "2099-01-01T09:00:00Z", "note": "call back"},
    ("PATCH", "/followups/<followup_id>"): {"note": "call back on Friday"},
    ("POST", "/followups/<followup_id>/postpone"): {"preset": "tomorrow"},
    ("POST", "/followups/<followup_id>/complete"): {"resolution": "called"},
    ("POST", "/followups/<followup_id>/reassign"): {"assignee_id": "9d1e3b9a-3f0e-4a57-9a43-7f8e0b1c2d3e"},
    ("POST", "/followups/<followup_id>/cancel"): {},
    ("POST", "/tickets"): {"subject": "Printer on fire"},  # + customer_id
    ("PATCH", "/tickets/<ticket_id>"): {"subject": "Printer still on fire"},
    ("POST", "/tickets/<ticket_id>/status"): {"status": "open"},
    ("POST", "/tickets/<ticket_id>/messages"): {"kind": "inbound", "body": "help"},
    ("POST", "/tickets/<ticket_id>/assign"): {"assignee_id": None},
    ("POST", "/canned-responses/<canned_id>/render"): {},  # + ticket_id
    ("POST", "/time-entries"): {"minutes": 30},  # + customer_id
    ("PATCH", "/time-entries/<entry_id>"): {"minutes": 45},
    ("PUT", "/projects/<project_id>/budget"): {"kind": "hours", "amount": 600},
    ("POST", "/timers"): {},  # + customer_id
    ("POST", "/timesheets/<member_id>/<day>/submit"): {},
    ("POST", "/timesheets/<member_id>/<day>/reopen"): {"comment": "fix Tuesday"},
    ("POST", "/timesheets/<member_id>/<day>/approve"): {},
    ("POST", "/timesheets/<member_id>/<day>/reject"): {"comment": "Tuesday is missing"},
    ("POST", "/time-categories"): {"name": "Support", "billable": True},
    ("PATCH", "/time-categories/<category_id>"): {"archived": True},
    ("PUT", "/billing-defaults/<level>/<subject_id>"): {"billable": True},
    ("PATCH", "/time-settings"): {"timer_limit_minutes": 600},
    ("PUT", "/timesheet-approvers/<member_id>"): {"approver_ids": []},
    ("PUT", "/custom-fields/<key>"): {"label": "Region", "type": "text"},
    ("POST", "/customers/<customer_id>/projects"): {"name": "Rollout"},
    ("PATCH", "/projects/<project_id>"): {"name": "Rollout two"},
    ("POST", "/projects/<project_id>/tasks"): {"title": "Kickoff"},
    ("POST", "/projects/<project_id>/template-upgrade"): {},
    ("POST", "/projects/<project_id>/import"): {"csv": "Name,Status,Created time\nKickoff,Done,\n"},
    ("PUT", "/work-settings"): {"project_statuses": ["active", "done"]},
    ("PATCH", "/tasks/<task_id>"): {"title": "Kickoff call"},
    ("POST", "/tasks/<task_id>/move"): {"status": "done"},
    ("POST", "/onboarding-templates"): {"name": "Standard",
                                        "steps": [{"key": "kickoff", "title": "Kickoff", "day": 0}]},
    ("PUT", "/onboarding-templates/<template_id>"): {"name": "Standard",
                                                     "steps": [{"key": "kickoff", "title": "Kickoff", "day": 0}]},
    ("POST", "/customers/<customer_id>/onboarding"): {"template_id": "5b0e8b1e-8a53-4c2e-9d8e-2f1f7f3c4a10"},
    ("POST", "/forms"): {"name": "Check-in", "definition": {"sections": [{"key": "s", "fields": [
        {"key": "nps", "type": "nps", "label": "Recommend us?"}]}]}},
    ("PATCH", "/forms/<form_id>"): {"name": "Check-in two"},
    ("POST", "/customers/<customer_id>/form-links"): {"form_id": "5b0e8b1e-8a53-4c2e-9d8e-2f1f7f3c4a11"},
    ("POST", "/forms/by-link/<token>/submissions"): {"answers": {"nps": 9}},
    ("PUT", "/survey-settings"): {"enabled": False},
    ("POST", "/projects/<project_id>/import-jobs"): {"csv": "Name,Section/Column\nKickoff,To do\n"},
    ("PUT", "/reports/health-settings"): {"healthy": 75},
}

CUSTOMERS = ("own", "other", "foreign")  # ours, worked on by every scoped user; ours, by none; another tenant's


@pytest.fixture
def app(reused_app):
    return reused_app


def allowed(role: str, route) -> bool:
    who = ALLOWED[route]
    return who == "anyone" or role in who.split()


def sees(role: str, customer: str) -> bool:
    """Whether the role sees the customer's rows: never another tenant's; a scoped role only its own."""
    return customer == "own" or (customer == "other" and role not in SCOPED)


def expected(role: str, route, customer: str | None) -> int | str:
    """The status the route must answer (`"ok"`: its success status; `"past"`: anything but 403/5xx)."""
    if not allowed(role, route):
        return 403
    target = TARGET.get(route)
    if target is None:
        return "ok" if route in BODIES or route[0] in ("GET", "DELETE") else "past"
    if role == "portal" and route == ("GET", "/tickets") and customer != "own":
        return 403  # a portal user filtering on another company is told it sees its own only
    if target == "list" or sees(role, customer):
        return "ok"
    if role == "portal" and route == ("POST", "/tickets"):
        return 403  # a portal user opens tickets for their own company, and is told so
    return 422 if target in ("body", "body_ticket") else 404


# --- the world the double holds ---

class World:
    def __init__(self, tenant: str, own: str):
        self.tenant, self.foreign_tenant = tenant, str(uuid.uuid4())
        self.customer = {"own": own, "other": str(uuid.uuid4()), "foreign": str(uuid.uuid4())}
        self.tenant_of = {self.customer["own"]: tenant, self.customer["other"]: tenant,
                          self.customer["foreign"]: self.foreign_tenant}
        self.ticket, self.entry, self.followup, self.customer_of = {}, {}, {}, {}
        for name, customer in self.customer.items():
            self.ticket[name], self.entry[name], self.followup[name] = (str(uuid.uuid4()) for _ in range(3))
            for thing in (self.ticket[name], self.entry[name], self.followup[name]):
                self.customer_of[thing] = customer
                self.tenant_of[thing] = self.tenant_of[customer]
        self.project, self.task, self.job = {}, {}, {}  # the work plan's, one of each per customer
        for name, customer in self.customer.items():
            self.project[name], self.task[name], self.job[name] = (str(uuid.uuid4()) for _ in range(3))
            for thing in (self.project[name], self.task[name], self.job[name]):
                self.customer_of[thing] = customer
                self.tenant_of[thing] = self.tenant_of[customer]
        # ids of things that belong to a tenant but to no customer (members, teams, tokens...)
        self.plain = {True: str(uuid.uuid4()), False: str(uuid.uuid4())}  # ours / another tenant's
        self.tenant_of[self.plain[True]], self.tenant_of[self.plain[False]] = tenant, self.foreign_tenant

    def refuse_foreign(self, tenant, method, args) -> None:
        """As every service does: another tenant's id in a path is not found, in a body (or the ticket a
        canned response is rendered for) unknown; a list filtered on one is empty (`rows`)."""
        for position, arg in enumerate(args):
            if isinstance(arg, str) and self.tenant_of.get(arg, tenant) != tenant:
                if method == "render_canned_response" and position == 1:
                    raise InvalidInput("unknown ticket", [{"field": "ticket_id", "message": "no such ticket"}])
                raise NotFound(f"{arg} not found")
            if isinstance(arg, dict) and not method.startswith("list_"):
                for field, value in arg.items():
                    if isinstance(value, str) and self.tenant_of.get(value, tenant) != tenant:
                        raise InvalidInput("unknown", [{"field": field, "message": "no such thing in this tenant"}])

    def rows(self, tenant, filters, kind):
        f = filters or {}
        found = [{"id": thing[name], "customer_id": c} for name, c in self.customer.items()
                 for thing in [kind] if self.tenant_of[c] == tenant]
        if f.get("customer_id"):
            found = [r for r in found if r["customer_id"] == f["customer_id"]]
        if f.get("customer_ids") is not None:
            found = [r for r in found if r["customer_id"] in f["customer_ids"]]
        return {"items": found, "next_cursor": None, "total": len(found)}

    def answer(self, service, method):
        def respond(tenant=None, *args):
            self.refuse_foreign(tenant, method, args)
            if method in ("get_ticket", "get_time_entry", "get_followup"):
                return {"id": args[0], "customer_id": self.customer_of.get(args[0], self.customer["own"])}
            if method in ("get_project", "get_task"):
                return {"id": args[0], "customer_id": self.customer_of.get(args[0], self.customer["own"])}
            if method == "get_import_job":  # a job of one of the customers' projects
                name = next((n for n, job in self.job.items() if job == args[0]), "own")
                return {"id": args[0], "project_id": self.project[name], "status": "running"}
            if method == "list_projects":
                return self.rows(tenant, args[0], self.project)
            if method == "apply_template":
                return {"created": True, "project": {"id": str(uuid.uuid4()), "customer_id": args[0]}}
            if method == "import_tasks":
                return {"tool": "notion", "delimiter": ",", "mapping": {}, "rows": 0, "dry_run": True, "created": 0,
                        "would_create": [], "already_imported": 0, "errors": [], "warnings": [], "next_offset": None}
            if method == "export_tasks":
                return {"columns": ["id"], "rows": [], "next_cursor": None}
            if method == "list_tickets":
                return self.rows(tenant, args[0], self.ticket)
            if method == "customer_metrics":  # (customer_ids, limit, cursor)
                doc = self.rows(tenant, {"customer_ids": args[0]}, self.customer)
                return {**doc, "items": [{"customer_id": r["customer_id"]} for r in doc["items"]]}
            if method == "list_time_entries":
                return self.rows(tenant, args[0], self.entry)
            if method == "list_followups":
                return self.rows(tenant, args[0], self.followup)
            if method == "list_customers":
                doc = self.rows(tenant, args[0], self.customer)
                return {**doc, "items": [{"id": r["customer_id"]} for r in doc["items"]]}
            if method == "list_messages":
                notes = [{"kind": "note", "internal": True}] if args[1] else []
                return {"items": [{"kind": "inbound", "internal": False}, *notes], "next_cursor": None}
            if method == "list_activities":
                internal = [{"type": "interaction.note", "internal": True}] if args[1]["include_internal"] else []
                return {"items": [{"type": "ticket.created", "internal": False}, *internal], "next_cursor": None}
            if method == "list_tenant_activities":
                return self.rows(tenant, args[0], self.ticket)
            if method in ("export_activities", "export_audit"):
                return {"columns": ["id"], "rows": [], "next_cursor": None}
            return {"id": str(uuid.uuid4()), "customer_id": self.customer["own"], "name": "Ada", "items": [],
                    "next_cursor": None}
        return respond


def _routes():
    from gateway import roles

    prefix = "/api/v1"
    return [(m, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"<\1>", p[len(prefix):])) for p, m, _ in
            roles.endpoint_permissions()]


CASES = [(role, route, customer) for route in ALLOWED for role in ROLES
         for customer in (CUSTOMERS if TARGET.get(route) else (None,))]


@pytest.fixture
def world(services, ids):
    world = World(ids["tenant"], ids["portal_customer"])  # the portal user's company is the scoped users' own
    services.assigned = {world.customer["own"]}
    services.internal = set()
    answer_scope = services.answers[("customers", "scope_of")]
    services.answers = {("customers", "authenticate"): services.answers[("customers", "authenticate")],
                        ("customers", "scope_of"): answer_scope}

    def call(service, method, *args, **kwargs):
        services.calls.append((service, method, args))
        if (service, method) in services.answers:
            return services.answers[(service, method)](*args, **kwargs)
        return world.answer(service, method)(*args, **kwargs)

    services.call = call
    return world


def test_every_route_has_a_hand_written_expectation():
    assert set(_routes()) == set(ALLOWED), "a route was added or removed: write down who may call it"
    assert set(TARGET) <= set(ALLOWED) and set(BODIES) <= set(ALLOWED)


def _request(client, world, route, customer, plain_ours=True):
    method, rule = route
    target = TARGET.get(route)
    values = {"customer_id": world.customer.get(customer, world.customer["own"]),
              "ticket_id": world.ticket.get(customer, world.ticket["own"]),
              "entry_id": world.entry.get(customer, world.entry["own"]), "name": "hardware",
              "followup_id": world.followup.get(customer, world.followup["own"])}
    values.update(project_id=world.project.get(customer, world.project["own"]),
                  task_id=world.task.get(customer, world.task["own"]),
                  import_job_id=world.job.get(customer, world.job["own"]))
    path = re.sub(r"<([^<>]+)>", lambda m: values.get(m.group(1), world.plain[plain_ours]), rule)
    body = dict(BODIES.get(route, {}))
    if target == "body":
        body["customer_id"] = world.customer[customer]
    if target == "body_ticket":
        body["ticket_id"] = world.ticket[customer]
    filtered = target == "list" and customer != "own" and rule != "/customers"  # lists that take customer_id=
    query = f"?customer_id={world.customer[customer]}" if filtered else ""
    return lambda headers: client.open("/api/v1" + path + query, method=method, headers=headers,
                                       json=body if method != "GET" else None)


@pytest.mark.parametrize("role, route, customer", CASES,
                         ids=[f"{r}-{m}-{p}-{c}" for r, (m, p), c in CASES])
def test_role_route_customer(client, bearer, world, role, route, customer):
    want = expected(role, route, customer)
    response = _request(client, world, route, customer)(bearer(role) if ALLOWED[route] != "anyone" else {})
    text = response.get_data(as_text=True)
    if want == "ok":
        assert 200 <= response.status_code < 300, text
    elif want == "past":
        assert response.status_code not in (401, 403) and response.status_code < 500, text
    else:
        assert response.status_code == want, text
    if want == "ok" and TARGET.get(route) == "list":
        # no row of a customer the role does not see
        seen = {item.get("customer_id", item.get("id")) for item in response.get_json()["items"]}
        assert seen <= {c for name, c in world.customer.items() if sees(role, name)}, seen


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", [r for r in ALLOWED if not TARGET.get(r) and "_id>" in r[1]],
                         ids=lambda r: f"{r[0]}-{r[1]}")
def test_another_tenants_things_are_not_found(client, bearer, world, role, route):
    """Ids of another tenant's members, teams, tokens, policies... are not found (never changed)."""
    if not allowed(role, route):
        return  # refused whatever it names (the case above)
    response = _request(client, world, route, None, plain_ours=False)(bearer(role))
    if route in BODIES or route[0] in ("GET", "DELETE"):
        assert response.status_code == 404, response.get_data(as_text=True)
    else:
        assert response.status_code not in (200, 201, 403) and response.status_code < 500


@pytest.mark.parametrize("role, internal_access, sees_internal", [
    ("owner", False, True), ("admin", False, True), ("member", False, True), ("read_only", False, True),
    ("contractor", False, False), ("contractor", True, True), ("portal", False, False)])
def test_internal_notes_and_timeline_entries(client, bearer, world, services, role, internal_access, sees_internal):
    if internal_access:
        services.internal = {world.customer["own"]}
    messages = client.get(f"/api/v1/tickets/{world.ticket['own']}/messages", headers=bearer(role)).get_json()
    assert any(m["internal"] for m in messages["items"]) is sees_internal
    timeline = client.get(f"/api/v1/customers/{world.customer['own']}/timeline", headers=bearer(role)).get_json()
    assert any(a["internal"] for a in timeline["items"]) is sees_internal


# --- the matrix as printed in docs/access.md ---

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"
BEGIN, END = "<!-- scope matrix: begin -->", "<!-- scope matrix: end -->"
_CELL = {"all": "✓", "own": "own", "no": "—"}


def matrix_markdown() -> str:
    columns = ("owner", "admin", "member", "contractor", "read_only", "portal")
    lines = [BEGIN, "", "| route | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for route in ALLOWED:
        cells = []
        for role in columns:
            if ALLOWED[route] != "anyone" and not allowed(role, route):
                cells.append(_CELL["no"])
            elif TARGET.get(route) and role in SCOPED:
                cells.append(_CELL["own"])
            else:
                cells.append(_CELL["all"])
        lines.append(f"| `{route[0]} {route[1]}` | " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", END])


def test_the_matrix_in_the_docs_is_current():
    text = DOC.read_text()
    assert BEGIN in text and END in text, "run `python gateway/tests/test_scope_matrix.py --write`"
    current = text[text.index(BEGIN):text.index(END) + len(END)]
    assert current == matrix_markdown(), "docs/access.md's matrix is stale: run this file with --write"


if __name__ == "__main__" and "--write" in sys.argv:
    text = DOC.read_text()
    block = matrix_markdown()
    text = (text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]) if BEGIN in text else (
        text.rstrip("\n") + "\n\n" + block + "\n")
    DOC.write_text(text)
    print(f"wrote the scope matrix to {DOC}")
