"""Outbound mail: every public reply (`ticket.replied`) leaves by SMTP, threaded, exactly once as far
as SMTP allows (issue 8). A mixin `MailsyncService` inherits, plus the sender loop it runs.

How a reply is sent once:
- The consumer of `ticket.replied` only queues: one `outbound_mails` row keyed by the reply's
  ticket message id (the send's idempotency key), in the inbox transaction. A redelivered event is
  dropped by the inbox; the same reply told again under another event id conflicts on the key and
  changes nothing. Internal notes are never queued: mailsync consumes no note event, and
  `ticket.note_added` carries no body.
- The sender loop (`OutboundSender`, every instance runs one) claims a due row before each SMTP
  transaction: under a session-level advisory lock of the row, held on the loop's own connection
  for the whole send, it commits `sending` (attempt counted), talks SMTP, then commits `sent` and
  `mail.sent` in one transaction, and only then lets the lock go. A live sender's row is never
  taken by another (its lock is held); a crashed sender's connection closes, its lock with it, and
  its `sending` row is claimed again at once.
- Between the server's `250` for DATA and the `sent` commit a crash cannot be told apart from a
  crash before it (SMTP has no way to ask whether a message arrived), so such a row is sent again —
  with the SAME Message-ID, Date and body: at most one distinct Message-ID per reply ever reaches
  the server, and receiving systems (Gmail, Exchange, any MUA threading by Message-ID) fold the
  repeat. That window is the only one; every other crash sends nothing twice.

Failures: a temporary one (connection refused or lost, timeout, 4xx, authentication — an admin may
fix the password) is retried with exponential backoff (`backoff_seconds`) up to `MAX_ATTEMPTS`; a
permanent one (5xx, every recipient refused, no mailbox to send from) ends at once. Either end is
`failed` with the server's answer, and `mail.send_failed` tells the tickets service, which shows it
on the message. A bounce of one of our replies (mail classified automatic `bounce` naming its
Message-ID) marks it `bounced` and tells `mail.bounced`, once: recorded when the bounce is stored
(`intake_store.store_batch`), whoever sent it — a bounce mostly comes from a mailer-daemon that
matches no customer, whose mail is told as `mail.received` only once someone assigns it — and
again, as a no-op, when a `mail.received` of it arrives.

Recipients: those `ticket.replied` names (the thread's customer and participants); a ticket with
no mail thread (opened by API or portal) is answered to its contact, asked of the customers service,
from the tenant's oldest enabled mailbox; with no mailbox or no contact no mail is sent.

Headers: `Message-ID` (ours, from the tickets service, deterministic per reply), `In-Reply-To`
and `References` of the ticket's thread, the ticket token in the subject (added when missing),
`Auto-Submitted: auto-replied` on an automatic mail — which the loop guard
(`mailsync.auto_replies.LoopGuard`) may refuse (`suppressed`): never to a daemon, a no-reply or our
own address, at most its cap per recipient per hour.

The satisfaction survey of a resolved ticket (`survey.requested`) is queued by `mailsync.survey_mail`
as a row of kind `survey` and leaves by the same sender (`Auto-Submitted: auto-generated`,
`X-Auto-Response-Suppress: All`, an HTML alternative).
"""
from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops import outbox
from custops.contracts.mailsync import MailBounced, MailSendFailed, MailSent
from custops.entrypoints import PoisonMessage, consumes
from custops.notified_loop import DeadlineLoop, ManagedLoop
from custops.rpc import ServiceRpc
from mailsync import auto_replies, mail_auth, secrets_box
from mailsync.models import mailboxes
from mailsync.oauth2 import OAuth2Error
from mailsync.outbound_models import outbound_mails

log = logging.getLogger(__name__)

