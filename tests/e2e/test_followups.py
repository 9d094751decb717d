"""Follow-ups through the gateway and every service process: a member promises a follow-up on a
ticket of their customer, sees it grouped in their own timezone, postpones it (preset and date),
a manager reassigns it, it is completed with a resolution; the analytics count it; bad input is a
problem document naming the field; a member off the customer's account team finds none of it; every
command is in the audit log. Expectations are written by hand here."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from harness import create_customer, create_ticket, eventually, problem

UTC = timezone.utc


def _ok(response, status=200):
    assert response.status_code == status, response.text[:500]
    return response.json()


def test_a_follow_up_from_promise_to_resolution(suite, tenant):
    owner, suffix = tenant.api, uuid.uuid4().hex[:8]
    apis, members = {}, {}
    for name, zone in (("kai", "Asia/Tokyo"), ("lou", None)):
        members[name] = _ok(owner.post("/api/v1/members", json={
            "email": f"{name}-{suffix}@team.example", "name": name, "role": "member",
            **({"timezone": zone} if zone else {})}), 201)
        token = _ok(owner.post(f"/api/v1/members/{members[name]['id']}/tokens", json={"name": "e2e"}), 201)["token"]
        apis[name] = suite.api(token)
    kai, lou = apis["kai"], apis["lou"]
    customer = create_customer(owner)["id"]
    _ok(owner.put(f"/api/v1/customers/{customer}/team/{members['kai']['id']}", json={"internal_access": True}))
    ticket = create_ticket(owner, customer)["id"]

    # a promise on the ticket, due in an hour: the caller's by default
    due = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    made = _ok(kai.post(f"/api/v1/customers/{customer}/followups", json={
        "due_at": due.isoformat(), "note": "Confirm the fix with them", "subject_type": "ticket",
        "subject_id": ticket}), 201)
    assert made["assignee_id"] == members["kai"]["id"] and made["subject_id"] == ticket
    url = f"/api/v1/followups/{made['id']}"

    mine = _ok(kai.get("/api/v1/followups", params={"grouped": "true"}))
    assert mine["timezone"] == "Asia/Tokyo" and [f["id"] for f in mine["items"]] == [made["id"]]
    assert mine["items"][0]["group"] in ("due_today", "upcoming") and sum(mine["groups"].values()) == 1

    # bad input: a problem document naming the field, nothing changed
    doc = problem(kai.post(f"{url}/postpone", json={"preset": "next_month"}), 422)
    assert "preset" in {e["field"] for e in doc["errors"]}
    doc = problem(kai.post(f"/api/v1/customers/{customer}/followups", json={
        "due_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(), "note": "late"}), 422)
    assert "due_at" in {e["field"] for e in doc["errors"]}
    problem(kai.post(f"/api/v1/customers/{customer}/followups", json={
        "due_at": due.isoformat(), "note": "x", "assignee_id": str(uuid.uuid4())}), 422)

    # lou is on no account team: the customer and its follow-ups do not exist for them
    problem(lou.get(url), 404)
    problem(lou.post(f"{url}/complete", json={"resolution": "mine now"}), 404)
    assert _ok(lou.get("/api/v1/followups"))["items"] == []

    moved = _ok(kai.post(f"{url}/postpone", json={"preset": "3_days"}))
    assert datetime.fromisoformat(moved["due_at"]) > due + timedelta(days=2)
    until = datetime.fromisoformat(moved["due_at"]) + timedelta(days=1)
    moved = _ok(kai.post(f"{url}/postpone", json={"until": until.isoformat(), "reason": "they are on holiday"}))
    assert moved["postponements"] == 2
    _ok(owner.post(f"{url}/reassign", json={"assignee_id": members["lou"]["id"]}))
    _ok(owner.post(f"{url}/reassign", json={"assignee_id": members["kai"]["id"]}))
    done = _ok(kai.post(f"{url}/complete", json={"resolution": "They confirmed it works"}))
    assert done["status"] == "completed"
    problem(kai.post(f"{url}/cancel", json={}), 409)
    detail = _ok(kai.get(url))
    assert [(p["preset"], p["reason"]) for p in detail["postponement_history"]] == [
        ("3_days", None), (None, "they are on holiday")]

    figures = _ok(owner.get("/api/v1/followups/analytics", params={
        "due_from": datetime.now(UTC).isoformat(), "due_to": (datetime.now(UTC) + timedelta(days=30)).isoformat()}))
    assert figures["overall"]["completed"] == 1 and figures["overall"]["on_time_rate"] == 1.0
    assert figures["overall"]["average_postponements"] == 2.0
    assert [m["member_id"] for m in figures["by_member"]] == [members["kai"]["id"]]

    # every command is in the audit log, as the follow-up's
    wanted = ["followup.created", "followup.postponed", "followup.postponed", "followup.reassigned",
              "followup.reassigned", "followup.completed"]
    eventually(lambda: sorted(r["action"] for r in _ok(owner.get("/api/v1/audit", params={
        "target_type": "followup", "target_id": made["id"]}))["items"]) == sorted(wanted) or None, 30,
        "the follow-up's audit records")
