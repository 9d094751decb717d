"""The stopwatch and a weekly timesheet over HTTP, through every process: a member times work on
their customer, submits the week, is no approver of it; the owner approves (the entries lock) and
reopens; every step reaches the audit log through billing's outbox."""
from __future__ import annotations

import uuid

from harness import create_customer, eventually, problem

MONDAY = "2026-03-02"  # a past week
FLOW_DEADLINE = 20.0


def _ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def test_a_week_of_tracked_time_is_submitted_approved_locked_and_reopened(suite, tenant):
    owner = tenant.api
    customer = create_customer(owner)
    _ok(owner.put(f"/api/v1/billing-defaults/customers/{customer['id']}", json={"billable": True}))
    suffix = uuid.uuid4().hex[:8]
    max_ = _ok(owner.post("/api/v1/members", json={"email": f"max-{suffix}@team.example", "name": "Max",
                                                   "role": "member", "timezone": "Europe/Berlin"}), 201)
    _ok(owner.put(f"/api/v1/customers/{customer['id']}/team/{max_['id']}", json={}), 200)
    api = suite.api(_ok(owner.post(f"/api/v1/members/{max_['id']}/tokens", json={"name": "laptop"}), 201)["token"])

    timer = _ok(api.post("/api/v1/timers", json={"customer_id": customer["id"], "note": "onboarding call"}), 201)
    assert [t["id"] for t in _ok(owner.get("/api/v1/timers"))["items"]] == [timer["id"]]  # the manager sees it
    stopped = _ok(api.post(f"/api/v1/timers/{timer['id']}/stop"))
    assert stopped["state"] == "stopped" and stopped["entry_id"]

    entry = _ok(api.post("/api/v1/time-entries", json={"customer_id": customer["id"], "work_date": MONDAY,
                                                       "started_at": "2026-03-02T08:00:00+01:00",
                                                       "ended_at": "2026-03-02T09:30:00+01:00"}), 201)
    assert (entry["minutes"], entry["billable"], entry["billable_source"]) == (90, True, "customer")
    week = f"/api/v1/timesheets/{max_['id']}/2026-03-05"
    assert _ok(api.get(week))["total_minutes"] == 90
    _ok(api.post(f"{week}/submit", json={}))
    problem(api.post(f"{week}/approve", json={}), 403)  # no approver of their own week
    approved = _ok(owner.post(f"{week}/approve", json={"comment": "thanks"}))
    assert (approved["status"], approved["billable_minutes"]) == ("approved", 90)
    problem(api.patch(f"/api/v1/time-entries/{entry['id']}", json={"minutes": 60}), 409)
    _ok(owner.post(f"{week}/reopen", json={"comment": "Tuesday is missing"}))
    assert _ok(api.patch(f"/api/v1/time-entries/{entry['id']}", json={"note": "kickoff"}))["locked"] is False

    def audited():
        items = _ok(owner.get("/api/v1/audit", params={"action": "timesheet.", "limit": 50}))["items"]
        return {i["action"] for i in items}

    eventually(lambda: {"timesheet.submitted", "timesheet.approved", "timesheet.reopened"} <= audited(),
               FLOW_DEADLINE, "the timesheet's moves in the audit log")
