"""A mail thread end to end through every process of the suite (issue 8): a `mail.received` (as
mailsync's relay publishes it) becomes a ticket; an agent's internal note and public reply go
through the gateway; the reply arrives at a real SMTP server (aiosmtpd in this process) threaded
to the customer's mail, and the note never reaches the wire. The reply's message shows it sent."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from custops import outbox
from custops.contracts.mailsync import MailAddress, MailReceived
from custops.events import envelope_for
from harness import create_customer, eventually
from smtp_sink import SmtpSink

NOTE = "INTERNAL: the customer is on a payment plan, do not mention the discount"


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def test_a_mailed_ticket_is_answered_by_mail_and_its_internal_note_never_leaves(suite, tenant, smtp):
    api = tenant.api
    customer = create_customer(api)
    domain = customer["domains"][0]
    mailbox = suite.rpc().call("mailsync", "create_mailbox", tenant.id, {
        "name": "Support", "email": f"support@{uuid.uuid4().hex[:8]}.help.example", "imap_host": "127.0.0.1",
        "imap_port": 1, "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False,
        "username": "support", "password": "secret", "enabled": False})
    mail = MailReceived(
        mail_id=uuid.uuid4(), mailbox_id=uuid.UUID(mailbox["id"]), internet_message_id=f"m1@{domain}",
        sender=MailAddress(email=f"alice@{domain}", name="Alice"), to=[MailAddress(email=mailbox["email"])],
        cc=[MailAddress(email=f"bob@{domain}")], participants=[MailAddress(email=f"bob@{domain}")],
        delivered_to=[mailbox["email"]], subject="Printer on fire", received_at=datetime.now(timezone.utc),
        text="Our printer is on fire.", customer_id=uuid.UUID(customer["id"]), raw_sha256="0" * 64)
    publisher = outbox.Publisher(suite.amqp_uri)
    try:
        envelope = envelope_for(mail, uuid.UUID(tenant.id))
        assert publisher.publish_batch([envelope.model_dump(mode="json")]) == set()
    finally:
        publisher.close()

    def mailed_ticket():
        page = api.get("/api/v1/tickets", params={"customer_id": customer["id"]}).json()["items"]
        return page[0] if page else None

    ticket = eventually(mailed_ticket, 20, "the mail became a ticket")
    assert ticket["source"] == "email" and ticket["subject"] == "Printer on fire"
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    assert api.post(url, json={"kind": "note", "body": NOTE}).status_code == 201
    reply = api.post(url, json={"kind": "reply", "body": "A technician is on the way."})
    assert reply.status_code == 201, reply.text

    [got] = smtp.wait_for(1, timeout=20)
    message = got.message
    assert message["In-Reply-To"] == f"<m1@{domain}>" and message["References"] == f"<m1@{domain}>"
    assert message["Message-ID"] == f"<{reply.json()['message']['internet_message_id']}>"
    assert message["Subject"] == f"Re: [#T-{ticket['number']}] Printer on fire"
    assert message["To"] == f"alice@{domain}" and message["Cc"] == f"bob@{domain}"
    assert sorted(got.rcpt_tos) == [f"alice@{domain}", f"bob@{domain}"]

    def reply_sent():
        items = api.get(url).json()["items"]
        return [m for m in items if m["kind"] == "reply" and m["delivery_status"] == "sent"]

    eventually(reply_sent, 20, "the reply's message shows its mail sent")
    # the note was never on the wire: not as a mail, not inside one
    assert len(smtp.tried) == 1
    assert all(b"payment plan" not in t.raw for t in smtp.tried)
