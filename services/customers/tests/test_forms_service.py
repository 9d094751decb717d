"""Forms in the real customers service (real RabbitMQ and PostgreSQL): a form with conditional
fields, a link for a customer, submissions through the link (validated, one or many, expiring),
the events with scores, a task by the form's rule, tenant isolation."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from custops import caller, db, outbox
from custops.errors import Gone, InvalidInput, NotFound

DEFINITION = {"sections": [
    {"key": "about", "title": "About you", "fields": [
        {"key": "intro", "type": "section_heading", "label": "Tell us"},
        {"key": "email", "type": "email", "label": "Email", "required": True},
        {"key": "happy", "type": "yes_no", "label": "Happy?", "required": True},
        {"key": "why", "type": "long_text", "label": "Why not?", "required": True,
         "visible_when": {"field": "happy", "equals": False}},
        {"key": "campaign", "type": "hidden", "label": "Campaign"}]},
    {"key": "scores", "title": "Scores", "fields": [
        {"key": "nps", "type": "nps", "label": "Recommend us?", "required": True},
        {"key": "csat", "type": "csat", "label": "Satisfied?"}]}]}


def _events(type_: str, tenant_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        return list(conn.execute(select(table.c.envelope).where(
            table.c.type == type_, table.c.tenant_id == uuid.UUID(tenant_id)).order_by(table.c.seq)).scalars())


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@forms.example", "Fay Forms")


def _customer(rpc, tenant):
    with caller.using(caller.member(tenant["member_id"])):
        return rpc.call("customers", "create_customer", tenant["tenant_id"],
                        {"name": f"Co {uuid.uuid4().hex[:6]}", "tier": "smb"})


def test_form_link_submission_scores_and_task_rule(rpc, tenant, new_tenant):
    t = tenant["tenant_id"]
    customer = _customer(rpc, tenant)
    with pytest.raises(InvalidInput):  # a condition on a later field
        rpc.call("customers", "create_form", t, {"name": "Bad", "definition": {"sections": [{"key": "s", "fields": [
            {"key": "b", "type": "short_text", "label": "B", "visible_when": {"field": "a", "equals": "x"}},
            {"key": "a", "type": "short_text", "label": "A"}]}]}})
    with caller.using(caller.member(tenant["member_id"])):
        form = rpc.call("customers", "create_form", t, {
            "name": "Quarterly check-in", "definition": DEFINITION,
            "task_rule": {"project": "Follow-ups", "title": "Call back an unhappy customer",
                          "when": {"field": "happy", "equals": False}}})
    assert form["version"] == 1 and form["field_count"] == 6
    assert rpc.call("customers", "get_form", t, form["id"])["definition"]["sections"][0]["fields"][3][
        "visible_when"] == {"field": "happy", "equals": False}
    assert [f["id"] for f in rpc.call("customers", "list_forms", t)["items"]] == [form["id"]]
    edited = rpc.call("customers", "update_form", t, form["id"], {"description": "Four questions"})
    assert edited["version"] == 1 and edited["description"] == "Four questions"

    with pytest.raises(InvalidInput) as raised:
        rpc.call("customers", "create_form_link", t, form["id"], customer["id"], {"prefill": {"email": "x"}})
    assert raised.value.errors[0]["field"] == "prefill.email"
    link = rpc.call("customers", "create_form_link", t, form["id"], customer["id"],
                    {"multiple": True, "expires_in_days": 3, "prefill": {"campaign": "q1"}})
    token = link["token"]
    opened = rpc.call("customers", "form_by_link", token)
    assert opened["name"] == "Quarterly check-in" and opened["multiple"] is True

    with pytest.raises(InvalidInput) as raised:  # "why" is required once "happy" is no
        rpc.call("customers", "submit_form_by_link", token, {"answers": {"email": "a@b.example", "happy": False,
                                                                        "nps": 11}})
    assert {e["field"] for e in raised.value.errors} == {"answers.why", "answers.nps"}
    happy = rpc.call("customers", "submit_form_by_link", token, {"answers": {
        "email": "a@b.example", "happy": True, "why": "ignored", "nps": 10, "campaign": "forged"}})
    assert happy["answers"] == {"email": "a@b.example", "happy": True, "campaign": "q1", "nps": 10}
    assert happy["task_id"] is None
    unhappy = rpc.call("customers", "submit_form_by_link", token, {"answers": {
        "email": "c@d.example", "happy": False, "why": "Slow support", "nps": 4, "csat": 2}})
    assert unhappy["task_id"] is not None
    task = rpc.call("customers", "get_task", t, unhappy["task_id"])
    assert task["title"] == "Call back an unhappy customer" and task["customer_id"] == customer["id"]

    submitted = _events("form.submitted", t)
    assert len(submitted) == 2
    data = submitted[1]["data"]
    assert data["customer_id"] == customer["id"] and data["summary"]["why"] == "Slow support"
    assert {s["type"]: s["category"] for s in data["scores"]} == {"nps": "detractor", "csat": "dissatisfied"}
    assert [e["data"]["form_id"] for e in _events("form.created", t)] == [form["id"]]
    assert "token" not in str(_events("form.link_created", t)[0]["data"]).lower().replace("token_", "")
    assert len(_events("form.updated", t)) == 1

    listed = rpc.call("customers", "list_customer_submissions", t, customer["id"])
    assert listed["total"] == 2 and [s["id"] for s in listed["items"]] == [unhappy["id"], happy["id"]]

    # another tenant sees none of it
    other = new_tenant(f"owner-{uuid.uuid4().hex[:8]}@other.example")["tenant_id"]
    with pytest.raises(NotFound):
        rpc.call("customers", "get_form", other, form["id"])
    with pytest.raises(NotFound):
        rpc.call("customers", "list_customer_submissions", other, customer["id"])
    with pytest.raises(NotFound):
        rpc.call("customers", "create_form_link", other, form["id"], customer["id"], {})


def test_single_use_and_expired_links(rpc, tenant):
    from customers.models import form_links

    t = tenant["tenant_id"]
    customer = _customer(rpc, tenant)
    form = rpc.call("customers", "create_form", t, {"name": "CSAT", "definition": {"sections": [
        {"key": "s", "fields": [{"key": "csat", "type": "csat", "label": "How did we do?", "required": True}]}]}})
    once = rpc.call("customers", "create_form_link", t, form["id"], customer["id"], {})
    rpc.call("customers", "submit_form_by_link", once["token"], {"answers": {"csat": 5}})
    with pytest.raises(Gone):
        rpc.call("customers", "submit_form_by_link", once["token"], {"answers": {"csat": 4}})
    with pytest.raises(Gone):
        rpc.call("customers", "form_by_link", once["token"])
    with pytest.raises(NotFound):
        rpc.call("customers", "form_by_link", once["token"][:-2] + "xx")
    with pytest.raises(NotFound):
        rpc.call("customers", "form_by_link", "nonsense")

    later = rpc.call("customers", "create_form_link", t, form["id"], customer["id"], {"expires_in_days": 1})
    with db.engine_for("customers").begin() as conn:  # time passes: the link is past its expiry
        conn.execute(update(form_links).where(form_links.c.id == uuid.UUID(later["id"]))
                     .values(expires_at=form_links.c.created_at))
    with pytest.raises(Gone):
        rpc.call("customers", "submit_form_by_link", later["token"], {"answers": {"csat": 4}})
    assert rpc.call("customers", "list_customer_submissions", t, customer["id"])["total"] == 1
