"""Incoming mail onto tickets end to end (issue 8): a `mail.received` published as mailsync's relay
would, consumed by the real tickets service, and the ticket rows it leaves — each threading path,
redelivery, our reply's Message-ID threading back, and a reply's delivery stamped by `mail.sent`.
Real RabbitMQ and PostgreSQL."""
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from custops import db
from custops.contracts.customers import CustomerCreated
from custops.contracts.mailsync import MailAddress, MailReceived, MailSent
from custops.events import envelope_for
from custops.testing import publish_and_wait
from tickets.models import metadata, ticket_messages, tickets

SUPPORT = "support@help.example"


@pytest.fixture
def customer(tickets_service, tenant_id):
    """A customer the tickets service copied (so no customers RPC is needed)."""
    customer_id = uuid.uuid4()
    publish_and_wait(tickets_service, "on_customer_created", envelope_for(
        CustomerCreated(customer_id=customer_id, name="Acme", tier="smb", domains=["acme.example"]), tenant_id))
    return customer_id


@pytest.fixture
def tenant_id():
    return uuid.uuid4()


def _mail(customer_id, subject="Printer on fire", sender="alice@acme.example", contact_id=None, **kw):
    return MailReceived(**{
        "mail_id": uuid.uuid4(), "mailbox_id": uuid.UUID(int=7),
        "internet_message_id": f"{uuid.uuid4().hex}@mail.acme.example", "sender": MailAddress(email=sender),
        "to": [MailAddress(email=SUPPORT)], "delivered_to": [SUPPORT], "subject": subject,
        "received_at": datetime.now(timezone.utc), "text": "It is on fire.", "customer_id": customer_id,
        "contact_id": contact_id, "raw_sha256": "0" * 64, **kw})


def _receive(service, tenant_id, mail):
    envelope = envelope_for(mail, tenant_id)
    publish_and_wait(service, "on_mail_received", envelope)
    return envelope


def _messages_of_mail(mail_id) -> list[dict]:
    with db.engine_for("tickets").connect() as conn:
        return [dict(r) for r in conn.execute(select(ticket_messages).where(ticket_messages.c.mail_id == mail_id))
                .mappings()]


def _ticket(ticket_id) -> dict:
    with db.engine_for("tickets").connect() as conn:
        return dict(conn.execute(select(tickets).where(tickets.c.id == ticket_id)).mappings().one())


def _ticket_of(mail) -> dict:
    [message] = _messages_of_mail(mail.mail_id)
    return {**_ticket(message["ticket_id"]), "message": message}


def _replied_events(ticket_id) -> list[dict]:
    outbox = metadata.tables["outbox"]
    with db.engine_for("tickets").connect() as conn:
        rows = conn.execute(select(outbox.c.envelope).where(outbox.c.type == "ticket.replied")).scalars().all()
    return [e["data"] for e in rows if e["data"]["ticket_id"] == str(ticket_id)]


def test_a_new_mail_opens_a_ticket_from_email_and_a_redelivery_or_second_copy_changes_nothing(
        tickets_service, tenant_id, customer):
    mail = _mail(customer, subject="Re: AW: Printer on fire", cc=[MailAddress(email="bob@acme.example")],
                 participants=[MailAddress(email="bob@acme.example")])
    envelope = _receive(tickets_service, tenant_id, mail)

    ticket = _ticket_of(mail)
    assert (ticket["source"], ticket["subject"], ticket["status"]) == ("email", "Printer on fire", "new")
    assert ticket["message"]["kind"] == "inbound" and ticket["message"]["thread_reason"] == "new_thread"
    assert ticket["message"]["internet_message_id"] == mail.internet_message_id
    assert ticket["mail_thread"]["to"] == ["alice@acme.example"] and ticket["mail_thread"]["cc"] == ["bob@acme.example"]

    publish_and_wait(tickets_service, "on_mail_received", envelope)  # redelivered event
    _receive(tickets_service, tenant_id, mail)  # the same mail told again under a new event id
    again = mail.model_copy(update={"mail_id": uuid.uuid4()})  # the same Message-ID from a second mailbox
    _receive(tickets_service, tenant_id, again)
    assert len(_messages_of_mail(mail.mail_id)) == 1 and _messages_of_mail(again.mail_id) == []


