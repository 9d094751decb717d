"""Outbound mail against a real SMTP server (aiosmtpd on loopback, in this process), the real
RabbitMQ and PostgreSQL (issue 8): a public reply arrives threaded, a redelivered `ticket.replied`
sends once, SMTP failures retry with backoff and end visible, a bounce marks the reply, an internal
note never reaches the wire."""
import uuid
from datetime import datetime, timezone

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from custops import db
from custops.contracts.customers import SurveyRequested
from custops.contracts.mailsync import MailAddress, MailReceived
from custops.contracts.tickets import TicketReplied
from custops.events import envelope_for
from custops.testing import publish_and_wait
from harness import eventually
from mailsync import outbound
from mailsync.models import metadata
from mailsync.outbound_models import outbound_mails
from mailsync.service import MailsyncService
from smtp_sink import SmtpSink

SECRET_KEY = Fernet.generate_key()


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mailsync(container_factory, nameko_config, monkeypatch):
    monkeypatch.setenv("CUSTOPS_SECRET_KEY", SECRET_KEY.decode())
    monkeypatch.setattr(outbound, "BACKOFF_BASE_SECONDS", 0.05)
    monkeypatch.setattr(outbound, "MAX_ATTEMPTS", 3)
    container = container_factory(MailsyncService, nameko_config)
    container.start()
    return container


@pytest.fixture
def mailbox(mailsync, rpc, tenant_id, smtp):
    return rpc.call("mailsync", "create_mailbox", str(tenant_id), {
        "name": "Acme Support", "email": f"support-{uuid.uuid4().hex[:8]}@help.example", "imap_host": "127.0.0.1",
        "imap_port": 1, "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False,
        "username": "support", "password": "secret", "enabled": False})  # no IMAP intake in these tests


def replied(mailbox, number=42, **kw) -> TicketReplied:
    message_id = uuid.uuid4()
    return TicketReplied(**{
        "ticket_id": uuid.uuid4(), "number": number, "customer_id": uuid.uuid4(), "message_id": message_id,
        "author_member_id": None, "subject": "Printer on fire", "body": "We sent a technician.",
        "replied_at": datetime.now(timezone.utc), "internet_message_id": f"{message_id}@help.example",
        "in_reply_to": "m2@acme.example", "references": ["m1@acme.example", "m2@acme.example"],
        "to": ["alice@acme.example"], "cc": ["bob@acme.example"], "mailbox_id": mailbox["id"],
        "from_address": mailbox["email"], "mail_subject": f"Re: [#T-{number}] Printer on fire", **kw})


def _row(message_id) -> dict:
    with db.engine_for("mailsync").connect() as conn:
        return dict(conn.execute(select(outbound_mails).where(outbound_mails.c.id == message_id)).mappings().one())


def _told(event_type, message_id) -> list[dict]:
    outbox = metadata.tables["outbox"]
    with db.engine_for("mailsync").connect() as conn:
        rows = conn.execute(select(outbox.c.envelope).where(outbox.c.type == event_type)).scalars().all()
    return [e["data"] for e in rows if e["data"]["message_id"] == str(message_id)]


def test_a_reply_arrives_threaded_and_a_redelivered_event_sends_it_once(mailsync, mailbox, smtp, tenant_id):
    reply = replied(mailbox)
    envelope = envelope_for(reply, tenant_id)
    publish_and_wait(mailsync, "on_ticket_replied", envelope)

    [got] = smtp.wait_for(1)
    message = got.message
    assert message["Message-ID"] == f"<{reply.internet_message_id}>"
    assert message["In-Reply-To"] == "<m2@acme.example>"
    assert message["References"] == "<m1@acme.example> <m2@acme.example>"
    assert message["Subject"] == "Re: [#T-42] Printer on fire"
    assert message["To"] == "alice@acme.example" and message["Cc"] == "bob@acme.example"
    assert message["From"] == f"Acme Support <{mailbox['email']}>" and got.mail_from == mailbox["email"]
    assert sorted(got.rcpt_tos) == ["alice@acme.example", "bob@acme.example"]
    assert message["Auto-Submitted"] is None
    assert message.get_content().strip() == "We sent a technician."
    eventually(lambda: _row(reply.message_id)["status"] == "sent", 10, "the row marked sent")
    assert len(_told("mail.sent", reply.message_id)) == 1

    publish_and_wait(mailsync, "on_ticket_replied", envelope)  # the same event again
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(reply, tenant_id))  # the reply told again
    assert _row(reply.message_id)["attempts"] == 1 and len(smtp.tried) == 1
    assert len(_told("mail.sent", reply.message_id)) == 1