CHANNEL = "custops_mail_outbound"
MAX_ATTEMPTS = int(os.environ.get("CUSTOPS_MAIL_MAX_ATTEMPTS", "6"))
BACKOFF_BASE_SECONDS = float(os.environ.get("CUSTOPS_MAIL_BACKOFF_SECONDS", "30"))
BACKOFF_MAX_SECONDS = 3600.0
SMTP_TIMEOUT = float(os.environ.get("CUSTOPS_SMTP_TIMEOUT", "30"))
_TOKEN = re.compile(r"\[\s*#?\s*T\s*-?\s*\d+\s*\]", re.IGNORECASE)


# --- pure rules ---

def backoff_seconds(attempts: int, base: float | None = None) -> float:
    """The wait after the `attempts`-th failed try: base, 2x, 4x, ... capped at an hour."""
    base = BACKOFF_BASE_SECONDS if base is None else base
    return min(base * (2 ** max(attempts - 1, 0)), BACKOFF_MAX_SECONDS)


@dataclass(frozen=True)
class SendFailure:
    permanent: bool
    error: str


def failure_of(exc: BaseException) -> SendFailure:
    """Whether an SMTP failure is worth retrying, and what to show (never a credential)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendFailure(False, f"authentication refused ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{r}: {c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                           for r, (c, m) in exc.recipients.items())
        return SendFailure(all(c >= 500 for c in codes), f"recipients refused: {detail}"[:1000])
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return SendFailure(exc.smtp_code >= 500, f"{exc.smtp_code} {message}"[:1000])
    if isinstance(exc, OAuth2Error):  # an admin may authorise the mailbox again: retried
        return SendFailure(False, f"oauth2: {exc}"[:1000])
    if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError)):
        return SendFailure(False, f"{type(exc).__name__}: {exc}"[:1000])
    return SendFailure(False, f"{type(exc).__name__}: {exc}"[:1000])


def subject_with_token(subject: str, number: int | None) -> str:
    if number is None or _TOKEN.search(subject or ""):
        return subject
    return f"[#T-{number}] {subject}"


def build_message(row: dict, from_name: str = "") -> EmailMessage:
    """The mail of an outbound row: the same bytes' worth of headers on every attempt."""
    msg = EmailMessage()
    msg["From"] = formataddr((from_name, row["from_address"])) if from_name else row["from_address"]
    msg["To"] = ", ".join(row["to_addresses"])
    if row["cc_addresses"]:
        msg["Cc"] = ", ".join(row["cc_addresses"])
    msg["Subject"] = row["subject"]
    msg["Date"] = format_datetime(row["created_at"].astimezone(timezone.utc))
    msg["Message-ID"] = f"<{row['internet_message_id']}>"
    if row["in_reply_to"]:
        msg["In-Reply-To"] = f"<{row['in_reply_to']}>"
    if row["mail_references"]:
        msg["References"] = " ".join(f"<{r}>" for r in row["mail_references"])
    if row.get("kind") == "survey":
        # RFC 3834: made by a machine, answering no mail; Exchange/Outlook send no out-of-office back
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
    elif row["automatic"]:
        msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: no responder answers it
    msg.set_content(row["body"])
    if row.get("html_body"):
        msg.add_alternative(row["html_body"], subtype="html")
    return msg


# --- the consumers ---

class OutboundMail:
    """`ticket.replied` queued for sending, bounces of our replies recorded. Needs `self.db`."""

    outbound_sender = ManagedLoop(lambda service: OutboundSender(service))
    rpc_client = ServiceRpc()  # customers: list_contacts (asking only)

    @consumes("tickets", "ticket.replied")
    def on_ticket_replied(self, session, envelope, data):
        if envelope.tenant_id is None:
            raise PoisonMessage(f"ticket.replied {envelope.id} has no tenant")
        queue_reply(session, envelope, data, contact_email=lambda: contact_email(
            self.rpc_client, envelope.tenant_id, data.customer_id, data.contact_id))

    @consumes("mailsync", "mail.received")
    def on_mail_received_bounce(self, session, envelope, data):
        if data.automatic == "bounce" and data.bounced_message_id and envelope.tenant_id is not None:
            record_bounce(session, envelope.tenant_id, data)