def test_a_reply_threads_back_by_our_message_id_and_its_reply_event_carries_the_thread(
        tickets_service, tenant_id, customer, rpc):
    first = _mail(customer)
    _receive(tickets_service, tenant_id, first)
    ticket = _ticket_of(first)
    reply = rpc.call("tickets", "add_message", str(tenant_id), str(ticket["id"]),
                     {"kind": "reply", "body": "We are on it."})["message"]
    ours = reply["internet_message_id"]
    assert ours == f"{reply['id']}@help.example" and reply["delivery_status"] == "queued"
    [replied] = _replied_events(ticket["id"])
    assert replied["internet_message_id"] == ours and replied["in_reply_to"] == first.internet_message_id
    assert replied["references"] == [first.internet_message_id] and replied["to"] == ["alice@acme.example"]
    assert replied["mail_subject"] == f"Re: [#T-{ticket['number']}] Printer on fire"
    assert replied["from_address"] == SUPPORT and replied["mailbox_id"] == str(uuid.UUID(int=7))

    # an Outlook answer: In-Reply-To only, no References, no token in the subject
    answer = _mail(customer, subject="AW: Printer on fire", in_reply_to=[ours])
    _receive(tickets_service, tenant_id, answer)
    threaded = _ticket_of(answer)
    assert threaded["id"] == ticket["id"] and threaded["message"]["thread_reason"] == "in_reply_to"
    assert threaded["mail_thread"]["last_message_id"] == answer.internet_message_id

    # mailsync tells the reply left: the message says so
    publish_and_wait(tickets_service, "on_mail_sent", envelope_for(MailSent(
        ticket_id=ticket["id"], message_id=uuid.UUID(reply["id"]), internet_message_id=ours,
        mailbox_id=uuid.UUID(int=7), recipients=["alice@acme.example"], attempts=1,
        sent_at=datetime.now(timezone.utc)), tenant_id))
    listed = rpc.call("tickets", "list_messages", str(tenant_id), str(ticket["id"]))["items"]
    assert [m["delivery_status"] for m in listed if m["kind"] == "reply"] == ["sent"]


def test_a_resolved_ticket_is_reopened_a_closed_one_is_followed_by_a_new_ticket(
        tickets_service, tenant_id, customer, rpc):
    first = _mail(customer)
    _receive(tickets_service, tenant_id, first)
    ticket = _ticket_of(first)
    rpc.call("tickets", "change_status", str(tenant_id), str(ticket["id"]), "resolved")

    reopening = _mail(customer, references=[first.internet_message_id])
    _receive(tickets_service, tenant_id, reopening)
    assert _ticket(ticket["id"])["status"] == "open"

    rpc.call("tickets", "change_status", str(tenant_id), str(ticket["id"]), "closed")
    late = _mail(customer, subject=f"Re: [#T-{ticket['number']}] Printer on fire")
    _receive(tickets_service, tenant_id, late)
    follow_up = _ticket_of(late)
    assert follow_up["id"] != ticket["id"] and follow_up["follows_ticket_id"] == ticket["id"]
    assert follow_up["message"]["thread_reason"] == "subject_token" and follow_up["source"] == "email"
    assert _ticket(ticket["id"])["status"] == "closed"


def test_a_stranger_quoting_a_ticket_number_gets_a_new_ticket(tickets_service, tenant_id, customer):
    first = _mail(customer)
    _receive(tickets_service, tenant_id, first)
    ticket = _ticket_of(first)
    other_customer = uuid.uuid4()
    publish_and_wait(tickets_service, "on_customer_created", envelope_for(
        CustomerCreated(customer_id=other_customer, name="Globex", tier="smb", domains=[]), tenant_id))

    quoting = _mail(other_customer, sender="eve@globex.example", subject=f"Re: [#T-{ticket['number']}] hi")
    _receive(tickets_service, tenant_id, quoting)
    theirs = _ticket_of(quoting)
    assert theirs["id"] != ticket["id"] and theirs["customer_id"] == other_customer
    assert theirs["message"]["thread_reason"] == "new_thread"
    assert f"T-{ticket['number']}" in theirs["message"]["thread_note"]


def test_an_auto_reply_is_attached_as_automatic_and_never_reopens(tickets_service, tenant_id, customer, rpc):
    first = _mail(customer)
    _receive(tickets_service, tenant_id, first)
    ticket = _ticket_of(first)
    rpc.call("tickets", "change_status", str(tenant_id), str(ticket["id"]), "resolved")
    before = _ticket(ticket["id"])

    out_of_office = _mail(customer, subject="Automatic reply: Printer on fire", automatic="auto_reply",
                          in_reply_to=[first.internet_message_id])
    _receive(tickets_service, tenant_id, out_of_office)
    attached = _ticket_of(out_of_office)
    assert attached["id"] == ticket["id"] and attached["message"]["automatic"] == "auto_reply"
    after = _ticket(ticket["id"])
    assert after["status"] == "resolved"
    assert after["last_customer_message_at"] == before["last_customer_message_at"]
    assert after["mail_thread"] == before["mail_thread"]  # our next reply does not answer the robot

    stray = _mail(customer, subject="Out of office", automatic="auto_reply")
    _receive(tickets_service, tenant_id, stray)
    assert _messages_of_mail(stray.mail_id) == []


def test_content_postgres_cannot_store_never_dead_letters_a_mail(tickets_service, tenant_id, customer):
    mail = _mail(customer, subject="Nul\x00 byte", text="broken\x00text", references=["x" * 2000, "ok@x"],
                 internet_message_id="y" * 1500, sender="al\x00ice@acme.example")
    _receive(tickets_service, tenant_id, mail)  # fails unless handled without an error
    ticket = _ticket_of(mail)
    assert ticket["subject"] == "Nul byte" and ticket["message"]["body"] == "brokentext"
    assert ticket["message"]["internet_message_id"] is None and ticket["message"]["mail_references"] == ["ok@x"]