def test_an_automatic_mail_says_so_and_the_token_is_added_when_missing(mailsync, mailbox, smtp, tenant_id):
    reply = replied(mailbox, number=7, automatic=True, mail_subject="We got your request")
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(reply, tenant_id))
    [got] = smtp.wait_for(1)
    assert got.message["Auto-Submitted"] == "auto-replied"
    assert got.message["Subject"] == "[#T-7] We got your request"


def test_a_temporary_failure_is_retried_with_backoff_then_sent(mailsync, mailbox, smtp, tenant_id):
    smtp.answer = lambda got: "451 4.3.0 try again later" if len(smtp.tried) < 3 else "250 OK"
    reply = replied(mailbox)
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(reply, tenant_id))
    smtp.wait_for(1)
    assert {t.message["Message-ID"] for t in smtp.tried} == {f"<{reply.internet_message_id}>"}
    eventually(lambda: _row(reply.message_id)["status"] == "sent", 10, "sent on the third try")
    assert _row(reply.message_id)["attempts"] == 3


def test_failures_end_visible_as_mail_send_failed(mailsync, mailbox, smtp, tenant_id):
    smtp.answer = lambda got: "451 4.3.0 mailbox busy"
    temporary = replied(mailbox)
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(temporary, tenant_id))
    row = eventually(lambda: (r := _row(temporary.message_id))["status"] == "failed" and r, 10, "failed")
    assert row["attempts"] == outbound.MAX_ATTEMPTS and "451" in row["last_error"]
    [failed] = _told("mail.send_failed", temporary.message_id)
    assert failed["permanent"] is False and "mailbox busy" in failed["error"]

    smtp.answer = lambda got: "550 5.1.1 no such user"
    permanent = replied(mailbox)
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(permanent, tenant_id))
    row = eventually(lambda: (r := _row(permanent.message_id))["status"] == "failed" and r, 10, "failed")
    assert row["attempts"] == 1
    assert _told("mail.send_failed", permanent.message_id)[0]["permanent"] is True


def test_a_bounce_of_our_reply_marks_it_and_tells_mail_bounced(mailsync, mailbox, smtp, tenant_id):
    reply = replied(mailbox)
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(reply, tenant_id))
    eventually(lambda: _row(reply.message_id)["status"] == "sent", 10, "sent")
    bounce = MailReceived(
        mail_id=uuid.uuid4(), mailbox_id=uuid.UUID(mailbox["id"]), internet_message_id="dsn1@mx.acme.example",
        sender=MailAddress(email="mailer-daemon@mx.acme.example"), subject="Undelivered Mail Returned to Sender",
        received_at=datetime.now(timezone.utc), text="550 5.1.1 alice: no such user", automatic="bounce",
        bounced_message_id=f"<{reply.internet_message_id}>", customer_id=reply.customer_id, raw_sha256="0" * 64)
    envelope = envelope_for(bounce, tenant_id)
    publish_and_wait(mailsync, "on_mail_received_bounce", envelope)
    publish_and_wait(mailsync, "on_mail_received_bounce", envelope_for(bounce, tenant_id))  # told twice
    assert _row(reply.message_id)["status"] == "bounced"
    [told] = _told("mail.bounced", reply.message_id)
    assert told["bounce_mail_id"] == str(bounce.mail_id) and "no such user" in told["reason"]


def test_a_reply_without_recipients_or_mailbox_sends_nothing(mailsync, mailbox, smtp, tenant_id):
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(replied(mailbox, to=[]), tenant_id))
    elsewhere = replied(mailbox, mailbox_id=None)
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(elsewhere, uuid.uuid4()))  # a tenant with none
    assert _row(elsewhere.message_id)["status"] == "failed"
    assert _told("mail.send_failed", elsewhere.message_id)[0]["error"] == "no mailbox to send from"
    assert smtp.tried == []