def contact_email(rpc_client, tenant_id, customer_id, contact_id) -> str | None:
    """The address of the ticket's contact, asked of the customers service (None: no such contact)."""
    if contact_id is None:
        return None
    contacts = rpc_client.call("customers", "list_contacts", str(tenant_id), str(customer_id),
                               {"include_archived": True})["items"]
    return next((c["email"].lower() for c in contacts if c["id"] == str(contact_id) and c.get("email")), None)


def queue_reply(session: Session, envelope, data, contact_email=lambda: None) -> str:
    """Queue the reply's mail (once per reply); returns what became of it: queued, duplicate,
    no_recipients, suppressed or failed (no mailbox to send from).

    A reply on a ticket with no mail thread (opened by API or portal) goes to the ticket's contact
    (`contact_email()`, asked only then) from the tenant's default mailbox; a tenant with no mailbox,
    or a ticket with no contact, sends no mail and records nothing."""
    tenant_id = envelope.tenant_id
    if not data.internet_message_id:
        return "no_recipients"
    mailbox = _mailbox(session, tenant_id, data.mailbox_id)
    recipients = [a for a in data.to if a]
    if not recipients and mailbox is not None:
        recipients = [a for a in (contact_email(),) if a]
    if not recipients:
        log.info("reply %s has no mail recipients: nothing to send", data.message_id)
        return "no_recipients"
    now = datetime.now(timezone.utc)
    row = {"id": data.message_id, "tenant_id": tenant_id, "event_id": envelope.id, "ticket_id": data.ticket_id,
           "mailbox_id": mailbox["id"] if mailbox else None, "internet_message_id": data.internet_message_id,
           "from_address": data.from_address or (mailbox["email"] if mailbox else None),
           "to_addresses": recipients, "cc_addresses": [a for a in data.cc if a and a not in recipients],
           "subject": subject_with_token(data.mail_subject or data.subject, data.number), "body": data.body,
           "in_reply_to": data.in_reply_to, "mail_references": list(data.references), "automatic": data.automatic,
           "status": "queued", "next_attempt_at": now, "created_at": now}
    outcome = "queued"
    if mailbox is None:
        row.update(status="failed", last_error="no mailbox to send from", failed_at=now)
        outcome = "failed"
    elif data.automatic:
        decision = _loop_guard(session, tenant_id, recipients[0], mailbox["email"], now)
        if not decision.allowed:
            row.update(status="suppressed", last_error=f"loop guard: {decision.reason}")
            outcome = "suppressed"
    inserted = session.execute(insert(outbound_mails).values(**row).on_conflict_do_nothing()
                               .returning(outbound_mails.c.id)).first()
    if inserted is None:
        return "duplicate"
    if outcome == "failed":
        outbox.add(session, tenant_id, MailSendFailed(
            ticket_id=data.ticket_id, message_id=data.message_id, internet_message_id=data.internet_message_id,
            error=row["last_error"], permanent=True, attempts=0, failed_at=now))
    elif outcome == "queued":
        session.execute(text(f"NOTIFY {CHANNEL}"))  # transactional: the sender wakes once this commits
    return outcome


def _mailbox(session: Session, tenant_id, mailbox_id):
    """The mailbox the thread came in on (paused or not: pausing stops its intake, not the replies
    on its threads); else, when it is gone or not named, the tenant's oldest enabled one."""
    m = mailboxes.c
    stmt = select(m.id, m.email).where(m.tenant_id == tenant_id)
    if mailbox_id is not None:
        found = session.execute(stmt.where(m.id == mailbox_id)).mappings().first()
        if found is not None:
            return found
    return session.execute(stmt.where(m.enabled.is_(True)).order_by(m.created_at, m.id).limit(1)).mappings().first()


def _loop_guard(session: Session, tenant_id, recipient: str, own_address: str, now: datetime):
    o = outbound_mails.c
    sent_last_hour = session.execute(select(func.count()).where(
        o.tenant_id == tenant_id, o.automatic.is_(True), o.created_at > now - timedelta(hours=1),
        o.status != "suppressed", o.to_addresses.any(recipient))).scalar_one()
    return auto_replies.LoopGuard().decide(recipient, sent_last_hour, own_addresses=[own_address])


