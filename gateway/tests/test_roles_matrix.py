"""Walk every role × endpoint: 403 exactly where `gateway.roles.PERMISSIONS` says so.

Every service answer is registered on the in-memory double, so an allowed call gets past the
authorisation check (then to 2xx or a 400 for the empty body); a refused call is a 403 before any
service is called.
"""
from __future__ import annotations

import re
import uuid

import pytest

from gateway import roles

FIXED_ID = str(uuid.uuid4())


@pytest.fixture
def app(reused_app):
    return reused_app


def _concrete(path: str) -> str:
    path = re.sub(r"<uuid:[^>]+>", FIXED_ID, path)
    return re.sub(r"<[^>]+>", "hardware", path)  # a name in the path (a ticket category)


def _answer(*args):
    return {"id": FIXED_ID, "customer_id": args[1] if len(args) > 1 and isinstance(args[1], str) else FIXED_ID,
            "items": [], "next_cursor": None,
            # scope_of: every scoped member is on the team of the one customer the paths name
            "customer_ids": [FIXED_ID], "internal_customer_ids": []}


MATRIX = [(role, path, method, permission)
          for path, method, permission in roles.endpoint_permissions()
          for role in roles.ROLES]


def test_the_matrix_covers_every_route_of_the_app(app):
    api_rules = {(r.rule, m) for r in app.url_map.iter_rules() if r.rule.startswith("/api/")
                 for m in r.methods - {"HEAD", "OPTIONS"}}
    assert api_rules == {(path, method) for path, method, _ in roles.endpoint_permissions()}
    # 18 resource endpoints + the OpenAPI document + 12 SLA endpoints + 13 help-desk endpoints
    # + get/correct/delete one time entry + get/change the tenant's settings + archive a contact
    # + archive a team, remove a category + 12 access endpoints (me, members, tokens) + 3 account-team ones
    # + the audit log and its CSV export + the portal (invite, take access away, accept an invite)
    # + 9 follow-up endpoints
    # + 14 activity-log endpoints (corrections, history, the tenant's feed + CSV, heatmaps, kinds, views)
    # + 28 work-plan endpoints (projects, views, tasks, templates, custom fields, lifecycle, work settings, import)
    # + 30 money endpoints (profile and its logo, customer billing, rates, fees, retainers, budgets, invoices,
    #   exports)
    # + 23 time-tracking endpoints (8 timers, 6 timesheets, 9 time setup)
    # + 11 mail intake endpoints (change/remove a mailbox, folders, pause, resume, test, status; unassigned
    #   queue + assign, quarantine, raw bytes)
    # + 4 customer-health endpoints (a customer's health, the at-risk list, get/put health settings)
    # + 7 report endpoints (status, time, SLA attainment, get/put status rules, ticket volume by period,
    #   onboarding velocity)
    # + 3 metrics endpoints (benchmarks, the tenant's headline metrics, per-customer metrics)
    # + 8 form endpoints (list/create/get/change forms, a link for a customer, open and submit by link, submissions)
    # + 7 more of the work plan: get/put the survey settings, the portal's forms (list, get, submit), an import
    #   job (start, progress)
    assert len(api_rules) == (19 + 12 + 13 + 3 + 2 + 1 + 2 + 12 + 3 + 2 + 3 + 9 + 28 + 14 + 30 + 23 + 11 + 4 + 7 + 8 + 7
                              + 3)


def test_every_route_permission_is_in_the_table():
    for path, method, permission in roles.endpoint_permissions():
        assert permission is None or permission in roles.PERMISSIONS, (path, method)