def test_pure_rules():
    assert [outbound.backoff_seconds(n, base=30) for n in (1, 2, 3)] == [30, 60, 120]
    assert outbound.backoff_seconds(30, base=30) == outbound.BACKOFF_MAX_SECONDS
    assert outbound.subject_with_token("Re: [#T-5] x", 5) == "Re: [#T-5] x"
    assert outbound.subject_with_token("x", 5) == "[#T-5] x"
    import smtplib
    assert outbound.failure_of(smtplib.SMTPDataError(552, b"too big")).permanent is True
    assert outbound.failure_of(smtplib.SMTPDataError(421, b"later")).permanent is False
    assert outbound.failure_of(ConnectionRefusedError()).permanent is False
    assert outbound.failure_of(smtplib.SMTPAuthenticationError(535, b"bad")).error == "authentication refused (535)"


def test_a_reply_on_a_ticket_without_mail_goes_to_its_contact_from_the_default_mailbox(
        mailsync, customers_service, new_tenant, rpc, smtp):
    tenant_id = new_tenant()["tenant_id"]
    customer = rpc.call("customers", "create_customer", tenant_id, {
        "name": "Acme", "tier": "smb", "domains": [f"{uuid.uuid4().hex[:10]}.example"]})
    contact = rpc.call("customers", "create_contact", tenant_id, customer["id"],
                       {"name": "Carol", "email": "Carol@acme.example"})
    box = rpc.call("mailsync", "create_mailbox", tenant_id, {
        "name": "Support", "email": "help@help.example", "imap_host": "127.0.0.1", "imap_port": 1,
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False, "username": "support",
        "password": "secret"})  # enabled: the tenant's default mailbox
    reply = replied(box, to=[], cc=[], mailbox_id=None, from_address=None, in_reply_to=None, references=[],
                    customer_id=uuid.UUID(customer["id"]), contact_id=uuid.UUID(contact["id"]))
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(reply, uuid.UUID(tenant_id)))
    [got] = smtp.wait_for(1)
    assert got.rcpt_tos == ["carol@acme.example"] and got.mail_from == "help@help.example"
    assert got.message["In-Reply-To"] is None and got.message["Subject"] == "Re: [#T-42] Printer on fire"


# --- the satisfaction survey of a resolved ticket (issue 11, `mailsync.survey_mail`) ---

def survey(ticket_id, number=42, **kw) -> SurveyRequested:
    link_id = uuid.uuid4()
    return SurveyRequested(**{
        "link_id": link_id, "form_id": uuid.uuid4(), "ticket_id": ticket_id, "ticket_number": number,
        "customer_id": uuid.uuid4(), "contact_id": uuid.uuid4(),
        "url": f"http://127.0.0.1:8080/api/v1/forms/by-link/tok{link_id.hex}",
        "expires_at": datetime(2027, 1, 15, tzinfo=timezone.utc), "contact_email": "Alice@acme.example", **kw})


def test_a_survey_mail_arrives_once_threaded_with_its_link_and_automatic_headers(mailsync, mailbox, smtp, tenant_id):
    reply = replied(mailbox)
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(reply, tenant_id))
    eventually(lambda: _row(reply.message_id)["status"] == "sent", 10, "the reply sent")

    asked = survey(reply.ticket_id)
    envelope = envelope_for(asked, tenant_id)
    publish_and_wait(mailsync, "on_survey_requested", envelope)
    [_, got] = smtp.wait_for(2)
    message = got.message
    assert got.rcpt_tos == ["alice@acme.example"] and got.mail_from == mailbox["email"]
    assert message["Subject"] == "How did we do? [#T-42]"
    assert message["Auto-Submitted"] == "auto-generated" and message["X-Auto-Response-Suppress"] == "All"
    assert message["In-Reply-To"] == f"<{reply.internet_message_id}>"
    assert message["References"] == f"<m1@acme.example> <m2@acme.example> <{reply.internet_message_id}>"
    assert message["Message-ID"] == f"<survey-{asked.link_id}@help.example>"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert asked.url in plain.get_content() and f'href="{asked.url}"' in rich.get_content()
    eventually(lambda: _row(asked.link_id)["status"] == "sent", 10, "the survey marked sent")
    assert len(_told("mail.sent", asked.link_id)) == 1

    publish_and_wait(mailsync, "on_survey_requested", envelope)  # redelivered
    publish_and_wait(mailsync, "on_survey_requested", envelope_for(asked, tenant_id))  # told again
    assert len(smtp.tried) == 2 and _row(asked.link_id)["attempts"] == 1
    assert len(_told("mail.sent", asked.link_id)) == 1


