"""Forms' tickets, satisfaction surveys, the portal's forms and background import jobs in the real
customers service (real RabbitMQ and PostgreSQL; the tickets service's events are published as its
relay would)."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from custops import caller, db, outbox
from custops.contracts.tickets import TicketCreated, TicketResolved
from custops.errors import Gone, InvalidInput, NotFound
from custops.events import envelope_for
from custops.testing import publish_and_wait
from customers.models import customers, form_submissions, import_jobs
from customers.work_plan import import_jobs as jobs

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
SURVEY = {"sections": [{"key": "s", "fields": [
    {"key": "csat", "type": "csat", "label": "How satisfied are you?", "required": True},
    {"key": "nps", "type": "nps", "label": "Recommend us?"},
    {"key": "comment", "type": "long_text", "label": "Anything else?"}]}]}
REQUEST = {"sections": [{"key": "s", "fields": [
    {"key": "what", "type": "short_text", "label": "What do you need?", "required": True},
    {"key": "urgent", "type": "yes_no", "label": "Urgent?"}]}]}


def _events(type_: str, tenant_id) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        return list(conn.execute(select(table.c.envelope).where(
            table.c.type == type_, table.c.tenant_id == uuid.UUID(str(tenant_id))).order_by(table.c.seq)).scalars())


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@surveys.example", "Sue Survey")


def _customer_and_contact(rpc, tenant):
    t = tenant["tenant_id"]
    with caller.using(caller.member(tenant["member_id"])):
        customer = rpc.call("customers", "create_customer", t, {"name": f"Co {uuid.uuid4().hex[:6]}", "tier": "smb"})
        contact = rpc.call("customers", "create_contact", t, customer["id"],
                           {"name": "Rita Requester", "email": f"rita-{uuid.uuid4().hex[:6]}@co.example"})
    return customer, contact


def test_a_ticket_rule_asks_for_a_ticket_and_the_submission_records_it(rpc, tenant, customers_service):
    t = tenant["tenant_id"]
    customer, contact = _customer_and_contact(rpc, tenant)
    with pytest.raises(InvalidInput) as raised:  # the condition names no field of the form
        rpc.call("customers", "create_form", t, {"name": "Bad", "definition": REQUEST,
                                                 "ticket_rule": {"subject": "x", "when": {"field": "nope",
                                                                                         "equals": True}}})
    assert raised.value.errors[0]["field"] == "ticket_rule.when.field"
    form = rpc.call("customers", "create_form", t, {
        "name": "Request", "definition": REQUEST,
        "ticket_rule": {"subject": "Urgent request", "priority": "high", "when": {"field": "urgent", "equals": True}}})
    assert form["ticket_rule"]["priority"] == "high" and form["portal_visible"] is False
    link = rpc.call("customers", "create_form_link", t, form["id"], customer["id"],
                    {"contact_id": contact["id"], "multiple": True})
    calm = rpc.call("customers", "submit_form_by_link", link["token"], {"answers": {"what": "a tip", "urgent": False}})
    urgent = rpc.call("customers", "submit_form_by_link", link["token"], {"answers": {"what": "help", "urgent": True}})
    told = {e["data"]["submission_id"]: e["data"] for e in _events("form.submitted", t)}
    assert told[calm["id"]].get("ticket_subject") is None
    assert told[urgent["id"]]["ticket_subject"] == "Urgent request"
    assert told[urgent["id"]]["ticket_priority"] == "high" and told[urgent["id"]]["via"] == "link"
    assert urgent["ticket_id"] is None  # until the tickets service tells it

    ticket_id = uuid.uuid4()
    created = TicketCreated(ticket_id=ticket_id, number=7, customer_id=customer["id"], subject="Urgent request",
                            priority="high", status="new", source="form", created_at=datetime.now(timezone.utc),
                            contact_id=contact["id"], form_submission_id=urgent["id"])
    publish_and_wait(customers_service, "record_form_ticket", envelope_for(created, t))
    listed = {s["id"]: s for s in rpc.call("customers", "list_customer_submissions", t, customer["id"])["items"]}
    assert listed[urgent["id"]]["ticket_id"] == str(ticket_id) and listed[calm["id"]]["ticket_id"] is None


def test_a_resolved_ticket_sends_one_survey_whose_score_lands_on_the_customer(rpc, tenant, customers_service):
    t = tenant["tenant_id"]
    customer, contact = _customer_and_contact(rpc, tenant)
    assert rpc.call("customers", "get_survey_settings", t) == {"enabled": False, "form_id": None,
                                                                "delay_minutes": 0, "expires_in_days": 14}
    with pytest.raises(InvalidInput):  # on, but no form
        rpc.call("customers", "put_survey_settings", t, {"enabled": True})
    plain = rpc.call("customers", "create_form", t, {"name": "Plain", "definition": REQUEST})
    with pytest.raises(InvalidInput) as raised:  # a form with no CSAT/NPS question
        rpc.call("customers", "put_survey_settings", t, {"enabled": True, "form_id": plain["id"]})
    assert raised.value.errors[0]["field"] == "form_id"
    survey = rpc.call("customers", "create_form", t, {"name": "How did we do?", "definition": SURVEY})
    settings = rpc.call("customers", "put_survey_settings", t, {"enabled": True, "form_id": survey["id"],
                                                                 "expires_in_days": 7})
    assert settings == {"enabled": True, "form_id": survey["id"], "delay_minutes": 0, "expires_in_days": 7}

    ticket_id = uuid.uuid4()
    resolved = TicketResolved(ticket_id=ticket_id, number=12, customer_id=customer["id"],
                              resolved_at=datetime.now(timezone.utc), contact_id=contact["id"])
    publish_and_wait(customers_service, "request_survey", envelope_for(resolved, t))
    publish_and_wait(customers_service, "request_survey", envelope_for(resolved, t))  # told again: no second
    requested = _events("survey.requested", t)
    assert len(requested) == 1
    data = requested[0]["data"]
    assert data["ticket_id"] == str(ticket_id) and data["contact_id"] == contact["id"]
    assert data["contact_email"] == contact["email"]  # where mailsync sends the survey mail
    expires = datetime.fromisoformat(data["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(timezone.utc) <= timedelta(days=7)
    token = data["url"].rsplit("/", 1)[1]
    assert rpc.call("customers", "form_by_link", token)["name"] == "How did we do?"

    answered = rpc.call("customers", "submit_form_by_link", token, {"answers": {"csat": 4, "nps": 9}})
    assert answered["survey_ticket_id"] == str(ticket_id) and answered["contact_id"] == contact["id"]
    with pytest.raises(Gone):  # one submission
        rpc.call("customers", "submit_form_by_link", token, {"answers": {"csat": 1}})
    told = _events("form.submitted", t)[-1]["data"]
    assert told["survey_ticket_id"] == str(ticket_id)
    assert {s["type"]: s["score"] for s in told["scores"]} == {"csat": 4, "nps": 9}
    latest = rpc.call("customers", "get_customer", t, customer["id"])
    assert (latest["latest_csat"], latest["latest_nps"]) == (4, 9)

    # no requester: nothing sent; surveys off: nothing queued
    publish_and_wait(customers_service, "request_survey", envelope_for(TicketResolved(
        ticket_id=uuid.uuid4(), number=13, customer_id=customer["id"], resolved_at=datetime.now(timezone.utc)), t))
    rpc.call("customers", "put_survey_settings", t, {"enabled": False})
    publish_and_wait(customers_service, "request_survey", envelope_for(TicketResolved(
        ticket_id=uuid.uuid4(), number=14, customer_id=customer["id"], resolved_at=datetime.now(timezone.utc),
        contact_id=contact["id"]), t))
    assert len(_events("survey.requested", t)) == 1
    assert [e["data"]["enabled"] for e in _events("survey_settings.changed", t)] == [True, False]


def test_a_delayed_survey_is_sent_by_the_clock_when_due(rpc, tenant, customers_service):
    t = tenant["tenant_id"]
    customer, contact = _customer_and_contact(rpc, tenant)
    survey = rpc.call("customers", "create_form", t, {"name": "Later", "definition": SURVEY})
    rpc.call("customers", "put_survey_settings", t, {"enabled": True, "form_id": survey["id"], "delay_minutes": 1})
    resolved = TicketResolved(ticket_id=uuid.uuid4(), number=3, customer_id=customer["id"],
                              resolved_at=datetime.now(timezone.utc) - timedelta(seconds=58), contact_id=contact["id"])
    publish_and_wait(customers_service, "request_survey", envelope_for(resolved, t))
    deadline = time.monotonic() + 30
    while not _events("survey.requested", t) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [e["data"]["ticket_id"] for e in _events("survey.requested", t)] == [str(resolved.ticket_id)]


def test_portal_visible_forms_are_submitted_as_the_contact_for_their_company(rpc, tenant):
    t = tenant["tenant_id"]
    customer, contact = _customer_and_contact(rpc, tenant)
    other, _ = _customer_and_contact(rpc, tenant)
    hidden = rpc.call("customers", "create_form", t, {"name": "Internal", "definition": SURVEY})
    shared = rpc.call("customers", "create_form", t, {"name": "Feedback", "definition": SURVEY,
                                                      "portal_visible": True})
    assert [f["id"] for f in rpc.call("customers", "list_portal_forms", t)["items"]] == [shared["id"]]
    assert "ticket_rule" not in rpc.call("customers", "get_portal_form", t, shared["id"])
    with pytest.raises(NotFound):
        rpc.call("customers", "get_portal_form", t, hidden["id"])
    with pytest.raises(NotFound):
        rpc.call("customers", "submit_portal_form", t, hidden["id"], customer["id"], contact["id"],
                 {"answers": {"csat": 5}})
    with pytest.raises(NotFound):  # the contact is not one of that company's
        rpc.call("customers", "submit_portal_form", t, shared["id"], other["id"], contact["id"],
                 {"answers": {"csat": 5}})
    with pytest.raises(InvalidInput):
        rpc.call("customers", "submit_portal_form", t, shared["id"], customer["id"], contact["id"],
                 {"answers": {"csat": 9}})
    submitted = rpc.call("customers", "submit_portal_form", t, shared["id"], customer["id"], contact["id"],
                         {"answers": {"csat": 5}})
    assert submitted["customer_id"] == customer["id"] and submitted["contact_id"] == contact["id"]
    assert submitted["via"] == "portal" and submitted["link_id"] is None
    event = _events("form.submitted", t)[-1]
    assert event["data"]["via"] == "portal" and event["actor"] == {"type": "contact", "id": contact["id"]}
    rpc.call("customers", "update_form", t, shared["id"], {"portal_visible": False})
    assert rpc.call("customers", "list_portal_forms", t)["items"] == []


def _wait_job(rpc, tenant_id, job_id, timeout=60) -> dict:
    deadline = time.monotonic() + timeout
    job = rpc.call("customers", "get_import_job", tenant_id, job_id)
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = rpc.call("customers", "get_import_job", tenant_id, job_id)
    return job


def test_an_import_job_runs_in_the_background_and_a_rerun_adds_nothing(rpc, tenant, new_tenant):
    t = tenant["tenant_id"]
    customer, _ = _customer_and_contact(rpc, tenant)
    with caller.using(caller.member(tenant["member_id"])):
        project = rpc.call("customers", "create_project", t, customer["id"], {"name": "Moved over"})
    text = (FIXTURES / "asana.csv").read_text(encoding="utf-8-sig")
    with pytest.raises(InvalidInput):  # not an export of a tool we know: nothing queued
        rpc.call("customers", "start_import_job", t, project["id"], {"csv": "a;b\n1;2\n"})
    with pytest.raises(NotFound):  # another tenant's project
        rpc.call("customers", "start_import_job", new_tenant()["tenant_id"], project["id"], {"csv": text})
    with caller.using(caller.member(tenant["member_id"])):
        job = rpc.call("customers", "start_import_job", t, project["id"], {"csv": text})
    assert job["status"] == "queued" and job["rows_total"] > 0 and job["rows_done"] == 0
    done = _wait_job(rpc, t, job["id"])
    assert done["status"] == "done" and done["rows_done"] == done["rows_total"], done
    assert done["created"] == done["rows_total"] and done["skipped"] == 0 and done["attempts"] == 1
    tasks = rpc.call("customers", "list_tasks", t, project["id"], {}, 200)["items"]
    assert len(tasks) == done["created"]
    again = _wait_job(rpc, t, rpc.call("customers", "start_import_job", t, project["id"], {"csv": text})["id"])
    assert (again["status"], again["created"], again["skipped"]) == ("done", 0, done["rows_total"])
    assert len(rpc.call("customers", "list_tasks", t, project["id"], {}, 200)["items"]) == done["created"]
    finished = [e["data"] for e in _events("import_job.finished", t)]
    assert [(e["job_id"], e["status"]) for e in finished] == [(job["id"], "done"), (again["id"], "done")]
    with pytest.raises(NotFound):
        rpc.call("customers", "get_import_job", new_tenant()["tenant_id"], job["id"])


def test_a_job_left_running_by_a_dead_worker_is_resumed_then_given_up(rpc, tenant):
    """A restart mid-job: its heartbeat goes stale, the job is claimed again and goes on from the
    rows it recorded; one interrupted too often ends failed."""
    t = tenant["tenant_id"]
    customer, _ = _customer_and_contact(rpc, tenant)
    project = rpc.call("customers", "create_project", t, customer["id"], {"name": "Resumed"})
    text = (FIXTURES / "asana.csv").read_text(encoding="utf-8-sig")
    stale = datetime.now(timezone.utc) - jobs.STALE_AFTER - timedelta(seconds=5)
    # two jobs as a dead worker left them (written here, so no live worker takes them first): one
    # half-way (2 of its 4 rows recorded), one out of attempts
    ids = [uuid.uuid4(), uuid.uuid4()]
    with db.engine_for("customers").begin() as conn:
        for job_id, attempts, done in ((ids[0], 1, 2), (ids[1], jobs.MAX_ATTEMPTS, 0)):
            conn.execute(insert(import_jobs).values(
                id=job_id, tenant_id=uuid.UUID(t), project_id=uuid.UUID(project["id"]), status="running", csv=text,
                tool="asana", rows_total=4, rows_done=done, attempts=attempts, heartbeat_at=stale, started_at=stale,
                created_at=stale))
        conn.execute(select(func.pg_notify(jobs.NOTIFY_CHANNEL, "")))  # look now, not at the next 15 s look
    resumed, given_up = (_wait_job(rpc, t, str(i), timeout=90) for i in ids)
    assert (resumed["status"], resumed["attempts"], resumed["rows_done"]) == ("done", 2, 4), resumed
    assert resumed["created"] == 2  # rows 3 and 4: the first two were recorded as done before the "crash"
    assert given_up["status"] == "failed" and "interrupted" in given_up["failure"]
    titles = [task["title"] for task in rpc.call("customers", "list_tasks", t, project["id"], {}, 50)["items"]]
    assert len(titles) == 2


def test_the_latest_scores_stay_null_without_a_score(rpc, tenant):
    t = tenant["tenant_id"]
    customer, _ = _customer_and_contact(rpc, tenant)
    form = rpc.call("customers", "create_form", t, {"name": "Plain", "definition": REQUEST})
    link = rpc.call("customers", "create_form_link", t, form["id"], customer["id"], {})
    rpc.call("customers", "submit_form_by_link", link["token"], {"answers": {"what": "x"}})
    with db.engine_for("customers").connect() as conn:
        row = conn.execute(select(customers.c.latest_csat, customers.c.latest_nps).where(
            customers.c.id == uuid.UUID(customer["id"]))).one()
        via = conn.execute(select(form_submissions.c.via).where(
            form_submissions.c.customer_id == uuid.UUID(customer["id"]))).scalar_one()
    assert tuple(row) == (None, None) and via == "link"

