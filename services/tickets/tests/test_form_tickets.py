"""A form's ticket rule and the satisfaction survey's scores in the real tickets service (real
RabbitMQ and PostgreSQL; `form.submitted` is published as the customers service's relay would)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from custops import db, outbox
from custops.contracts.customers import CustomerCreated, FormSubmitted
from custops.events import envelope_for
from custops.testing import publish_and_wait
from tickets.form_tickets import description_of
from tickets.models import tickets


def _submitted(customer_id, **fields) -> FormSubmitted:
    return FormSubmitted(submission_id=uuid.uuid4(), form_id=uuid.uuid4(), form_name="Request", form_version=1,
                         customer_id=customer_id, contact_id=uuid.uuid4(), summary={"what": "The printer is on fire"},
                         submitted_at=datetime.now(timezone.utc), **fields)


def _tickets_of(tenant_id) -> list[dict]:
    with db.engine_for("tickets").connect() as conn:
        return [dict(r) for r in conn.execute(select(tickets).where(tickets.c.tenant_id == tenant_id)
                                              .order_by(tickets.c.number)).mappings()]


def _created_events(tenant_id) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("tickets").connect() as conn:
        return list(conn.execute(select(table.c.envelope).where(
            table.c.type == "ticket.created", table.c.tenant_id == tenant_id)).scalars())


def test_a_submission_with_a_ticket_request_opens_one_ticket_of_source_form(tickets_service, rpc):
    tenant_id, customer_id = uuid.uuid4(), uuid.uuid4()
    publish_and_wait(tickets_service, "on_customer_created", envelope_for(
        CustomerCreated(customer_id=customer_id, name="Acme", tier="smb", domains=[]), tenant_id))
    data = _submitted(customer_id, ticket_subject="Urgent request", ticket_priority="high",
                      ticket_category="no-such-category")
    publish_and_wait(tickets_service, "on_form_submitted", envelope_for(data, tenant_id))
    publish_and_wait(tickets_service, "on_form_submitted", envelope_for(data, tenant_id))  # told again
    publish_and_wait(tickets_service, "on_form_submitted", envelope_for(_submitted(customer_id), tenant_id))  # none

    [ticket] = _tickets_of(tenant_id)
    assert (ticket["source"], ticket["subject"], ticket["priority"]) == ("form", "Urgent request", "high")
    assert ticket["category"] == "general"  # a category the tenant does not have: the ticket is still opened
    assert ticket["form_submission_id"] == data.submission_id and ticket["contact_id"] == data.contact_id
    assert ticket["description"] == description_of("Request", {"what": "The printer is on fire"})
    [event] = _created_events(tenant_id)
    assert event["data"]["source"] == "form" and event["data"]["form_submission_id"] == str(data.submission_id)
    shown = rpc.call("tickets", "get_ticket", str(tenant_id), str(ticket["id"]))
    assert shown["form_submission_id"] == str(data.submission_id) and shown["csat_score"] is None


def test_a_survey_answer_puts_its_scores_on_the_ticket(tickets_service, rpc):
    tenant_id, customer_id = uuid.uuid4(), uuid.uuid4()
    publish_and_wait(tickets_service, "on_customer_created", envelope_for(
        CustomerCreated(customer_id=customer_id, name="Acme", tier="smb", domains=[]), tenant_id))
    ticket = rpc.call("tickets", "create_ticket", str(tenant_id), {"customer_id": str(customer_id),
                                                                   "subject": "Slow invoices"})
    scores = [{"field": "csat", "type": "csat", "score": 2, "max": 5, "category": "unsatisfied"},
              {"field": "nps", "type": "nps", "score": 10, "max": 10, "category": "promoter"}]
    publish_and_wait(tickets_service, "on_form_submitted", envelope_for(
        _submitted(customer_id, scores=scores, survey_ticket_id=uuid.UUID(ticket["id"])), tenant_id))
    shown = rpc.call("tickets", "get_ticket", str(tenant_id), ticket["id"])
    assert (shown["csat_score"], shown["nps_score"]) == (2, 10) and shown["survey_answered_at"] is not None
    # another tenant's ticket id in a survey answer changes nothing (and is no failure)
    other = uuid.uuid4()
    publish_and_wait(tickets_service, "on_form_submitted", envelope_for(
        _submitted(customer_id, scores=scores[:1], survey_ticket_id=uuid.UUID(ticket["id"])), other))
    assert rpc.call("tickets", "get_ticket", str(tenant_id), ticket["id"])["csat_score"] == 2

