"""Incoming mail onto tickets, and what became of our replies' mail (a mixin `TicketsService`
inherits): consumers of mailsync's `mail.received`, `mail.sent`, `mail.send_failed`, `mail.bounced`.

`mail.received`: the evidence the mail names (the messages its Message-IDs name, the tickets its
subject token or plus-address names, a stored copy of this very mail, the customer's copied tier) is
looked up in ONE statement; `tickets.mail_threading.decide` says what to do and why; this module
does it: a new ticket (source `email`), the message on an open ticket, a resolved ticket reopened, a
new ticket following a closed one, or automatic mail attached as such (no status change, no SLA, no
event: it is not the customer's response). Each stored message keeps its Message-ID, references,
mailsync's mail id, its automatic kind and why it was threaded (`thread_reason`, `thread_note`);
the ticket keeps the mail thread its replies continue (`tickets.mail_thread`).

Idempotent twice over: the inbox drops a redelivered event, and a mail already on a ticket (same
mail id, or the same Message-ID arriving in a second mailbox) is a duplicate (`decide`), backed by a
unique index on (tenant, mail id).

Delivery of replies: `mail.sent` stamps the reply `sent` (`sent_at`), `mail.send_failed` `failed`
with the error, `mail.bounced` `bounced` — visible on the message. A reply that left by mail meets
the ticket's response timer at `mail.sent`'s sent time (the rule is `tickets.sla`'s docstring).
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import and_, literal, null, select, true, union_all, update
from sqlalchemy.orm import Session

from custops.entrypoints import PoisonMessage, consumes
from custops.shapes import utc_now
from tickets import (customer_copies, customer_directory, helpdesk_store, mail_threading, sla_tracking, ticket_store,
                     workflow)
from tickets.mail_threading import Decision, Evidence, KnownMessage, Mail, Thread, Ticket
from tickets.models import ticket_messages, tickets

log = logging.getLogger(__name__)

_TICKET_COLUMNS = (tickets.c.id, tickets.c.number, tickets.c.status, tickets.c.customer_id, tickets.c.contact_id,
                   tickets.c.mail_thread)


class MailIntake:
    """Consumers of mailsync's mail events. Needs `self.db` and `self.rpc_client`."""

    @consumes("mailsync", "mail.received")
    def on_mail_received(self, session, envelope, data):
        if envelope.tenant_id is None:
            raise PoisonMessage(f"mail.received {envelope.id} has no tenant")
        receive(session, self.rpc_client, envelope.tenant_id, data)

    @consumes("mailsync", "mail.sent")
    def on_mail_sent(self, session, envelope, data):
        _delivery(session, envelope, data.message_id, "sent", None, sent_at=data.sent_at)

    @consumes("mailsync", "mail.send_failed")
    def on_mail_send_failed(self, session, envelope, data):
        _delivery(session, envelope, data.message_id, "failed", data.error)

    @consumes("mailsync", "mail.bounced")
    def on_mail_bounced(self, session, envelope, data):
        _delivery(session, envelope, data.message_id, "bounced", data.reason or "bounced")


def _delivery(session: Session, envelope, message_id, status: str, error: str | None, sent_at=None) -> None:
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    m = ticket_messages.c
    # the ticket (then the message) locked first, as every ticket write does
    found = session.execute(select(m.ticket_id).where(m.tenant_id == envelope.tenant_id, m.id == message_id,
                                                      m.kind == "reply")).first()
    ticket = session.execute(select(tickets).where(tickets.c.tenant_id == envelope.tenant_id,
                                                   tickets.c.id == found.ticket_id).with_for_update()
                             ).mappings().first() if found is not None else None
    before = session.execute(select(m.delivery_status, m.created_at).where(
        m.tenant_id == envelope.tenant_id, m.id == message_id).with_for_update()).first() if ticket else None
    stmt = update(ticket_messages).where(m.tenant_id == envelope.tenant_id, m.id == message_id, m.kind == "reply")
    if status == "sent":
        # a late `sent` never hides a bounce that came first
        stmt = stmt.where(m.delivery_status.is_distinct_from("bounced")).values(
            delivery_status="sent", delivery_error=None, sent_at=sent_at)
    else:
        stmt = stmt.values(delivery_status=status, delivery_error=(error or "")[:2000])
    if session.execute(stmt).rowcount == 0:
        log.info("%s for message %s: no such reply here (or already bounced)", envelope.type, message_id)
    elif status == "sent" and before.delivery_status == "queued":
        # it left by mail: the response it is counts from now (tickets.sla); once per reply
        sla_tracking.on_reply_sent(session, dict(ticket), before.created_at, sent_at)


