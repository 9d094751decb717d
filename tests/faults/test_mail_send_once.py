"""A reply's mail goes out once even when mailsync is killed -9 between the SMTP server's accept and
marking it sent (issue 8).

mailsync runs as its own OS process (the suite of tests/harness.py); the SMTP server is aiosmtpd in this
process, and it kills mailsync the moment a message has arrived, before its `250` leaves: the
server has the mail, mailsync never heard so. After the restart the row (still `sending`, its
sender's advisory lock gone with its connection) is sent again with the SAME Message-ID — SMTP
cannot tell whether the first arrived — so at most one distinct Message-ID ever reaches the
server; `mail.sent` is told once; a redelivered `ticket.replied` sends nothing more.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from custops import outbox
from custops.contracts.tickets import TicketReplied
from custops.events import envelope_for
from harness import eventually
from smtp_sink import SmtpSink


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def _publish(suite, envelope) -> None:
    publisher = outbox.Publisher(suite.amqp_uri)
    try:
        assert publisher.publish_batch([envelope.model_dump(mode="json")]) == set()
    finally:
        publisher.close()


def _handled(suite, event_id) -> bool:
    return bool(suite.query("mailsync", "SELECT 1 FROM inbox WHERE event_id = :e", e=event_id))


def test_a_reply_is_sent_once_across_a_kill_between_smtp_accept_and_marking_sent(suite, smtp):
    tenant_id = uuid.uuid4()
    mailbox = suite.rpc().call("mailsync", "create_mailbox", str(tenant_id), {
        "name": "Support", "email": "support@help.example", "imap_host": "127.0.0.1", "imap_port": 1,
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False, "username": "support",
        "password": "secret", "enabled": False})
    message_id = uuid.uuid4()
    reply = TicketReplied(
        ticket_id=uuid.uuid4(), number=9, customer_id=uuid.uuid4(), message_id=message_id, author_member_id=None,
        subject="Printer on fire", body="A technician is on the way.", replied_at=datetime.now(timezone.utc),
        internet_message_id=f"{message_id}@help.example", in_reply_to="m1@acme.example",
        references=["m1@acme.example"], to=["alice@acme.example"], mailbox_id=mailbox["id"],
        from_address="support@help.example", mail_subject="Re: [#T-9] Printer on fire")
    envelope = envelope_for(reply, tenant_id)

    def kill_mailsync_on_first_arrival(got):
        if len(smtp.tried) == 1:
            suite.kill9("mailsync")

    smtp.on_data = kill_mailsync_on_first_arrival
    _publish(suite, envelope)
    eventually(lambda: not suite.procs["mailsync"].alive(), 20, "mailsync killed at the SMTP accept")
    [[status, attempts]] = suite.query("mailsync", "SELECT status, attempts FROM outbound_mails WHERE id = :i",
                                       i=message_id)
    assert (status, attempts) == ("sending", 1)  # the server has it; mailsync never marked it

    suite.start("mailsync")
    eventually(lambda: suite.query("mailsync", "SELECT 1 FROM outbound_mails WHERE id = :i AND status = 'sent'",
                                   i=message_id), 20, "the reply marked sent after the restart")
    ids = {r.message["Message-ID"] for r in smtp.received}
    assert ids == {f"<{reply.internet_message_id}>"}  # one distinct Message-ID reached the server
    assert 1 <= len(smtp.received) <= 2
    told = suite.query("mailsync", "SELECT count(*) FROM outbox WHERE type = 'mail.sent' "
                                   "AND envelope->'data'->>'message_id' = :m", m=str(message_id))
    assert told == [(1,)]

    # redelivered, and told again under a new event id: nothing more is sent
    again = envelope_for(reply, tenant_id)
    _publish(suite, envelope)
    _publish(suite, again)
    eventually(lambda: _handled(suite, again.id), 20, "the second telling consumed")
    [[attempts]] = suite.query("mailsync", "SELECT attempts FROM outbound_mails WHERE id = :i", i=message_id)
    assert attempts == 2 and len(smtp.tried) == 2
