"""A reply that leaves by mail answers the customer when it is sent (issue 8, `tickets.sla`): the
response timer of a mail ticket stops at `mail.sent`'s sent time, `mail.send_failed` leaves it
running, a redelivered `mail.sent` changes nothing, and a late `mail.sent` never stops a timer a later
customer message started. Real RabbitMQ and PostgreSQL; events published as mailsync's relay would."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from custops import db
from custops.contracts.customers import CustomerCreated
from custops.contracts.mailsync import MailAddress, MailReceived, MailSendFailed, MailSent
from custops.events import envelope_for
from custops.testing import publish_and_wait
from tickets.models import metadata, ticket_messages, ticket_sla_timers

SUPPORT = "support@help.example"


@pytest.fixture
def customer(tickets_service, tenant_id):
    customer_id = uuid.uuid4()
    publish_and_wait(tickets_service, "on_customer_created", envelope_for(
        CustomerCreated(customer_id=customer_id, name="Acme", tier="smb", domains=["acme.example"]), tenant_id))
    return customer_id


def _mail_ticket(service, tenant_id, customer_id, **kw) -> uuid.UUID:
    mail = MailReceived(**{
        "mail_id": uuid.uuid4(), "mailbox_id": uuid.UUID(int=7),
        "internet_message_id": f"{uuid.uuid4().hex}@mail.acme.example",
        "sender": MailAddress(email="alice@acme.example"), "to": [MailAddress(email=SUPPORT)],
        "delivered_to": [SUPPORT], "subject": "Printer on fire", "received_at": datetime.now(timezone.utc),
        "text": "It is on fire.", "customer_id": customer_id, "raw_sha256": "0" * 64, **kw})
    publish_and_wait(service, "on_mail_received", envelope_for(mail, tenant_id))
    with db.engine_for("tickets").connect() as conn:
        return conn.execute(select(ticket_messages.c.ticket_id)
                            .where(ticket_messages.c.mail_id == mail.mail_id)).scalar_one()


def _timers(ticket_id) -> dict[str, dict]:
    with db.engine_for("tickets").connect() as conn:
        return {r["timer"]: dict(r) for r in conn.execute(
            select(ticket_sla_timers).where(ticket_sla_timers.c.ticket_id == ticket_id)).mappings()}


def _met_events(ticket_id) -> list[dict]:
    outbox = metadata.tables["outbox"]
    with db.engine_for("tickets").connect() as conn:
        rows = conn.execute(select(outbox.c.envelope).where(outbox.c.type == "ticket.sla_met")).scalars().all()
    return [e["data"] for e in rows if e["data"]["ticket_id"] == str(ticket_id)]


def _reply(rpc, tenant_id, ticket_id) -> dict:
    return rpc.call("tickets", "add_message", str(tenant_id), str(ticket_id),
                    {"kind": "reply", "body": "We are on it."})["message"]


def _sent(service, tenant_id, ticket_id, reply, sent_at):
    envelope = envelope_for(MailSent(
        ticket_id=ticket_id, message_id=uuid.UUID(reply["id"]), internet_message_id=reply["internet_message_id"],
        mailbox_id=uuid.UUID(int=7), recipients=["alice@acme.example"], attempts=1, sent_at=sent_at), tenant_id)
    publish_and_wait(service, "on_mail_sent", envelope)
    return envelope


def test_the_first_response_is_met_when_the_reply_is_sent_not_when_it_is_made(
        tickets_service, tenant_id, customer, rpc):
    ticket_id = _mail_ticket(tickets_service, tenant_id, customer)
    failed = _reply(rpc, tenant_id, ticket_id)
    assert failed["delivery_status"] == "queued"
    assert _timers(ticket_id)["first_response"]["met_at"] is None  # made, not yet sent

    publish_and_wait(tickets_service, "on_mail_send_failed", envelope_for(MailSendFailed(
        ticket_id=ticket_id, message_id=uuid.UUID(failed["id"]), internet_message_id=failed["internet_message_id"],
        error="550 no such user", permanent=True, attempts=1, failed_at=datetime.now(timezone.utc)), tenant_id))
    assert _timers(ticket_id)["first_response"]["met_at"] is None  # the customer got nothing

    second = _reply(rpc, tenant_id, ticket_id)
    sent_at = datetime.fromisoformat(second["created_at"]) + timedelta(minutes=7)  # SMTP retried a while
    envelope = _sent(tickets_service, tenant_id, ticket_id, second, sent_at)
    first_response = _timers(ticket_id)["first_response"]
    assert first_response["met_at"] == sent_at
    [met] = _met_events(ticket_id)
    assert met["timer"] == "first_response" and datetime.fromisoformat(met["met_at"]) == sent_at

    publish_and_wait(tickets_service, "on_mail_sent", envelope)  # redelivered: the inbox drops it
    _sent(tickets_service, tenant_id, ticket_id, second, sent_at + timedelta(minutes=1))  # told again
    assert _timers(ticket_id)["first_response"]["met_at"] == sent_at and len(_met_events(ticket_id)) == 1
    listed = rpc.call("tickets", "list_messages", str(tenant_id), str(ticket_id))["items"]
    assert [m["delivery_status"] for m in listed if m["kind"] == "reply"] == ["failed", "sent"]


def test_a_late_mail_sent_never_stops_a_timer_a_later_customer_message_started(
        tickets_service, tenant_id, customer, rpc):
    ticket_id = _mail_ticket(tickets_service, tenant_id, customer)
    first = _reply(rpc, tenant_id, ticket_id)
    _sent(tickets_service, tenant_id, ticket_id, first, datetime.now(timezone.utc))
    assert _timers(ticket_id)["first_response"]["met_at"] is not None
    late = _reply(rpc, tenant_id, ticket_id)  # made now, its mail stuck in the queue
    rpc.call("tickets", "add_message", str(tenant_id), str(ticket_id), {"kind": "inbound", "body": "Any news?"})
    assert _timers(ticket_id)["next_response"]["met_at"] is None
    _sent(tickets_service, tenant_id, ticket_id, late, datetime.now(timezone.utc))
    assert _timers(ticket_id)["next_response"]["met_at"] is None  # it answered what came before it
    answer = _reply(rpc, tenant_id, ticket_id)
    answered_at = datetime.now(timezone.utc)
    _sent(tickets_service, tenant_id, ticket_id, answer, answered_at)
    assert _timers(ticket_id)["next_response"]["met_at"] == answered_at


def test_a_reply_on_a_ticket_without_mail_is_a_response_when_made(tickets_service, tenant_id, customer, rpc):
    ticket = rpc.call("tickets", "create_ticket", str(tenant_id), {
        "customer_id": str(customer), "subject": "From the portal", "description": "Help"})
    reply = _reply(rpc, tenant_id, ticket["id"])
    assert reply["delivery_status"] is None
    timers = _timers(uuid.UUID(ticket["id"]))
    assert timers["first_response"]["met_at"] == datetime.fromisoformat(reply["created_at"])