def record_bounce(session: Session, tenant_id, data) -> bool:
    """A bounce naming one of our replies: the reply is `bounced`, `mail.bounced` told (once)."""
    bounced_id = data.bounced_message_id.strip().strip("<>")
    o = outbound_mails.c
    row = session.execute(update(outbound_mails).where(
        o.tenant_id == tenant_id, o.internet_message_id == bounced_id, o.status != "bounced")
        .values(status="bounced", last_error=f"bounced: {data.subject}"[:1000])
        .returning(o.id, o.ticket_id)).first()
    if row is None:
        return False
    outbox.add(session, tenant_id, MailBounced(
        ticket_id=row.ticket_id, message_id=row.id, internet_message_id=bounced_id, bounce_mail_id=data.mail_id,
        reason=(data.text or data.subject)[:500], bounced_at=data.received_at))
    return True


# --- the sender ---

def _lock_key(row_id) -> int:
    """The advisory-lock key of an outbound row (64-bit, from its id)."""
    return row_id.int & 0x7FFF_FFFF_FFFF_FFFF


class OutboundSender(DeadlineLoop):
    """Sends due outbound rows, one at a time, then sleeps until the next retry is due or a NOTIFY
    tells of a new row. Its own database connection carries the advisory locks of its sends."""

    channel = CHANNEL
    label = "mail sender"
    max_sleep = 10.0

    def __init__(self, service: str = "mailsync"):
        super().__init__(service)
        self.box = None
        self.connection = None

    def tick(self) -> float:
        if self.box is None:
            self.box = secrets_box.load()
        if self.connection is None or self.connection.closed or self.connection.invalidated:
            self.connection = self.engine.connect()
        while not self.stopping:
            claimed = self._claim()
            if claimed is None:
                break
            self._send(claimed)
        return self.sleep_for(self._until_next_due())

    def close(self) -> None:
        super().close()
        if self.connection is not None:
            try:
                self.connection.invalidate()  # its advisory locks go with it
                self.connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
        self.connection = None

    def _claim(self) -> dict | None:
        """The next due row, locked for this sender and marked `sending` (committed before SMTP)."""
        conn = self.connection
        o = outbound_mails.c
        with Session(bind=conn) as session, session.begin():
            candidates = session.execute(
                select(outbound_mails).where(o.status.in_(("queued", "sending")), o.next_attempt_at <= func.now())
                .order_by(o.next_attempt_at).limit(20).with_for_update(skip_locked=True)).mappings().all()
            for row in candidates:
                # taken by a live sender when its advisory lock is held; a crashed one's is free
                if not session.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(row["id"])}).scalar():
                    continue
                if row["status"] == "sending":
                    log.warning("mail %s: its sender died mid-send; sending again with the same Message-ID",
                                row["internet_message_id"])
                session.execute(update(outbound_mails).where(o.id == row["id"]).values(
                    status="sending", attempts=o.attempts + 1, claimed_at=func.now()))
                mailbox = session.execute(select(mailboxes).where(
                    mailboxes.c.tenant_id == row["tenant_id"], mailboxes.c.id == row["mailbox_id"])).mappings().first()
                return {"row": {**row, "attempts": row["attempts"] + 1}, "mailbox": mailbox}
        return None

    def _send(self, claimed: dict) -> None:
        row, mailbox = claimed["row"], claimed["mailbox"]
        try:
            if mailbox is None:
                raise _NoMailbox()
            message = build_message(row, mailbox["name"])
            recipients = [*row["to_addresses"], *row["cc_addresses"]]
            credentials = mail_auth.credentials_for(
                mailbox, self.box, mail_auth.store_rotated_refresh_token(self.engine, self.box, dict(mailbox)))
            deliver(mailbox, credentials, row["from_address"], recipients, message)
        except _NoMailbox:
            self._finish_failed(row, SendFailure(True, "the mailbox to send from was removed"))
        except Exception as exc:  # noqa: BLE001 - every failure ends on the row, retried or failed
            failure = failure_of(exc)
            log.warning("mail %s: attempt %d failed: %s", row["internet_message_id"], row["attempts"], failure.error)
            if failure.permanent or row["attempts"] >= MAX_ATTEMPTS:
                self._finish_failed(row, failure)
            else:
                self._retry_later(row, failure)
        else:
            self._finish_sent(row, recipients)

    def _finish_sent(self, row: dict, recipients: list[str]) -> None:
        now = datetime.now(timezone.utc)
        with self._finishing(row) as session:
            session.execute(update(outbound_mails).where(outbound_mails.c.id == row["id"]).values(
                status="sent", sent_at=now, last_error=None))
            outbox.add(session, row["tenant_id"], MailSent(
                ticket_id=row["ticket_id"], message_id=row["id"], internet_message_id=row["internet_message_id"],
                mailbox_id=row["mailbox_id"], recipients=recipients, attempts=row["attempts"], sent_at=now))

    def _finish_failed(self, row: dict, failure: SendFailure) -> None:
        now = datetime.now(timezone.utc)
        with self._finishing(row) as session:
            session.execute(update(outbound_mails).where(outbound_mails.c.id == row["id"]).values(
                status="failed", failed_at=now, last_error=failure.error))
            outbox.add(session, row["tenant_id"], MailSendFailed(
                ticket_id=row["ticket_id"], message_id=row["id"], internet_message_id=row["internet_message_id"],
                mailbox_id=row["mailbox_id"], error=failure.error, permanent=failure.permanent,
                attempts=row["attempts"], failed_at=now))

    def _retry_later(self, row: dict, failure: SendFailure) -> None:
        with self._finishing(row) as session:
            session.execute(update(outbound_mails).where(outbound_mails.c.id == row["id"]).values(
                status="queued", last_error=failure.error,
                next_attempt_at=func.now() + timedelta(seconds=backoff_seconds(row["attempts"]))))

    def _finishing(self, row: dict):
        sender = self

        class _Finish:
            def __enter__(self):
                self.session = Session(bind=sender.connection)
                self.tx = self.session.begin()
                return self.session

            def __exit__(self, exc_type, exc, tb):
                try:
                    if exc_type is None:
                        self.tx.commit()
                    else:
                        self.tx.rollback()
                finally:
                    self.session.close()
                    # released only after the outcome committed (or on failure: the row stays
                    # `sending` and is claimed again, as after a crash)
                    sender.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(row["id"])})
                    sender.connection.commit()
                return False

        return _Finish()

    def _until_next_due(self) -> float | None:
        o = outbound_mails.c
        with Session(bind=self.connection) as session, session.begin():
            due = session.execute(select(func.extract("epoch", func.min(o.next_attempt_at) - func.now()))
                                  .where(o.status == "queued")).scalar()
        return None if due is None else max(0.0, float(due))


class _NoMailbox(Exception):
    pass


def deliver(mailbox, password, from_address: str, recipients: list[str], message: EmailMessage) -> None:
    """One SMTP transaction: implicit TLS on port 465, else STARTTLS when the mailbox says so; AUTH
    when the server offers it, with the password or OAuth2 (XOAUTH2; `password` is a str or a
    `mail_auth.Credentials`). Raises on any failure (`failure_of` classifies it)."""
    host, port = mailbox["smtp_host"], mailbox["smtp_port"]
    context = mail_auth.tls_context(mailbox)
    if port == 465:
        client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    with client:
        client.ehlo()
        if port != 465 and mailbox["smtp_starttls"]:
            client.starttls(context=context)  # raises SMTPNotSupportedError when the server cannot
            client.ehlo()
        if client.has_extn("auth") and mailbox["username"]:
            if not isinstance(password, mail_auth.Credentials):
                password = mail_auth.Credentials(mailbox["id"], mailbox["username"], password=password)
            password.smtp_login(client)
        client.send_message(message, from_addr=from_address, to_addrs=recipients)