def mail_of(data) -> Mail:
    return Mail(internet_message_id=mail_threading.normalise_message_id(data.internet_message_id),
                subject=data.subject, sender_email=data.sender.email.lower(), customer_id=data.customer_id,
                contact_id=data.contact_id, in_reply_to=tuple(data.in_reply_to), references=tuple(data.references),
                delivered_to=tuple(data.delivered_to), automatic=data.automatic,
                bounced_message_id=data.bounced_message_id, mail_id=data.mail_id)


def evidence_statement(tenant_id, lookup: mail_threading.Lookup, mail_id, customer_id):
    """One statement: the customer's copied tier (always one row), and beside it each message a
    Message-ID names (or this mail's own copy) with its ticket, and each ticket a number names."""
    m = ticket_messages.c
    message_ids = [*lookup.message_ids, *lookup.own_ids]
    on_ticket = and_(tickets.c.id == m.ticket_id, tickets.c.tenant_id == m.tenant_id)
    by_message = (select(m.internet_message_id, m.kind, m.mail_id, *_TICKET_COLUMNS)
                  .join_from(ticket_messages, tickets, on_ticket)
                  .where(m.tenant_id == tenant_id, m.kind != "note",
                         (m.internet_message_id.in_(message_ids) if message_ids else literal(False))
                         | (m.mail_id == mail_id)))
    by_number = (select(null().label("internet_message_id"), null().label("kind"), null().label("mail_id"),
                        *_TICKET_COLUMNS)
                 .where(tickets.c.tenant_id == tenant_id, tickets.c.number.in_(lookup.numbers)))
    found = union_all(by_message, by_number).subquery("found") if lookup.numbers else by_message.subquery("found")
    tier = select(customer_copies.copied_tier(tenant_id, customer_id).label("copied_tier")).subquery("tier")
    return select(tier.c.copied_tier, found).select_from(tier.outerjoin(found, true()))


def gather(session: Session, tenant_id, mail: Mail) -> tuple[Evidence, str | None, dict]:
    """(evidence, the customer's copied tier, ticket rows by id) for `mail`."""
    rows = session.execute(evidence_statement(tenant_id, mail_threading.lookup_for(mail), mail.mail_id,
                                              mail.customer_id)).mappings().all()
    messages, found = [], {}
    for row in rows:
        if row["id"] is None:
            continue
        found[row["id"]] = row
        if row["kind"] is not None:
            messages.append(KnownMessage(row["internet_message_id"], row["id"], row["kind"], row["mail_id"]))
    threads = {ticket_id: Ticket(id=ticket_id, number=r["number"], status=r["status"], customer_id=r["customer_id"],
                                 contact_id=r["contact_id"],
                                 participants=Thread.from_json(r["mail_thread"]).participants)
               for ticket_id, r in found.items()}
    tier = rows[0]["copied_tier"] if rows else None
    return Evidence(messages=tuple(messages), tickets=tuple(threads.values())), tier, found


MESSAGE_ID_LIMIT = 998  # RFC 5322's line limit: no real Message-ID is longer


def _no_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: _no_nul(v) for k, v in value.items()}
    return value


def storable(data):
    """The mail as PostgreSQL can store it, so no content ever dead-letters it: no NUL characters
    (text and JSONB refuse them), no Message-ID past `MESSAGE_ID_LIMIT` (such ids are dropped:
    they name nothing of ours)."""
    fields = _no_nul(data.model_dump(mode="json"))

    def fits(value):
        return value if value is None or len(value) <= MESSAGE_ID_LIMIT else None

    fields["internet_message_id"] = fits(fields["internet_message_id"])
    fields["bounced_message_id"] = fits(fields["bounced_message_id"])
    fields["in_reply_to"] = [i for i in fields["in_reply_to"] if fits(i)]
    fields["references"] = [i for i in fields["references"] if fits(i)]
    return type(data).model_validate(fields)


