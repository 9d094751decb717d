"""The satisfaction-survey mail of a resolved ticket (issue 11): `survey.requested` (from the customers
service, with the survey link's URL) becomes one outbound mail, sent by the outbound sender
(`mailsync.outbound`: claimed under a lock, the same Message-ID on every attempt, retried with
backoff, `mail.sent` / `mail.send_failed`).

Decisions:
- Once per survey: the row's id is the survey link's id (one link per ticket's survey), so a
  redelivered event (dropped by the inbox) or the same survey told again under another event id
  (conflicts on the key) sends nothing more. The Message-ID is derived from the link id too.
- From: the mailbox the ticket's thread went out on (our last reply on it), else the tenant's oldest
  enabled mailbox (`outbound._mailbox`). A tenant with no mailbox gets a `failed` row ("no mailbox to
  send from") and a log line: nothing to retry, nothing dead-lettered, no `mail.send_failed` (no
  ticket message waits for it).
- To: the address the event carries (`contact_email`), else the contact's, asked of the customers
  service (events told before the field existed). No address: nothing queued, logged.
- Threaded to the ticket when mailsync knows its thread: In-Reply-To our last reply on it,
  References that reply's references plus the reply. A ticket never answered by mail is not threaded
  (its token in the subject still lets a reply to the survey land on it).
- Headers: `Auto-Submitted: auto-generated` (RFC 3834: no responder answers it) and
  `X-Auto-Response-Suppress: All` (Exchange's out-of-office and read receipts). It is an automatic
  mail, so the loop guard applies (never to a daemon, a no-reply or our own address).
"""
from __future__ import annotations

import html
import logging
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops.entrypoints import PoisonMessage, consumes
from mailsync import outbound
from mailsync.outbound_models import outbound_mails

log = logging.getLogger(__name__)


# --- pure rules ---

def survey_subject(ticket_number: int | None) -> str:
    """The token last, so the question is what a list of mails shows; a reply to it still threads."""
    return f"How did we do? [#T-{ticket_number}]" if ticket_number is not None else "How did we do?"


def survey_bodies(url: str, ticket_number: int | None, expires_at: datetime) -> tuple[str, str]:
    """(plain text, HTML) of the survey mail; both carry the link."""
    about = f"your request #T-{ticket_number}" if ticket_number is not None else "your request"
    until = expires_at.astimezone(timezone.utc).strftime("%d %B %Y")
    plain = (f"Hello,\n\nWe resolved {about}. How did we do? Your answer takes a minute:\n\n{url}\n\n"
             f"The link works until {until}.\n\nThank you.\n")
    link = html.escape(url, quote=True)
    rich = (f"<!DOCTYPE html><html><body><p>Hello,</p><p>We resolved {html.escape(about)}. How did we do? "
            f"Your answer takes a minute:</p><p><a href=\"{link}\">{link}</a></p>"
            f"<p>The link works until {html.escape(until)}.</p><p>Thank you.</p></body></html>")
    return plain, rich


def message_id_for(link_id, mailbox_email: str | None) -> str:
    """The survey mail's Message-ID (without brackets): the same on every attempt."""
    domain = mailbox_email.rsplit("@", 1)[-1] if mailbox_email and "@" in mailbox_email else "custops.invalid"
    return f"survey-{link_id}@{domain}"


def thread_after(last_reply: dict | None) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) of a mail following `last_reply` on the thread (None: not threaded)."""
    if last_reply is None:
        return None, []
    return last_reply["internet_message_id"], [*last_reply["mail_references"], last_reply["internet_message_id"]]


# --- the consumer ---

class SurveyMail:
    """`survey.requested` queued for sending. Needs `self.db` and `self.rpc_client` (OutboundMail's)."""

    @consumes("customers", "survey.requested")
    def on_survey_requested(self, session, envelope, data):
        if envelope.tenant_id is None:
            raise PoisonMessage(f"survey.requested {envelope.id} has no tenant")
        queue_survey(session, envelope, data, contact_email=lambda: outbound.contact_email(
            self.rpc_client, envelope.tenant_id, data.customer_id, data.contact_id))


def queue_survey(session: Session, envelope, data, contact_email=lambda: None) -> str:
    """Queue the survey's mail (once per survey); returns queued, duplicate, no_recipients, suppressed
    or failed (no mailbox to send from)."""
    tenant_id = envelope.tenant_id
    o = outbound_mails.c
    last_reply = session.execute(
        select(o.mailbox_id, o.internet_message_id, o.mail_references)
        .where(o.tenant_id == tenant_id, o.ticket_id == data.ticket_id, o.kind == "reply",
               o.status.in_(("sent", "sending", "queued")))
        .order_by(o.created_at.desc()).limit(1)).mappings().first()
    mailbox = outbound._mailbox(session, tenant_id, last_reply["mailbox_id"] if last_reply else None)
    now = datetime.now(timezone.utc)
    recipient = None
    if mailbox is not None:
        recipient = (getattr(data, "contact_email", None) or contact_email() or "").strip().lower() or None
        if recipient is None:
            log.info("survey %s: the requester has no mail address; nothing to send", data.link_id)
            return "no_recipients"
    in_reply_to, references = thread_after(last_reply)
    plain, rich = survey_bodies(data.url, data.ticket_number, data.expires_at)
    row = {"id": data.link_id, "tenant_id": tenant_id, "event_id": envelope.id, "ticket_id": data.ticket_id,
           "mailbox_id": mailbox["id"] if mailbox else None, "kind": "survey",
           "internet_message_id": message_id_for(data.link_id, mailbox["email"] if mailbox else None),
           "from_address": mailbox["email"] if mailbox else None, "to_addresses": [recipient] if recipient else [],
           "subject": survey_subject(data.ticket_number), "body": plain, "html_body": rich,
           "in_reply_to": in_reply_to, "mail_references": references, "automatic": True,
           "status": "queued", "next_attempt_at": now, "created_at": now}
    outcome = "queued"
    if mailbox is None:
        log.warning("survey %s of ticket %s: the tenant has no mailbox to send from; not sent",
                    data.link_id, data.ticket_id)
        row.update(status="failed", last_error="no mailbox to send from", failed_at=now)
        outcome = "failed"
    else:
        decision = outbound._loop_guard(session, tenant_id, recipient, mailbox["email"], now)
        if not decision.allowed:
            row.update(status="suppressed", last_error=f"loop guard: {decision.reason}")
            outcome = "suppressed"
    inserted = session.execute(insert(outbound_mails).values(**row).on_conflict_do_nothing()
                               .returning(outbound_mails.c.id)).first()
    if inserted is None:
        return "duplicate"
    if outcome == "queued":
        session.execute(text(f"NOTIFY {outbound.CHANNEL}"))  # transactional: the sender wakes once this commits
    return outcome
