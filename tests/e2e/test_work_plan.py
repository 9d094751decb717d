"""The work plan end to end through the gateway and every service process: a manager writes a 30-day
onboarding template, applies it to a new customer (a retry with the same Idempotency-Key makes no second
plan), the team completes tasks on the board, the customer's start date shifts and the plan moves —
every not-done task, never a done one — the Gantt and Table views follow, a portal user sees only the
shared plan's portal-visible tasks, and the audit log records who completed what. Each tool's CSV
export imported twice gives its rows once."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

from harness import create_customer, eventually, problem

DEADLINE = 20.0

STEPS = [
    {"key": "kickoff", "title": "Kickoff call", "day": 0, "milestone": True, "owner_role": "owner",
     "portal_visible": True},
    {"key": "access", "title": "Grant system access", "day": 1, "duration": 2, "depends_on": ["kickoff"]},
    {"key": "import", "title": "Import their data", "day": 3, "duration": 5, "depends_on": ["access"],
     "estimate": 6, "weight": 3},
    {"key": "training", "title": "Train the admins", "day": 10, "duration": 2, "depends_on": ["import"],
     "portal_visible": True},
    {"key": "golive", "title": "Go live", "day": 20, "milestone": True, "first_value": True,
     "depends_on": ["training"], "portal_visible": True},
    {"key": "review", "title": "30-day review", "day": 30, "depends_on": ["golive"]},
]


def _tasks(api, project_id) -> dict[str, dict]:
    response = api.get(f"/api/v1/projects/{project_id}/tasks", params={"limit": 200})
    assert response.status_code == 200, response.text
    return {t["step_key"]: t for t in response.json()["items"]}


def test_apply_a_30_day_template_complete_tasks_shift_the_start_and_see_the_plan_move(suite, tenant):
    owner = tenant.api
    start = date(2026, 4, 6)
    customer = create_customer(owner)
    response = owner.patch(f"/api/v1/customers/{customer['id']}", json={
        "start_date": start.isoformat(), "owner_id": tenant.member_id})
    assert response.status_code == 200, response.text
    response = owner.post("/api/v1/onboarding-templates", json={"name": "30-day onboarding", "steps": STEPS})
    assert response.status_code == 201, response.text
    template = response.json()
    problem(owner.post("/api/v1/onboarding-templates", json={"name": "bad", "steps": [
        {"key": "a", "title": "A", "day": 0, "depends_on": ["a"]}]}), 422)

    key = {"Idempotency-Key": f"onboard-{uuid.uuid4().hex}"}
    body = {"template_id": template["id"], "portal_shared": True}
    first = owner.post(f"/api/v1/customers/{customer['id']}/onboarding", json=body, headers=key)
    assert first.status_code == 201, first.text
    retry = owner.post(f"/api/v1/customers/{customer['id']}/onboarding", json=body, headers=key)
    assert retry.status_code == 200 and retry.json()["created"] is False, retry.text
    project = first.json()["project"]
    assert retry.json()["project"]["id"] == project["id"]
    assert first.headers["Location"].endswith(f"/projects/{project['id']}")
    listed = owner.get(f"/api/v1/customers/{customer['id']}/projects").json()
    assert [p["id"] for p in listed["items"]] == [project["id"]]  # one plan, not two
    assert project["target_date"] == (start + timedelta(days=30)).isoformat()

    tasks = _tasks(owner, project["id"])
    assert len(tasks) == len(STEPS)
    assert tasks["kickoff"]["assignee_id"] == tenant.member_id
    assert tasks["golive"]["start_date"] == (start + timedelta(days=20)).isoformat()

    # the team completes the first two steps on the board
    for step in ("kickoff", "access"):
        response = owner.post(f"/api/v1/tasks/{tasks[step]['id']}/move", json={"status": "done", "position": 0})
        assert response.status_code == 200, response.text
        assert response.json()["completed_by"] == tenant.member_id
    board = owner.get(f"/api/v1/projects/{project['id']}/kanban").json()
    counts = {c["key"]: c["count"] for c in board["columns"]}
    assert counts == {"todo": 4, "in_progress": 0, "blocked": 0, "done": 2}
    weights = sum(s.get("weight", 1) for s in STEPS)
    assert board["project"]["progress"] == round(2 / weights, 4)

    # the start date shifts a week: every not-done task moves a week, the done ones stay
    shifted = start + timedelta(days=7)
    response = owner.patch(f"/api/v1/customers/{customer['id']}", json={"start_date": shifted.isoformat()})
    assert response.status_code == 200, response.text
    (plan,) = response.json()["replanned"]
    moved = {m["task_id"] for m in plan["moves"]}
    assert moved == {tasks[k]["id"] for k in ("import", "training", "golive", "review")}
    after = _tasks(owner, project["id"])
    for step in ("kickoff", "access"):
        assert after[step]["start_date"] == tasks[step]["start_date"]  # done: never moves
    for step in ("import", "training", "golive", "review"):
        assert date.fromisoformat(after[step]["start_date"]) == date.fromisoformat(tasks[step]["start_date"]) + \
            timedelta(days=7)

    gantt = owner.get(f"/api/v1/projects/{project['id']}/gantt").json()
    assert gantt["finish_date"] == (shifted + timedelta(days=30)).isoformat()
    assert gantt["critical_path"][-1] == after["review"]["id"]
    csv_text = owner.get(f"/api/v1/projects/{project['id']}/tasks.csv").text
    assert csv_text.splitlines()[0].startswith("id,title,status") and "30-day review" in csv_text

    # a portal user of the customer sees the shared plan's portal-visible tasks only
    contact = owner.post(f"/api/v1/customers/{customer['id']}/contacts", json={
        "name": "Pat Portal", "email": f"pat-{uuid.uuid4().hex[:6]}@portal.example", "portal_access": True}).json()
    invite = owner.post(f"/api/v1/customers/{customer['id']}/contacts/{contact['id']}/portal-invite", json={}).json()
    pat = suite.api(suite.api().post("/api/v1/portal/accept", json={"invite": invite["invite"]}).json()["token"])
    seen = pat.get(f"/api/v1/projects/{project['id']}/kanban").json()
    assert sorted(t["title"] for c in seen["columns"] for t in c["tasks"]) == ["Go live", "Kickoff call",
                                                                                "Train the admins"]
    problem(pat.get(f"/api/v1/tasks/{after['import']['id']}"), 404)
    problem(pat.post(f"/api/v1/tasks/{after['import']['id']}/move", json={"status": "done"}), 403)

    # the audit log names who completed the kickoff
    def completed():
        records = owner.get("/api/v1/audit", params={"action": "task.completed"}).json()["items"]
        return [r for r in records if r["target"]["id"] == tasks["kickoff"]["id"]]

    (record,) = eventually(completed, DEADLINE, "task.completed in the audit log")
    assert record["actor"]["id"] == tenant.member_id


FIXTURES = Path(__file__).resolve().parents[2] / "services" / "customers" / "tests" / "fixtures" / "imports"


def test_import_each_tools_export_twice_and_get_the_same_rows_once(suite, tenant):
    owner = tenant.api
    customer = create_customer(owner)
    for name, count in (("monday.csv", 7), ("clickup.csv", 4), ("asana.csv", 4), ("notion.csv", 4),
                        ("asana_semicolon.csv", 2)):
        project = owner.post(f"/api/v1/customers/{customer['id']}/projects", json={"name": f"from {name}"}).json()
        url = f"/api/v1/projects/{project['id']}/import"
        raw = (FIXTURES / name).read_bytes()  # as exported: a BOM where the tool writes one
        dry = owner.post(url, data=raw, headers={"Content-Type": "text/csv"})
        assert dry.status_code == 200, dry.text
        assert len(dry.json()["would_create"]) == count and dry.json()["created"] == 0
        runs = [owner.post(url, params={"dry_run": "false"}, data=raw, headers={"Content-Type": "text/csv"}).json()
                for _ in range(2)]
        assert [r["created"] for r in runs] == [count, 0] and runs[1]["already_imported"] == count
        assert owner.get(f"/api/v1/projects/{project['id']}/tasks").json()["total"] == count
    problem(owner.post(url, data=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}), 422)


SURVEY = {"sections": [{"key": "s", "fields": [
    {"key": "csat", "type": "csat", "label": "How satisfied are you?", "required": True},
    {"key": "nps", "type": "nps", "label": "Would you recommend us?"}]}]}
REQUEST = {"sections": [{"key": "s", "fields": [
    {"key": "what", "type": "long_text", "label": "What do you need?", "required": True},
    {"key": "urgent", "type": "yes_no", "label": "Urgent?"}]}]}


def test_a_portal_form_opens_a_ticket_whose_resolution_sends_a_survey_scored_on_ticket_customer_and_health(
        suite, tenant):
    """A portal user submits a portal-visible form whose rule opens a ticket (source form, linked both
    ways); resolving it sends the tenant's CSAT/NPS survey to that contact by a one-submission link;
    the answer lands on the ticket, the customer and the customer's health."""
    owner = tenant.api
    customer = create_customer(owner)
    contact = owner.post(f"/api/v1/customers/{customer['id']}/contacts", json={
        "name": "Rae Requester", "email": f"rae-{uuid.uuid4().hex[:6]}@portal.example", "portal_access": True}).json()
    invite = owner.post(f"/api/v1/customers/{customer['id']}/contacts/{contact['id']}/portal-invite", json={}).json()
    rae = suite.api(suite.api().post("/api/v1/portal/accept", json={"invite": invite["invite"]}).json()["token"])

    internal = owner.post("/api/v1/forms", json={"name": "Internal notes", "definition": REQUEST}).json()
    response = owner.post("/api/v1/forms", json={
        "name": "Ask for help", "definition": REQUEST, "portal_visible": True,
        "ticket_rule": {"subject": "Help asked in the portal", "priority": "high",
                        "when": {"field": "urgent", "equals": True}}})
    assert response.status_code == 201, response.text
    form = response.json()
    offered = rae.get("/api/v1/portal/forms").json()["items"]
    assert [f["id"] for f in offered] == [form["id"]] and "ticket_rule" not in offered[0]
    problem(rae.get(f"/api/v1/portal/forms/{internal['id']}"), 404)
    problem(rae.post(f"/api/v1/portal/forms/{internal['id']}/submissions", json={"answers": {"what": "x"}}), 404)
    problem(rae.get("/api/v1/forms"), 403)
    problem(rae.post(f"/api/v1/portal/forms/{form['id']}/submissions", json={"answers": {"urgent": True}}), 422)
    response = rae.post(f"/api/v1/portal/forms/{form['id']}/submissions",
                        json={"answers": {"what": "Our invoices are wrong", "urgent": True}})
    assert response.status_code == 201, response.text
    submission = response.json()
    assert (submission["customer_id"], submission["contact_id"], submission["via"]) == (
        customer["id"], contact["id"], "portal")

    def form_ticket():
        items = owner.get("/api/v1/tickets", params={"customer_id": customer["id"]}).json()["items"]
        return [t for t in items if t["source"] == "form"]

    (ticket,) = eventually(form_ticket, DEADLINE, "the form's ticket")
    assert ticket["form_submission_id"] == submission["id"] and ticket["contact_id"] == contact["id"]
    assert ticket["subject"] == "Help asked in the portal" and ticket["priority"] == "high"
    assert "Our invoices are wrong" in ticket["description"]
    assert rae.get(f"/api/v1/tickets/{ticket['id']}").status_code == 200  # their company's ticket

    def recorded():
        items = owner.get(f"/api/v1/customers/{customer['id']}/form-submissions").json()["items"]
        return [s for s in items if s["id"] == submission["id"] and s["ticket_id"] == ticket["id"]]

    eventually(recorded, DEADLINE, "the submission names its ticket")

    survey = owner.post("/api/v1/forms", json={"name": "How did we do?", "definition": SURVEY}).json()
    problem(owner.put("/api/v1/survey-settings", json={"enabled": True, "form_id": form["id"]}), 422)  # no CSAT
    response = owner.put("/api/v1/survey-settings", json={"enabled": True, "form_id": survey["id"]})
    assert response.status_code == 200 and response.json()["delay_minutes"] == 0, response.text
    response = owner.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "resolved"})
    assert response.status_code == 200, response.text

    def survey_url():
        rows = suite.query("customers", "SELECT envelope->'data'->>'url' FROM outbox WHERE type = 'survey.requested' "
                                        "AND envelope->'data'->>'ticket_id' = :ticket", ticket=ticket["id"])
        return [r[0] for r in rows]

    (url,) = eventually(survey_url, DEADLINE, "survey.requested for the resolved ticket")

    def survey_mail():  # mailsync takes it; this tenant has no mailbox, so it is recorded unsent
        return suite.query("mailsync", "SELECT status, last_error, kind FROM outbound_mails "
                                       "WHERE ticket_id = :ticket", ticket=ticket["id"])

    (mail,) = eventually(survey_mail, DEADLINE, "mailsync's row of the survey mail")
    assert tuple(mail) == ("failed", "no mailbox to send from", "survey")
    token = url.rsplit("/", 1)[1]
    anyone = suite.api()
    assert anyone.get(f"/api/v1/forms/by-link/{token}").json()["name"] == "How did we do?"
    response = anyone.post(f"/api/v1/forms/by-link/{token}/submissions", json={"answers": {"csat": 5, "nps": 10}})
    assert response.status_code == 201, response.text
    assert response.json()["survey_ticket_id"] == ticket["id"] and response.json()["contact_id"] == contact["id"]
    problem(anyone.post(f"/api/v1/forms/by-link/{token}/submissions", json={"answers": {"csat": 1}}), 410)

    scored = eventually(lambda: [t for t in [owner.get(f"/api/v1/tickets/{ticket['id']}").json()]
                                 if t["csat_score"] == 5], DEADLINE, "the CSAT on the ticket")
    assert scored[0]["nps_score"] == 10
    latest = owner.get(f"/api/v1/customers/{customer['id']}").json()
    assert (latest["latest_csat"], latest["latest_nps"]) == (5, 10)

    def health_csat():
        health = owner.get(f"/api/v1/customers/{customer['id']}/health")
        signals = {s["signal"]: s for s in health.json().get("signals", [])} if health.status_code == 200 else {}
        return [signals["csat"]] if signals.get("csat", {}).get("known") else []

    (csat,) = eventually(health_csat, DEADLINE, "the CSAT in the customer's health")
    assert csat["value"] == 5