def receive(session: Session, rpc_client, tenant_id, data) -> Decision:
    """Thread one `mail.received` onto the tickets (in the consumer's transaction)."""
    data = storable(data)
    mail = mail_of(data)
    evidence, copied_tier, _ = gather(session, tenant_id, mail)
    decision = mail_threading.decide(mail, evidence)
    log.info("mail %s: %s (%s)", data.mail_id, decision.action, decision.note,
             extra={"mail_id": str(data.mail_id), "thread_reason": decision.reason})
    if decision.action in ("duplicate", "ignore"):
        return decision
    now = utc_now()
    message = _message(tenant_id, data, mail, decision, now)
    if decision.action == "attach_automatic":
        message["ticket_id"] = decision.ticket_id
        helpdesk_store.insert_message(session, message)
        return decision
    if decision.action == "new_ticket":
        tier = copied_tier or customer_directory.customer(rpc_client, tenant_id, data.customer_id)["tier"]
        ticket = ticket_store.open_ticket(session, tenant_id, {
            "customer_id": data.customer_id, "customer_tier": tier,
            "subject": mail_threading.clean_subject(data.subject), "description": data.text, "priority": "normal",
            "source": "email", "contact_id": data.contact_id,
            "last_customer_message_at": now, "mail_thread": _thread(None, data).to_json()}, now)
        message["ticket_id"] = ticket["id"]
        helpdesk_store.insert_message(session, message)
        return decision
    ticket = ticket_store.load(session, tenant_id, decision.ticket_id, for_update=True)
    effect = workflow.message_effect(ticket["status"], "inbound")  # status as locked, not as looked up
    thread = _thread(ticket["mail_thread"], data).to_json()
    if effect.starts_follow_up:
        tier = copied_tier or customer_directory.customer(rpc_client, tenant_id, ticket["customer_id"])["tier"]
        ticket = ticket_store.open_ticket(session, tenant_id, {
            "customer_id": ticket["customer_id"], "customer_tier": tier, "subject": ticket["subject"],
            "description": data.text, "priority": ticket["priority"], "source": "email",
            "contact_id": data.contact_id or ticket["contact_id"],
            "category": helpdesk_store.category_or_general(session, tenant_id, ticket["category"]),
            "tags": ticket["tags"], "follows_ticket_id": ticket["id"], "last_customer_message_at": now,
            "mail_thread": thread}, now)
        thread = None  # the follow-up was opened with it
    message["ticket_id"] = ticket["id"]
    helpdesk_store.insert_message(session, message)
    ticket_store.record_message(session, ticket, message, effect, now, mail_thread=thread)
    return decision


def _thread(current: dict | None, data) -> Thread:
    """The ticket's mail thread once this (human) mail joined it; participants come from the event."""
    return mail_threading.thread_after_inbound(
        Thread.from_json(current), mailbox_id=data.mailbox_id, delivered_to=data.delivered_to,
        sender=data.sender.email, reply_to=[a.email for a in data.reply_to],
        cc=[a.email for a in data.participants], references=[*data.references, *data.in_reply_to],
        internet_message_id=data.internet_message_id)


def _message(tenant_id, data, mail: Mail, decision: Decision, at) -> dict:
    references = [r for r in (mail_threading.normalise_message_id(x) for x in (*data.in_reply_to, *data.references))
                  if r]
    return {"id": uuid.uuid4(), "tenant_id": tenant_id, "ticket_id": None, "kind": "inbound",
            "author_member_id": None, "author_contact_id": data.contact_id, "entered_by_member_id": None,
            "body": data.text, "created_at": at, "internet_message_id": mail.internet_message_id,
            "mail_references": list(dict.fromkeys(references))[:100], "mail_id": data.mail_id,
            "mail_subject": data.subject[:998], "automatic": decision.automatic, "thread_reason": decision.reason,
            "thread_note": decision.note[:2000]}
