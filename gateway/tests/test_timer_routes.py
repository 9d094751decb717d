"""Timer, timesheet and time-setup routes with the RpcClient double: what reaches billing (the caller,
their scope, whether they manage time), what is refused before it does."""
from __future__ import annotations

import uuid

import pytest

from gateway.tests.conftest import ASSIGNED_CUSTOMER_ID

TIMER_ID, MEMBER = str(uuid.uuid4()), str(uuid.uuid4())


def _timer(*args):
    return {"id": TIMER_ID, "member_id": MEMBER, "customer_id": ASSIGNED_CUSTOMER_ID, "ticket_id": None,
            "project_id": None, "task_id": None, "activity_id": None, "category": None, "state": "running",
            "started_at": "2026-03-02T09:00:00+00:00", "elapsed_seconds": 0, "stop_reason": None,
            "entry_id": None, "over_limit": False}


def _sheet(*args):
    return {"id": None, "member_id": MEMBER, "week_start": "2026-03-02", "week_end": "2026-03-08",
            "timezone": "UTC", "status": "open", "submitted_at": None, "decided_at": None, "decided_by": None,
            "comment": None, "total_minutes": 0, "billable_minutes": 0, "entry_count": 0, "days": {}, "entries": [],
            "needs_confirmation": []}


@pytest.fixture
def billing(services):
    for method in ("start_timer", "get_timer", "pause_timer", "resume_timer", "touch_timer", "stop_timer",
                   "discard_timer"):
        services.on("billing", method, _timer)
    services.on("billing", "list_timers", lambda *a: {"items": [_timer()], "next_cursor": None})
    for method in ("get_timesheet", "submit_timesheet", "approve_timesheet", "reject_timesheet", "reopen_timesheet"):
        services.on("billing", method, _sheet)
    return services


@pytest.mark.parametrize("role, scoped", [("owner", False), ("member", True), ("contractor", True)])
def test_a_timer_is_started_by_the_caller_and_acted_on_within_their_scope(client, bearer, billing, ids, role, scoped):
    started = client.post("/api/v1/timers", headers=bearer(role),
                          json={"customer_id": ASSIGNED_CUSTOMER_ID, "ticket_id": None, "tags": ["phone"]})
    assert started.status_code == 201 and started.headers["Location"] == f"/api/v1/timers/{TIMER_ID}"
    [(tenant, caller, payload)] = billing.calls_to("billing", "start_timer")
    assert (tenant, caller, payload) == (ids["tenant"], ids["members"][role],
                                         {"customer_id": ASSIGNED_CUSTOMER_ID, "ticket_id": None, "tags": ["phone"]})
    scope = ids["members"][role] if scoped else None
    for action, method in (("pause", "pause_timer"), ("resume", "resume_timer"), ("touch", "touch_timer"),
                           ("stop", "stop_timer")):
        assert client.post(f"/api/v1/timers/{TIMER_ID}/{action}", headers=bearer(role)).status_code == 200
        assert billing.calls_to("billing", method) == [(ids["tenant"], ids["members"][role], TIMER_ID, scope)]
    assert client.delete(f"/api/v1/timers/{TIMER_ID}", headers=bearer(role)).status_code == 200
    assert client.get("/api/v1/timers?live=false", headers=bearer(role)).status_code == 200
    [(_, filters, _limit, _cursor, viewer)] = billing.calls_to("billing", "list_timers")
    assert (filters, viewer) == ({"live": False}, scope)


def test_a_timer_on_a_customer_one_does_not_see_is_refused_before_billing(client, bearer, billing, problem):
    doc = problem(client.post("/api/v1/timers", headers=bearer("member"), json={"customer_id": str(uuid.uuid4())}),
                  422)
    assert [e["field"] for e in doc["errors"]] == ["customer_id"]
    doc = problem(client.post("/api/v1/timers", headers=bearer("owner"),
                              json={"customer_id": ASSIGNED_CUSTOMER_ID, "billable": "yes", "minutes": 3}), 400)
    assert {e["field"] for e in doc["errors"]} == {"billable", "minutes"}
    assert billing.calls_to("billing", "start_timer") == []


@pytest.mark.parametrize("role, manager", [("owner", True), ("admin", True), ("member", False)])
def test_timesheet_moves_say_who_asks_and_whether_they_manage_time(client, bearer, billing, ids, role, manager):
    week = f"/api/v1/timesheets/{MEMBER}/2026-03-04"
    for action in ("submit", "approve", "reject", "reopen"):
        body = {"comment": "Tuesday is missing"} if action == "reject" else {}
        assert client.post(f"{week}/{action}", headers=bearer(role), json=body).status_code == 200
        [(tenant, caller, member, day, payload, is_manager)] = billing.calls_to("billing", f"{action}_timesheet")
        assert (tenant, caller, member, day, payload, is_manager) == (
            ids["tenant"], ids["members"][role], MEMBER, "2026-03-04", body, manager)
    assert client.get(week, headers=bearer(role)).status_code == 200
    [(_, member, day, viewer)] = billing.calls_to("billing", "get_timesheet")
    assert viewer == (None if manager else ids["members"][role])


def test_a_contractor_submits_but_never_approves(client, bearer, billing, problem):
    week = f"/api/v1/timesheets/{MEMBER}/2026-03-04"
    assert client.post(f"{week}/submit", headers=bearer("contractor"), json={}).status_code == 200
    problem(client.post(f"{week}/approve", headers=bearer("contractor"), json={}), 403)
    problem(client.put(f"/api/v1/billing-defaults/customers/{ASSIGNED_CUSTOMER_ID}", headers=bearer("member"),
                       json={"billable": True}), 403)
    assert billing.calls_to("billing", "approve_timesheet") == []


def test_billing_defaults_name_their_level(client, bearer, services, problem):
    services.on("billing", "set_billing_default", lambda tenant, level, subject, body: {
        "level": level, "subject_id": subject, "billable": body["billable"]})
    answered = client.put(f"/api/v1/billing-defaults/projects/{MEMBER}", headers=bearer("admin"),
                          json={"billable": False})
    assert answered.status_code == 200 and answered.get_json()["level"] == "project"
    assert services.calls_to("billing", "set_billing_default")[0][1:] == ("project", MEMBER, {"billable": False})
    problem(client.put(f"/api/v1/billing-defaults/customers/{MEMBER}", headers=bearer("admin"),
                       json={"billable": "no"}), 400)  # malformed: the wrong JSON type


def test_a_scoped_approver_sees_only_the_entries_of_customers_they_see(client, bearer, services):
    unseen = str(uuid.uuid4())
    services.on("billing", "get_timesheet", lambda *a: {**_sheet(), "total_minutes": 60, "entries": [
        {"id": "a", "customer_id": ASSIGNED_CUSTOMER_ID, "minutes": 30},
        {"id": "b", "customer_id": unseen, "minutes": 30}]})
    week = f"/api/v1/timesheets/{MEMBER}/2026-03-04"
    assert [e["id"] for e in client.get(week, headers=bearer("member")).get_json()["entries"]] == ["a"]
    assert [e["id"] for e in client.get(week, headers=bearer("owner")).get_json()["entries"]] == ["a", "b"]
