"""From a parsed message and the customer it matched to what intake stores and tells (pure: no I/O).

Decisions recorded here:

- Who the mail is for and who takes part: `mailsync.senders.resolve_senders` (Reply-To of a relay,
  a colleague's forward, our own mail); `sender` in `mail.received` is that customer's address (the
  `From:` when there is none, e.g. our own mail). Our own mail matches no customer.
- `delivered_to`: the addresses of ours the mail came for, plus-addresses included
  (`support+t1234@` is ours when the mailbox is `support@`), from To/Cc/Delivered-To.
- A match from `customers.match_sender` by domain only (no contact): the sender is a new contact of
  that customer, told with a fresh `contact_id` the customers service creates the contact under.
- The status: `imported` (customer known: told now), `unassigned` (no customer: told once a member
  assigns one), `quarantined` (unparseable: raw kept, nothing told).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from custops.contracts.mailsync import MailReceived
from mailsync.parsing import Address, ParsedMail
from mailsync.senders import Senders, resolve_senders

IMPORTED, UNASSIGNED, QUARANTINED = "imported", "unassigned", "quarantined"


@dataclass(frozen=True)
class Match:
    customer_id: uuid.UUID
    contact_id: uuid.UUID
    contact_is_new: bool


def base_address(email: str) -> str:
    """`support+t1234@example.com` → `support@example.com` (lower-cased)."""
    local, _, domain = email.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if domain else email.lower()


def is_ours(email: str, own: frozenset[str]) -> bool:
    return base_address(email) in own


def senders_of(parsed: ParsedMail, own: frozenset[str]) -> Senders:
    return resolve_senders(parsed, own)


def match_from(answer: dict | None, new_contact_id: uuid.UUID) -> Match | None:
    """`customers.match_sender`'s answer as a Match (None: no customer)."""
    if not answer or not answer.get("customer_id"):
        return None
    if answer.get("contact_id"):
        return Match(uuid.UUID(str(answer["customer_id"])), uuid.UUID(str(answer["contact_id"])), False)
    return Match(uuid.UUID(str(answer["customer_id"])), new_contact_id, True)


def received_payload(parsed: ParsedMail, senders: Senders, *, mail_id: uuid.UUID, mailbox_id: uuid.UUID,
                     own: frozenset[str], received_at: datetime, raw_sha256: str, attachments: list[dict]) -> dict:
    """The `mail.received` data without its customer fields (added when the customer is known)."""
    sender = senders.customer or parsed.sender
    sender_email = sender.email if sender else ""
    delivered = {}
    for address in [*parsed.to, *parsed.cc]:
        if is_ours(address.email, own):
            delivered[address.email] = None
    for email in parsed.delivered_to:
        if is_ours(email, own):
            delivered[email.lower()] = None
    participants = senders.participants
    text = parsed.text_new or parsed.text
    return {
        "mail_id": str(mail_id), "mailbox_id": str(mailbox_id),
        "internet_message_id": parsed.message_id,
        "in_reply_to": list(parsed.in_reply_to), "references": list(parsed.references),
        "sender": {"email": sender_email, "name": sender.name if sender else ""},
        "reply_to": [_address(a) for a in parsed.reply_to],
        "to": [_address(a) for a in parsed.to], "cc": [_address(a) for a in parsed.cc],
        "delivered_to": list(delivered), "participants": [_address(a) for a in participants],
        "subject": parsed.subject, "sent_at": parsed.sent_at.isoformat() if parsed.sent_at else None,
        "received_at": received_at.isoformat(),
        "text": text[:MailReceived.TEXT_LIMIT], "text_truncated": len(text) > MailReceived.TEXT_LIMIT,
        "has_html": parsed.has_html, "attachments": attachments,
        "automatic": parsed.automatic, "bounced_message_id": parsed.bounced_message_id,
        "oversized": parsed.oversized, "raw_sha256": raw_sha256,
    }


def told(received: dict, match: Match) -> MailReceived:
    """The event once the customer is known."""
    return MailReceived.model_validate({**received, "customer_id": match.customer_id,
                                        "contact_id": match.contact_id, "contact_is_new": match.contact_is_new})


def status_for(match: Match | None) -> str:
    return IMPORTED if match is not None else UNASSIGNED


def _address(a: Address) -> dict:
    return {"email": a.email, "name": a.name}