def test_an_import_job_reports_progress_and_a_second_run_creates_nothing(suite, tenant):
    owner = tenant.api
    customer = create_customer(owner)
    project = owner.post(f"/api/v1/customers/{customer['id']}/projects", json={"name": "From Monday"}).json()
    raw = (FIXTURES / "monday.csv").read_bytes()
    url = f"/api/v1/projects/{project['id']}/import-jobs"
    problem(owner.post(url, data=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}), 422)  # nothing queued

    def finished(job_id):
        job = owner.get(f"/api/v1/import-jobs/{job_id}").json()
        return [job] if job["status"] in ("done", "failed") else []

    jobs = []
    for _ in range(2):
        response = owner.post(url, data=raw, headers={"Content-Type": "text/csv"})
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "queued" and response.json()["rows_total"] == 7
        assert response.headers["Location"].endswith(f"/import-jobs/{response.json()['id']}")
        job_id = response.json()["id"]
        (job,) = eventually(lambda job_id=job_id: finished(job_id), DEADLINE, "the import job's end")
        jobs.append(job)
    assert [(j["status"], j["rows_done"], j["created"], j["skipped"]) for j in jobs] == [
        ("done", 7, 7, 0), ("done", 7, 0, 7)]
    assert owner.get(f"/api/v1/projects/{project['id']}/tasks").json()["total"] == 7
    problem(owner.get(f"/api/v1/import-jobs/{uuid.uuid4()}"), 404)
