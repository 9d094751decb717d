"""From a parsed message and the customer it matched to what intake stores and tells (pure: no I/O).

Decisions recorded here:

- Who the mail is for and who takes part: `mailsync.senders.resolve_senders` (Reply-To of a relay,
  a colleague's forward, our own mail); `sender` in `mail.received` is that customer's address (the
  `From:` when there is none, e.g. our own mail). Our own mail matches no customer.
- `delivered_to`: the addresses of ours the mail came for, plus-addresses included
  (`support+t1234@` is ours when the mailbox is `support@`), from To/Cc/Delivered-To.
- Our addresses (`OurAddresses`) are every address the tenant's mailboxes receive for: each one's
  email, login and `addresses` (aliases, plus-addresses). A recipient that is one of them is never a
  participant or a contact; mail from one of them (not a forward) is our own come back: no customer,
  `automatic` "loop" (never answered, never reopening). Mail through a list of ours is not list
  traffic (`auto_replies.classify`).
- Routing: mail that names none of this mailbox's addresses as a recipient (X-Original-To and the
  like, To, Cc) but another mailbox's — it arrived at a shared catch-all — belongs to that mailbox:
  the first such recipient in that order, then Delivered-To (a Bcc; not counted for this mailbox,
  since it names where the server delivered, which is the catch-all itself); an exact address
  wins over one without its +tag. `mail.received` names that mailbox (its ticket queue, and the
  mailbox replies leave from); the stored row stays with the mailbox that took it in (folder,
  UID, dedupe). Mail for two of our mailboxes, each syncing its own account, stays with each.
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


@dataclass(frozen=True)
class OurAddresses:
    """The addresses the tenant's mailboxes receive for, seen from the mailbox `mailbox_id` syncing."""

    mailbox_id: uuid.UUID
    exact: dict[str, uuid.UUID]  # every address (lower-cased) -> its mailbox
    base: dict[str, uuid.UUID]  # every address without a +tag -> its mailbox

    @classmethod
    def of(cls, mailbox_id: uuid.UUID, mailboxes: list[dict]) -> "OurAddresses":
        """`mailboxes`: the tenant's, each `{id, email, username, addresses}` (this one first wins a tie)."""
        exact: dict[str, uuid.UUID] = {}
        base: dict[str, uuid.UUID] = {}
        ordered = sorted(mailboxes, key=lambda m: m["id"] != mailbox_id)
        for box in ordered:
            for address in [box["email"], *(box.get("addresses") or [])]:
                exact.setdefault(address.lower(), box["id"])
                if "+" not in address.partition("@")[0]:
                    base.setdefault(base_address(address), box["id"])
        for box in ordered:  # a login that is an address counts, after every address given
            if "@" in (box.get("username") or ""):
                exact.setdefault(box["username"].lower(), box["id"])
                base.setdefault(base_address(box["username"]), box["id"])
        return cls(mailbox_id, exact, base)

    @property
    def own(self) -> frozenset[str]:
        """Every address of ours without its +tag (what `is_ours` and `resolve_senders` compare)."""
        return frozenset({base_address(a) for a in self.exact} | set(self.base))

    def mailbox_of(self, email: str) -> uuid.UUID | None:
        email = email.lower()
        return self.exact.get(email) or self.base.get(base_address(email))

    def route(self, parsed: ParsedMail) -> uuid.UUID:
        """The mailbox `parsed` belongs to (see the module docstring): this one unless it came only
        for another mailbox's addresses."""
        named = [*parsed.original_to, *(a.email for a in parsed.to), *(a.email for a in parsed.cc)]
        found = [m for m in (self.mailbox_of(e) for e in named) if m is not None]
        if self.mailbox_id in found:
            return self.mailbox_id
        found += [m for m in (self.mailbox_of(e) for e in parsed.delivered_to) if m is not None]
        return found[0] if found else self.mailbox_id


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
        "automatic": parsed.automatic or ("loop" if senders.via == "own" else None),
        "bounced_message_id": parsed.bounced_message_id,
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