def test_the_table_follows_the_role_rules():
    everything = set(roles.PERMISSIONS)
    granted = {role: {p for p in everything if roles.allowed(role, p)} for role in roles.ROLES}
    assert granted["owner"] == everything
    assert granted["admin"] == {p for p in everything if not p.startswith("billing:")}
    assert granted["read_only"] == {p for p in everything if p.endswith(":read") and not p.startswith(
        ("billing:", "mailboxes:", "audit:"))} | {"timeline:internal", "tickets:internal", "tokens:own"}
    assert granted["portal"] == {"tickets:read", "tickets:write", "me:read", "projects:read", "timeline:read",
                                 "forms:respond"}
    assert "customers:write" not in granted["member"] and "tickets:write" in granted["member"]
    assert granted["contractor"] == {"customers:read", "tickets:read", "timeline:read", "time:write",
                                     "activity:read", "activity:views",
                                     "tickets:status", "helpdesk:read", "tenant:read", "members:read", "me:read",
                                     "tokens:own", "followups:read", "followups:write", "projects:read",
                                     "templates:read", "tasks:status", "forms:read"}
    # the team is managed by owners and admins; everyone has a /me, staff manage their own tokens
    for permission in ("members:write", "tokens:others", "audit:read"):
        assert {r for r in roles.ROLES if permission in granted[r]} == {"owner", "admin"}
    assert all("me:read" in granted[r] for r in roles.ROLES)
    assert "tenant:write" not in granted["member"] and "tenant:read" not in granted["portal"]
    assert "tickets:internal" not in granted["contractor"] and "tickets:manage" in granted["member"]
    assert not roles.allowed("superuser", "customers:read")  # unknown roles get nothing


@pytest.mark.parametrize("role, path, method, permission", MATRIX,
                         ids=[f"{r}-{m}-{p}" for r, p, m, _ in MATRIX])
