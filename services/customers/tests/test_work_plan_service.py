"""The work plan in the real customers service (real RabbitMQ and PostgreSQL): customer profile and
custom fields, projects and tasks with the three views, onboarding templates applied idempotently,
re-planned when the start date moves, upgraded with a diff first; the business calendar copy."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from custops import caller, db, outbox
from custops.contracts.tickets import BusinessCalendarChanged
from custops.errors import Conflict, InvalidInput, NotFound
from custops.events import envelope_for
from custops.validation import MAX_INTEGER
from custops.testing import publish_and_wait


def _events(type_: str, tenant_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        return list(conn.execute(select(table.c.envelope).where(
            table.c.type == type_, table.c.tenant_id == uuid.UUID(tenant_id)).order_by(table.c.seq)).scalars())


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@plan.example", "Olive Owner")


def _customer(rpc, tenant, **fields):
    with caller.using(caller.member(tenant["member_id"])):
        return rpc.call("customers", "create_customer", tenant["tenant_id"],
                        {"name": f"Co {uuid.uuid4().hex[:6]}", "tier": "smb", **fields})


def test_customer_profile_lifecycle_and_custom_fields(rpc, tenant):
    t = tenant["tenant_id"]
    rpc.call("customers", "put_custom_field", t, "region", {"label": "Region", "type": "select",
                                                             "options": ["emea", "apac"]})
    rpc.call("customers", "put_custom_field", t, "tools", {"label": "Tools", "type": "multi_select",
                                                            "options": ["jira", "slack"]})
    rpc.call("customers", "put_custom_field", t, "seats", {"label": "Seats", "type": "number"})
    with pytest.raises(InvalidInput) as raised:
        _customer(rpc, tenant, custom_fields={"region": "mars"})
    assert raised.value.errors[0]["field"] == "custom_fields.region"
    with pytest.raises(InvalidInput):
        _customer(rpc, tenant, custom_fields={"unknown_field": 1})
    emea = _customer(rpc, tenant, custom_fields={"region": "emea", "tools": ["slack", "jira"], "seats": 40},
                     start_date="2026-03-02", renewal_date="2027-03-01")
    apac = _customer(rpc, tenant, custom_fields={"region": "apac", "tools": ["jira"]})
    assert emea["lifecycle_stage"] == "onboarding" and emea["custom_fields"]["tools"] == ["jira", "slack"]
    assert emea["start_date"] == "2026-03-02"

    def listed(**filters):
        return [c["id"] for c in rpc.call("customers", "list_customers", t, filters)["items"]]

    assert listed(custom_field=["region:emea"]) == [emea["id"]]
    assert sorted(listed(custom_field=["tools:jira"])) == sorted([emea["id"], apac["id"]])
    assert listed(custom_field=["tools:slack", "seats:40"]) == [emea["id"]]
    assert listed(renewal_before="2027-06-01") == [emea["id"]]

    with caller.using(caller.member(tenant["member_id"])):
        moved = rpc.call("customers", "update_customer", t, emea["id"], {"lifecycle_stage": "active",
                                                                         "custom_fields": {"seats": None}})
    assert moved["lifecycle_stage"] == "active" and "seats" not in moved["custom_fields"]
    assert listed(lifecycle_stage="active") == [emea["id"]]
    history = rpc.call("customers", "customer_lifecycle", t, emea["id"])["items"]
    assert [(h["previous_stage"], h["stage"]) for h in history] == [(None, "onboarding"), ("onboarding", "active")]
    assert history[1]["changed_by"] == tenant["member_id"]
    told = [e["data"] for e in _events("customer.lifecycle_changed", t) if e["data"]["customer_id"] == emea["id"]]
    assert [d["stage"] for d in told] == ["onboarding", "active"]

    contact = rpc.call("customers", "create_contact", t, emea["id"], {"name": "Sam Sponsor",
                                                                      "email": f"sam-{uuid.uuid4().hex[:6]}@x.example"})
    with pytest.raises(InvalidInput):  # a contact of another customer is no sponsor of this one
        rpc.call("customers", "update_customer", t, apac["id"], {"exec_sponsor_contact_id": contact["id"]})
    sponsored = rpc.call("customers", "update_customer", t, emea["id"], {"exec_sponsor_contact_id": contact["id"]})
    assert sponsored["exec_sponsor_contact_id"] == contact["id"]
    # removing a definition removes its values
    rpc.call("customers", "remove_custom_field", t, "region")
    assert "region" not in rpc.call("customers", "get_customer", t, emea["id"])["custom_fields"]
    with pytest.raises(Conflict):  # the stored values would not fit a narrower select
        rpc.call("customers", "put_custom_field", t, "tools", {"label": "Tools", "type": "select",
                                                                "options": ["zoom"]})


def test_projects_tasks_and_the_three_views(rpc, tenant):
    t = tenant["tenant_id"]
    customer = _customer(rpc, tenant)
    rpc.call("customers", "put_work_settings", t, {"columns": [
        {"key": "todo", "name": "To do", "category": "todo"}, {"key": "in_progress", "name": "Doing",
                                                               "category": "in_progress"},
        {"key": "review", "name": "In review", "category": "in_progress"},
        {"key": "blocked", "name": "Blocked", "category": "blocked"}, {"key": "done", "name": "Done",
                                                                       "category": "done"}]})
    project = rpc.call("customers", "create_project", t, customer["id"], {"name": "Rollout", "portal_shared": True})
    assert project["status"] == "planned" and project["progress"] is None
    with pytest.raises(InvalidInput):
        rpc.call("customers", "create_project", t, customer["id"], {"name": "x", "status": "nonsense"})
    p = project["id"]

    def task(title, **fields):
        return rpc.call("customers", "create_task", t, p, {"title": title, **fields})

    a = task("Kickoff", start_date="2026-03-02", due_date="2026-03-03", weight=2, portal_visible=True)
    b = task("Configure", start_date="2026-03-04", due_date="2026-03-09", depends_on=[a["id"]], weight=3)
    c = task("Train", start_date="2026-03-04", due_date="2026-03-04", depends_on=[a["id"]])
    m = task("Go live", due_date="2026-03-10", start_date="2026-03-10", milestone=True,
             depends_on=[b["id"], c["id"]], estimate="1.5", checklist=[{"text": "DNS"}])
    assert m["estimate"] == 1.5 and m["estimate_unit"] == "hour" and m["checklist"] == [{"text": "DNS", "done": False}]
    with pytest.raises(InvalidInput) as raised:  # a cycle is refused
        rpc.call("customers", "update_task", t, a["id"], {"depends_on": [m["id"]]})
    assert "cycle" in raised.value.errors[0]["message"]

    with caller.using(caller.member(tenant["member_id"])):
        moved = rpc.call("customers", "move_task", t, a["id"], {"status": "done", "position": 0})
        rpc.call("customers", "move_task", t, b["id"], {"status": "review"})
        rpc.call("customers", "move_task", t, c["id"], {"status": "todo", "position": 0})
    assert moved["category"] == "done" and moved["completed_by"] == tenant["member_id"]
    completed = [e for e in _events("task.completed", t) if e["data"]["task_id"] == a["id"]]
    assert len(completed) == 1 and completed[0]["data"]["completed_by"] == tenant["member_id"]
    assert completed[0]["actor"]["id"] == tenant["member_id"]

    board = rpc.call("customers", "project_kanban", t, p)
    assert [(col["key"], col["count"]) for col in board["columns"]] == [
        ("todo", 2), ("in_progress", 0), ("review", 1), ("blocked", 0), ("done", 1)]
    assert [x["title"] for x in board["columns"][0]["tasks"]] == ["Train", "Go live"]
    assert board["project"]["progress"] == round(2 / 7, 4)

    gantt = rpc.call("customers", "project_gantt", t, p)
    assert gantt["critical_path"] == [a["id"], b["id"], m["id"]]
    assert {x["id"]: x["slack_days"] for x in gantt["tasks"]}[c["id"]] == 5
    assert gantt["start_date"] == "2026-03-02" and gantt["finish_date"] == "2026-03-10"

    page = rpc.call("customers", "list_tasks", t, p, {"sort": "due_date", "order": "desc"}, 2)
    assert [x["title"] for x in page["items"]] == ["Go live", "Configure"] and page["total"] == 4
    rest = rpc.call("customers", "list_tasks", t, p, {"sort": "due_date", "order": "desc"}, 2, page["next_cursor"])
    assert [x["title"] for x in rest["items"]] == ["Train", "Kickoff"] and rest["next_cursor"] is None
    late = rpc.call("customers", "list_tasks", t, p, {"late": True})
    assert {x["title"] for x in late["items"]} == {"Configure", "Train", "Go live"}  # 2026-03 is past
    csv_page = rpc.call("customers", "export_tasks", t, p, {"milestone": True})
    assert csv_page["rows"][0][csv_page["columns"].index("title")] == "Go live"

    # a portal user's view: the shared project's portal-visible tasks only
    portal_board = rpc.call("customers", "project_kanban", t, p, {"portal": True})
    assert [x["title"] for col in portal_board["columns"] for x in col["tasks"]] == ["Kickoff"]
    with pytest.raises(NotFound):
        rpc.call("customers", "get_task", t, b["id"], {"portal": True})
    hidden = rpc.call("customers", "create_project", t, customer["id"], {"name": "Internal"})
    with pytest.raises(NotFound):
        rpc.call("customers", "get_project", t, hidden["id"], {"portal": True})
    assert [x["id"] for x in rpc.call("customers", "list_projects", t, {"customer_id": customer["id"],
                                                                         "portal": True})["items"]] == [p]
    with pytest.raises(Conflict):  # a column holding tasks cannot go
        rpc.call("customers", "put_work_settings", t, {"columns": [
            {"key": k, "name": k, "category": k} for k in ("todo", "in_progress", "blocked", "done")]})
    with pytest.raises(NotFound):  # another tenant's project does not exist here
        rpc.call("customers", "get_project", str(uuid.uuid4()), p)


STEPS = [
    {"key": "kickoff", "title": "Kickoff call", "day": 0, "owner_role": "owner", "milestone": True},
    {"key": "setup", "title": "Set up the account", "day": 1, "duration": 3, "depends_on": ["kickoff"],
     "owner_role": "account_team", "estimate": 4},
    {"key": "training", "title": "Train the admins", "day": 5, "depends_on": ["setup"]},
    {"key": "golive", "title": "Go live", "day": 10, "depends_on": ["training"], "milestone": True,
     "first_value": True},
]


def test_apply_a_template_idempotently_replan_and_upgrade(rpc, tenant):
    t = tenant["tenant_id"]
    member = rpc.call("customers", "create_member", t, {"email": f"m-{uuid.uuid4().hex[:6]}@plan.example",
                                                        "name": "Ada", "role": "member"})
    customer = _customer(rpc, tenant, owner_id=tenant["member_id"], start_date="2026-03-02")
    rpc.call("customers", "put_account_team_member", t, customer["id"], member["id"])
    template = rpc.call("customers", "create_template", t, {"name": "Standard onboarding", "business_days": True,
                                                            "steps": STEPS})
    assert template["version"] == 1
    with pytest.raises(InvalidInput):  # a cyclic template is refused
        rpc.call("customers", "create_template", t, {"name": "bad", "steps": [
            {"key": "a", "title": "A", "day": 0, "depends_on": ["b"]},
            {"key": "b", "title": "B", "day": 0, "depends_on": ["a"]}]})

    applied = rpc.call("customers", "apply_template", t, customer["id"], {"template_id": template["id"]})
    again = rpc.call("customers", "apply_template", t, customer["id"], {"template_id": template["id"]})
    assert applied["created"] and not again["created"] and again["project"]["id"] == applied["project"]["id"]
    p = applied["project"]["id"]
    tasks = {x["step_key"]: x for x in rpc.call("customers", "list_tasks", t, p)["items"]}
    assert len(tasks) == 4 and len(_events("onboarding.applied", t)) == 1
    created = [e for e in _events("task.created", t) if e["data"]["project_id"] == p]  # one INSERT for all
    assert [e["data"]["step_key"] for e in created] == [s["key"] for s in STEPS]
    assert {e["data"]["task_id"] for e in created} == {x["id"] for x in tasks.values()}
    # business days from Monday 2026-03-02: setup Day 1..3 (Tue-Thu), training Day 5 = Monday 9th
    assert (tasks["kickoff"]["start_date"], tasks["setup"]["start_date"], tasks["setup"]["due_date"]) == (
        "2026-03-02", "2026-03-03", "2026-03-05")
    assert tasks["training"]["start_date"] == "2026-03-09" and tasks["golive"]["due_date"] == "2026-03-16"
    assert tasks["kickoff"]["assignee_id"] == tenant["member_id"] and tasks["setup"]["assignee_id"] == member["id"]
    assert tasks["setup"]["depends_on"] == [tasks["kickoff"]["id"]]

    rpc.call("customers", "move_task", t, tasks["kickoff"]["id"], {"status": "done"})
    shifted = rpc.call("customers", "update_customer", t, customer["id"], {"start_date": "2026-03-09"})
    (plan,) = shifted["replanned"]
    moved = {mv["task_id"]: mv for mv in plan["moves"]}
    assert tasks["kickoff"]["id"] not in moved  # done: never moves
    assert moved[tasks["setup"]["id"]]["to"] == {"start_date": "2026-03-10", "due_date": "2026-03-12"}
    assert moved[tasks["golive"]["id"]]["to"]["due_date"] == "2026-03-23"
    (told,) = _events("onboarding.replanned", t)
    assert told["data"]["target_date"] == "2026-03-23"  # the latest due date after the re-plan (reports)
    again = rpc.call("customers", "update_customer", t, customer["id"], {"start_date": "2026-03-09"})
    assert "replanned" not in again  # the same date: nothing changes

    # a new version does not touch the running plan until asked, and shows its diff first
    steps_v2 = [*STEPS[:3], {**STEPS[3], "day": 12}, {"key": "review", "title": "30-day review", "day": 20,
                                                      "depends_on": ["golive"]}]
    steps_v2[0] = {**steps_v2[0], "title": "Kickoff (renamed)"}
    v2 = rpc.call("customers", "update_template", t, template["id"], {"name": "Standard onboarding",
                                                                      "business_days": True, "steps": steps_v2})
    assert v2["version"] == 2
    assert rpc.call("customers", "get_project", t, p)["template_version"] == 1
    preview = rpc.call("customers", "upgrade_plan", t, p, {})
    assert (preview["added"], preview["removed"], preview["kept_done"], preview["applied"]) == (
        ["review"], [], ["kickoff"], False)
    assert [c["key"] for c in preview["changed"]] == ["golive"]
    assert rpc.call("customers", "get_project", t, p)["template_version"] == 1
    done = rpc.call("customers", "upgrade_plan", t, p, {"confirm": True})
    assert done["applied"] and rpc.call("customers", "get_project", t, p)["template_version"] == 2
    tasks = {x["step_key"]: x for x in rpc.call("customers", "list_tasks", t, p)["items"]}
    assert tasks["kickoff"]["title"] == "Kickoff call"  # done: untouched
    assert tasks["golive"]["due_date"] == "2026-03-25" and tasks["review"]["start_date"] == "2026-04-06"
    assert tasks["review"]["depends_on"] == [tasks["golive"]["id"]]


def test_a_template_version_past_an_integer_column_is_refused_naming_version(rpc, tenant):
    # found by schemathesis: `version` 666312986924336454992348724592640 reached Postgres ("integer out of
    # range"), a 500 of the service; the largest a column holds is a version like any other
    t = tenant["tenant_id"]
    customer = _customer(rpc, tenant, start_date="2026-03-02")
    template = rpc.call("customers", "create_template", t, {"name": "Bounded", "steps": STEPS[:1]})
    huge = 666312986924336454992348724592640
    for call, args in (("apply_template", (customer["id"], {"template_id": template["id"], "version": huge})),
                       ("get_template", (template["id"], huge))):
        with pytest.raises(InvalidInput) as raised:
            rpc.call("customers", call, t, *args)
        assert [e["field"] for e in raised.value.errors] == ["version"], call
    applied = rpc.call("customers", "apply_template", t, customer["id"], {"template_id": template["id"]})
    with pytest.raises(InvalidInput) as raised:
        rpc.call("customers", "upgrade_plan", t, applied["project"]["id"], {"version": huge})
    assert [e["field"] for e in raised.value.errors] == ["version"]
    with pytest.raises(InvalidInput) as raised:  # in range, but no such version: a 422 too
        rpc.call("customers", "apply_template", t, customer["id"], {"template_id": template["id"],
                                                                    "version": MAX_INTEGER, "idempotency_key": "b"})
    assert [e["field"] for e in raised.value.errors] == ["version"]


def test_business_calendar_copy_moves_business_day_offsets(rpc, tenant, customers_service):
    t = tenant["tenant_id"]
    event = BusinessCalendarChanged(version=5, source="edit", changes={
        "holidays": ["2026-03-03"], "weekly_slots": {str(d): [["09:00", "17:00"]] for d in range(4)}},
        previous={}, changed_at=datetime.now(timezone.utc))
    publish_and_wait(customers_service, "copy_business_calendar", envelope_for(event, uuid.UUID(t)))
    stale = BusinessCalendarChanged(version=4, source="edit", changes={"holidays": []}, previous={},
                                    changed_at=datetime.now(timezone.utc))
    publish_and_wait(customers_service, "copy_business_calendar", envelope_for(stale, uuid.UUID(t)))
    customer = _customer(rpc, tenant, start_date="2026-03-02")
    template = rpc.call("customers", "create_template", t, {"name": "Short", "business_days": True, "steps": [
        {"key": "c", "title": "C", "day": 0, "depends_on": ["b"]},  # waits for a step listed after it
        {"key": "a", "title": "A", "day": 1}, {"key": "b", "title": "B", "day": 3}]})
    p = rpc.call("customers", "apply_template", t, customer["id"], {"template_id": template["id"],
                                                                    "idempotency_key": "k-1"})["project"]["id"]
    listed = {x["step_key"]: x for x in rpc.call("customers", "list_tasks", t, p)["items"]}
    dates = {key: x["start_date"] for key, x in listed.items()}
    # Mon 2nd is Day 0; Tue 3rd a holiday; Fridays closed: Day 1 = Wed 4th, Day 3 = Mon 9th, c after b
    assert dates == {"a": "2026-03-04", "b": "2026-03-09", "c": "2026-03-10"}
    assert listed["c"]["depends_on"] == [listed["b"]["id"]]
    assert date.fromisoformat(dates["b"]).weekday() == 0