def test_a_survey_for_a_tenant_without_a_mailbox_is_recorded_unsent(mailsync, smtp):
    asked = survey(uuid.uuid4(), contact_email=None)  # the contact is not asked: nothing could send it
    publish_and_wait(mailsync, "on_survey_requested", envelope_for(asked, uuid.uuid4()))
    row = _row(asked.link_id)
    assert row["status"] == "failed" and row["last_error"] == "no mailbox to send from" and row["kind"] == "survey"
    assert smtp.tried == [] and _told("mail.send_failed", asked.link_id) == []


def test_a_survey_on_a_ticket_never_mailed_goes_from_the_default_mailbox_unthreaded(mailsync, rpc, smtp):
    tenant = uuid.uuid4()
    rpc.call("mailsync", "create_mailbox", str(tenant), {
        "name": "Help", "email": "help@survey.example", "imap_host": "127.0.0.1", "imap_port": 1,
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False, "username": "help",
        "password": "secret"})  # enabled: the tenant's default mailbox
    asked = survey(uuid.uuid4(), number=None)
    publish_and_wait(mailsync, "on_survey_requested", envelope_for(asked, tenant))
    [got] = smtp.wait_for(1)
    assert got.mail_from == "help@survey.example" and got.rcpt_tos == ["alice@acme.example"]
    assert got.message["In-Reply-To"] is None and got.message["References"] is None
    assert got.message["Subject"] == "How did we do?"


def test_a_bounce_from_a_daemon_nobody_knows_marks_our_reply_when_it_is_stored(mailsync, mailbox, smtp, tenant_id):
    """A DSN from a mailer-daemon that matches no customer waits in the unassigned queue, where no
    `mail.received` tells of it: the bounce is recorded as it is stored, and told once."""
    from mailsync import imap_sync, intake, intake_store
    from mailsync.blob_store import PostgresBlobStore

    reply = replied(mailbox)
    publish_and_wait(mailsync, "on_ticket_replied", envelope_for(reply, tenant_id))
    eventually(lambda: _row(reply.message_id)["status"] == "sent", 10, "sent")
    dsn = (b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\r\n"
           b"To: " + mailbox["email"].encode() + b"\r\nSubject: Delivery Status Notification (Failure)\r\n"
           b"Message-ID: <dsn-" + uuid.uuid4().hex.encode() + b"@mx.googlemail.example>\r\n"
           b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/report; report-type=delivery-status; boundary=b1\r\n\r\n"
           b"--b1\r\nContent-Type: text/plain\r\n\r\nThe address alice@acme.example was not found.\r\n"
           b"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.googlemail.example\r\n\r\n"
           b"Final-Recipient: rfc822; alice@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
           b"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
           b"Message-ID: <" + reply.internet_message_id.encode() + b">\r\nSubject: [#T-42] Printer on fire\r\n"
           b"--b1--\r\n")
    mailbox_id = uuid.UUID(mailbox["id"])
    ours = intake.OurAddresses.of(mailbox_id, [{"id": mailbox_id, "email": mailbox["email"], "username": None,
                                                 "addresses": []}])
    incoming = imap_sync.prepare(dsn, 7, datetime.now(timezone.utc), ours=ours, size_limit=10_000_000,
                                 matcher=lambda email: None)  # nobody's contact
    assert incoming.status == intake.UNASSIGNED and incoming.received["automatic"] == "bounce"
    for _ in range(2):  # the same DSN fetched twice: stored once, told once
        with db.transaction(db.engine_for("mailsync"), "mailsync") as session:
            assert intake_store.acquire_lease(session, mailbox_id, "test", 30)
            intake_store.store_batch(session, PostgresBlobStore(), tenant_id=tenant_id, mailbox_id=mailbox_id,
                                     holder="test", folder="INBOX", uidvalidity=1, messages=[incoming], last_uid=7)
    assert _row(reply.message_id)["status"] == "bounced"
    [told] = _told("mail.bounced", reply.message_id)
    assert "not found" in told["reason"] or "Delivery Status" in told["reason"]