def test_role_on_endpoint(client, services, bearer, role, path, method, permission):
    for service, method_name in [
        ("customers", m) for m in ("create_customer", "get_customer", "list_customers", "update_customer",
                                   "create_contact", "list_contacts", "archive_contact", "get_tenant",
                                   "update_tenant_settings")] + [
        ("tickets", m) for m in ("create_ticket", "get_ticket", "list_tickets", "change_status")] + [
        ("tickets", m) for m in ("update_ticket", "add_message", "list_messages", "assign_ticket",
                                 "assign_round_robin", "create_team", "list_teams", "update_team",
                                 "create_canned_response", "list_canned_responses", "delete_canned_response",
                                 "render_canned_response", "add_category", "list_categories",
                                 "archive_team", "remove_category")] + [
        ("customers", "get_member"), ("customers", "scope_of"), ("customers", "get_account_team"),
        ("customers", "put_account_team_member"), ("customers", "remove_account_team_member")] + [
        ("customers", m) for m in ("whoami", "list_tokens", "issue_token", "revoke_token", "list_members",
                                   "create_member", "update_member", "deactivate_member", "reactivate_member")] + [
        ("tickets", m) for m in ("list_sla_policies", "put_sla_policy", "delete_sla_policy", "get_business_calendar",
                                 "put_business_calendar", "import_holidays_ics", "load_public_holidays",
                                 "get_sla_settings", "put_sla_settings", "get_ticket_sla",
                                 "list_sla_recompute_jobs", "get_sla_recompute_job")] + [
        ("timeline", "list_activities"), ("timeline", "log_interaction"), ("billing", "log_time")] + [
        ("timeline", m) for m in ("create_followup", "get_followup", "list_followups", "member_followups",
                                  "update_followup", "postpone_followup", "complete_followup",
                                  "reassign_followup", "cancel_followup", "followup_analytics")] + [
        ("billing", "list_time_entries"), ("billing", "get_time_entry"), ("billing", "correct_time_entry"),
        ("billing", "delete_time_entry"), ("reports", "ticket_volume"), ("reports", "status_report"),
        ("reports", "time_report"), ("reports", "sla_attainment"),
        ("reports", "ticket_volume_report"), ("reports", "onboarding_velocity"),
        ("reports", "get_status_rules"), ("reports", "put_status_rules"),
        ("reports", "customer_health"), ("reports", "at_risk"), ("reports", "get_health_settings"),
        ("reports", "put_health_settings"), ("reports", "benchmarks"), ("reports", "headline_metrics"),
        ("reports", "customer_metrics"),
        ("mailsync", "create_mailbox"),
        ("mailsync", "list_mailboxes"), ("mailsync", "get_mailbox")] + [
        ("mailsync", m) for m in ("update_mailbox", "delete_mailbox", "watch_folders", "pause_mailbox",
                                  "resume_mailbox", "test_mailbox_connection", "get_mailbox_status", "list_mail",
                                  "assign_mail", "get_mail_raw")]:
        services.on(service, method_name, _answer)
    services.on("customers", "list_audit", _answer)
    for billing_call in ("get_billing_profile", "set_billing_profile", "get_customer_billing", "set_customer_billing",
                         "create_rate", "list_rates", "create_fixed_fee", "create_retainer", "list_agreements",
                         "set_budget", "get_budget", "draft_invoice", "list_invoices", "get_invoice",
                         "set_invoice_notes", "discard_invoice", "add_invoice_line", "update_invoice_line",
                         "remove_invoice_line", "issue_invoice", "record_payment", "void_invoice",
                         "issue_credit_note", "invoice_entries", "invoice_pdf", "export_invoices",
                         "export_time_entries", "set_billing_logo"):  # money (issue 10)
        services.on("billing", billing_call, _answer)
    for time_call in ("start_timer", "list_timers", "get_timer", "pause_timer", "resume_timer", "touch_timer",
                      "stop_timer", "discard_timer", "list_timesheets", "get_timesheet", "submit_timesheet",
                      "approve_timesheet", "reject_timesheet", "reopen_timesheet", "list_time_categories",
                      "create_time_category", "update_time_category", "get_billing_default", "set_billing_default",
                      "get_time_settings", "update_time_settings", "get_timesheet_approvers",
                      "set_timesheet_approvers"):  # time tracking (issue 10)
        services.on("billing", time_call, _answer)
    for activity_call in ("correct_interaction", "retract_interaction", "activity_history", "list_tenant_activities",
                          "activity_heatmap", "member_heatmap", "list_interaction_types", "define_interaction_type",
                          "list_views", "save_view", "get_view", "update_view", "delete_view"):
        services.on("timeline", activity_call, _answer)
    for work_plan_call in ("customer_lifecycle", "list_custom_fields", "put_custom_field", "remove_custom_field",
                           "create_project", "list_projects", "list_customer_projects", "get_project",
                           "update_project", "delete_project",
                           "project_kanban", "project_gantt", "list_tasks", "create_task", "upgrade_plan",
                           "get_work_settings", "put_work_settings", "get_task", "update_task", "move_task",
                           "delete_task", "list_templates", "create_template", "get_template", "update_template"):
        services.on("customers", work_plan_call, _answer)
    services.on("customers", "apply_template", lambda *args: {"created": True, "project": {"id": FIXED_ID}})
    services.on("customers", "import_tasks", lambda *args: {"created": 0, "already_imported": 0, "warnings": [],
                                                            "next_offset": None})
    services.on("customers", "export_tasks", lambda *args: {"columns": ["id"], "rows": [], "next_cursor": None})
    for form_call in ("list_forms", "create_form", "get_form", "update_form", "create_form_link", "form_by_link",
                      "submit_form_by_link", "list_customer_submissions", "get_survey_settings",
                      "put_survey_settings", "list_portal_forms", "get_portal_form", "submit_portal_form",
                      "start_import_job"):  # forms, surveys, the portal's forms, import jobs (issue 11)
        services.on("customers", form_call, _answer)
    services.on("customers", "get_import_job", lambda *args: {**_answer(*args), "project_id": FIXED_ID})
    for portal_call in ("invite_portal_user", "revoke_portal_access", "accept_portal_invite"):
        services.on("customers", portal_call, _answer)
    services.on("customers", "export_audit", lambda *args: {"columns": ["id"], "rows": [], "next_cursor": None})
    services.on("timeline", "export_activities", lambda *args: {"columns": ["id"], "rows": [], "next_cursor": None})
    headers = bearer(role) if permission else {}
    response = client.open(_concrete(path), method=method, headers=headers, json={} if method != "GET" else None)
    refused = permission is not None and not roles.allowed(role, permission)
    if refused:
        assert response.status_code == 403, response.get_data(as_text=True)
        assert [c for c in services.calls if c[1] != "authenticate"] == []
    else:
        assert response.status_code != 403, response.get_data(as_text=True)
        assert response.status_code < 500, response.get_data(as_text=True)
