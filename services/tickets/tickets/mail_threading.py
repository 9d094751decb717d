"""Which ticket an incoming mail belongs to, and how a reply threads back (pure: no I/O).

The tickets service decides threading because it owns the ticket messages and so knows every
Message-ID of a thread, inbound and outbound. The mail intake (`tickets.mail_intake`) looks up the
evidence a mail names (the messages its headers name, the tickets its subject or address names) in
one statement and hands it here; `decide()` says what to do and records why.

Decisions (documented here because operators will ask):
- Evidence, in order: (1) our own Message-IDs — of any message on a ticket, inbound or outbound —
  in `In-Reply-To`, then in *any* position of `References` (mail clients truncate References to the
  first and last few ids, so the thread root alone must be enough), and for a bounce the
  Message-ID of the mail that bounced; (2) a ticket token in the subject (`[#T-1234]`, anywhere
  after any chain of `Re:`/`AW:`/`WG:`/`SV:`/`Fwd:`/`RE[2]:` prefixes, any case and spacing);
  (3) a plus-address it was sent to (`support+t1234@`); otherwise (4) a new ticket.
- Header evidence threads whoever sent it (a customer's colleague answering all, a partner copied
  in): the sender quoted an id only our thread has. When In-Reply-To and References name different
  tickets, In-Reply-To wins (the message answered); among References the latest named wins (the
  nearest ancestor).
- A subject token or plus-address alone is weak evidence (anyone can type `[#T-12]`): it is taken
  only from the ticket's contact, a contact of the ticket's customer (same company), or a known
  participant of the ticket. A stranger or another customer quoting a ticket number gets a new
  ticket, and the note says which ticket it named and why it was not used.
- Rewritten Message-IDs (a sender's mail system replacing the id of our reply, so the customer's
  answer names an id we never sent) fall through to the subject token, which our replies always carry.
- The same mail twice (a second copy, or the same Message-ID delivered to two of our mailboxes) is
  a duplicate: nothing is stored again.
- Where the mail lands: an open ticket takes it; a resolved one is reopened; a closed one stays
  closed and a new ticket is opened that follows it (`follows_ticket_id`).
- Automatic mail (auto-reply, bounce, list traffic, a detected loop) is attached to the ticket it
  threads to *as automatic*, whatever that ticket's status: it never reopens a ticket, never starts
  a follow-up, never counts as the customer's response for the SLA. Automatic mail that threads to
  no ticket opens none (it stays in mailsync's store, where admins see it): an out-of-office note or
  a bounce is never a request.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["append", "reopen", "follow_up", "new_ticket", "attach_automatic", "duplicate", "ignore"]
Reason = Literal["in_reply_to", "references", "bounced_message", "subject_token", "plus_address", "new_thread",
                 "duplicate", "automatic_unmatched"]

# `[#T-1234]`, tolerant of case and spacing: `[ #t 1234 ]`, `[#T1234]`, `[T-1234]`.
_TOKEN = re.compile(r"\[\s*#?\s*T\s*-?\s*(\d{1,9})\s*\]", re.IGNORECASE)
# Reply/forward prefixes of the common mail clients and languages, with counters (`RE[2]:`, `Re^3:`,
# `AW(2):`) and full-width colons; a chain of them is stripped as one.
_PREFIX = re.compile(
    r"^(?:\s*(?:re|aw|wg|sv|vs|fw|fwd|tr|antw|antwort|rif|r|ref|odp|res|enc|doorst|vl)\s*"
    r"(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*)+", re.IGNORECASE)
# `support+t1234@example.com`: the ticket number as a plus-address tag.
_PLUS = re.compile(r"^[^@+\s]+\+t-?(\d{1,9})@", re.IGNORECASE)

# How many Message-IDs a reply's References keeps: the thread's root and the latest ones (RFC 5322
# lets a client trim the middle; long threads would otherwise grow without bound).
REFERENCES_KEPT = 20


@dataclass(frozen=True)
class Mail:
    """What threading needs of a `mail.received` (Message-IDs without angle brackets)."""

    internet_message_id: str | None
    subject: str
    sender_email: str
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    delivered_to: tuple[str, ...] = ()  # our addresses it arrived for, plus-addresses included
    automatic: str | None = None
    bounced_message_id: str | None = None
    mail_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Ticket:
    """A ticket as far as threading cares."""

    id: uuid.UUID
    number: int
    status: str
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    participants: frozenset[str] = frozenset()  # lower-cased addresses of people on its mail thread


@dataclass(frozen=True)
class KnownMessage:
    """A message already on a ticket, found by a Message-ID the mail names (or by its mail id)."""

    internet_message_id: str | None
    ticket_id: uuid.UUID
    kind: str  # inbound | reply
    mail_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Evidence:
    """What the intake found for a mail: the messages its ids name, the tickets its numbers name."""

    messages: tuple[KnownMessage, ...] = ()
    tickets: tuple[Ticket, ...] = ()  # every ticket a message above is on, and every numbered one

    def ticket(self, ticket_id) -> Ticket | None:
        return next((t for t in self.tickets if t.id == ticket_id), None)

    def numbered(self, number: int) -> Ticket | None:
        return next((t for t in self.tickets if t.number == number), None)


@dataclass(frozen=True)
class Decision:
    """What to do with a mail and why: `reason` (machine-readable) and `note` (for people)."""

    action: Action
    reason: Reason
    note: str
    ticket_id: uuid.UUID | None = None  # the ticket it threads to (the closed one for a follow-up)
    automatic: str | None = None


@dataclass(frozen=True)
class Lookup:
    """What the intake must look up for a mail (one statement): messages by these ids (and the
    mail's own id, to see a duplicate), tickets by these numbers."""

    message_ids: tuple[str, ...]
    numbers: tuple[int, ...]
    own_ids: tuple[str, ...] = field(default=())


# --- subjects and addresses ---

def strip_prefixes(subject: str) -> str:
    """The subject without its chain of reply/forward prefixes (`Re: AW: RE[2]: Fwd: x` -> `x`)."""
    return _PREFIX.sub("", subject or "").strip()


def subject_numbers(subject: str) -> tuple[int, ...]:
    """Ticket numbers named by tokens in the subject, in order, without repeats."""
    return tuple(dict.fromkeys(int(n) for n in _TOKEN.findall(subject or "")))


def plus_numbers(addresses) -> tuple[int, ...]:
    """Ticket numbers named by plus-addresses (`support+t1234@...`), in order, without repeats."""
    found = (_PLUS.match(a.strip()) for a in addresses if a)
    return tuple(dict.fromkeys(int(m.group(1)) for m in found if m))


def ticket_token(number: int) -> str:
    return f"[#T-{number}]"


def clean_subject(subject: str) -> str:
    """A new ticket's subject from a mail's: no reply prefixes, no ticket token, never blank."""
    text = _TOKEN.sub(" ", strip_prefixes(subject))
    text = " ".join(strip_prefixes(text).split())
    return text[:300] or "(no subject)"


def reply_subject(number: int, subject: str) -> str:
    """Our reply's subject: `Re: [#T-1234] <ticket subject>` (one token, one `Re:`)."""
    base = clean_subject(subject)
    return f"Re: {ticket_token(number)} {base}"


def normalise_message_id(value: str | None) -> str | None:
    """A Message-ID as stored and compared: no angle brackets or surrounding space; None when blank.
    Ids are compared exactly otherwise (RFC 5322: the local part is case-sensitive)."""
    if value is None:
        return None
    value = value.strip().strip("<>").strip()
    return value or None


def our_message_id(message_id: uuid.UUID, domain: str) -> str:
    """The Message-ID of one of our replies: deterministic per message (a resend after a crash
    carries the same id, so the receiving side can tell a repeat), without angle brackets."""
    return f"{message_id}@{domain}"


# --- threading ---

def lookup_for(mail: Mail) -> Lookup:
    """What `decide` needs looked up for `mail`."""
    ids = [*mail.in_reply_to, *mail.references]
    if mail.bounced_message_id:
        ids.append(mail.bounced_message_id)
    own = (mail.internet_message_id,) if mail.internet_message_id else ()
    clean = tuple(dict.fromkeys(i for i in (normalise_message_id(x) for x in ids) if i))
    numbers = tuple(dict.fromkeys([*subject_numbers(mail.subject), *plus_numbers(mail.delivered_to)]))
    return Lookup(message_ids=clean, numbers=numbers, own_ids=own)


def _header_match(mail: Mail, evidence: Evidence) -> tuple[uuid.UUID, Reason, str] | None:
    by_id: dict[str, KnownMessage] = {}
    for message in evidence.messages:
        if message.internet_message_id and message.internet_message_id not in by_id:
            by_id[message.internet_message_id] = message
    if mail.automatic == "bounce" and mail.bounced_message_id:
        hit = by_id.get(normalise_message_id(mail.bounced_message_id) or "")
        if hit is not None:
            return hit.ticket_id, "bounced_message", f"bounce of <{hit.internet_message_id}>"
    for value in mail.in_reply_to:
        hit = by_id.get(normalise_message_id(value) or "")
        if hit is not None:
            return hit.ticket_id, "in_reply_to", f"In-Reply-To names <{hit.internet_message_id}> ({hit.kind})"
    references = [normalise_message_id(v) for v in mail.references]
    for position in range(len(references) - 1, -1, -1):  # the nearest ancestor first
        hit = by_id.get(references[position] or "")
        if hit is not None:
            return hit.ticket_id, "references", (
                f"References names <{hit.internet_message_id}> ({hit.kind}) at position {position + 1} "
                f"of {len(references)}")
    return None


def may_use_number(mail: Mail, ticket: Ticket) -> tuple[bool, str]:
    """Whether a subject token or plus-address naming `ticket` is accepted from this sender, and who
    the sender is to the ticket."""
    if mail.contact_id is not None and mail.contact_id == ticket.contact_id:
        return True, "the ticket's contact"
    if mail.customer_id == ticket.customer_id:
        return True, "a contact of the ticket's customer"
    if mail.sender_email.lower() in ticket.participants:
        return True, "a participant of the ticket"
    return False, "not the ticket's customer nor a participant"


def _number_match(mail: Mail, evidence: Evidence) -> tuple[uuid.UUID | None, Reason | None, str]:
    """The ticket a subject token or plus-address names, when the sender may use it; else None and
    a note of what was refused (empty when nothing was named)."""
    refused = []
    candidates = [(n, "subject_token", "subject token") for n in subject_numbers(mail.subject)]
    candidates += [(n, "plus_address", "plus-address") for n in plus_numbers(mail.delivered_to)]
    for number, reason, label in candidates:
        ticket = evidence.numbered(number)
        if ticket is None:
            refused.append(f"{label} names T-{number}, which does not exist")
            continue
        allowed, who = may_use_number(mail, ticket)
        if allowed:
            return ticket.id, reason, f"{label} {ticket_token(number)} from {who}"
        refused.append(f"{label} names T-{number} but the sender is {who}")
    return None, None, "; ".join(refused)


def decide(mail: Mail, evidence: Evidence) -> Decision:
    """What to do with `mail` given what its ids and numbers were found to name (see the module's
    decisions)."""
    own = normalise_message_id(mail.internet_message_id)
    for message in evidence.messages:
        if message.kind == "inbound" and ((own and message.internet_message_id == own)
                                          or (mail.mail_id and message.mail_id == mail.mail_id)):
            return Decision("duplicate", "duplicate", f"already on the ticket as message <{own}>",
                            message.ticket_id, mail.automatic)
    matched = _header_match(mail, evidence)
    if matched is not None:
        ticket_id, reason, note = matched
    else:
        ticket_id, reason, note = _number_match(mail, evidence)
    ticket = evidence.ticket(ticket_id) if ticket_id is not None else None
    if ticket is None:
        if mail.automatic is not None:
            return Decision("ignore", "automatic_unmatched",
                            _join(f"automatic mail ({mail.automatic}) that threads to no ticket opens none", note),
                            None, mail.automatic)
        return Decision("new_ticket", "new_thread", _join("no thread evidence: a new ticket", note))
    assert reason is not None
    if mail.automatic is not None:
        return Decision("attach_automatic", reason, f"{note}; attached as automatic ({mail.automatic})",
                        ticket.id, mail.automatic)
    if ticket.status == "closed":
        return Decision("follow_up", reason, f"{note}; T-{ticket.number} is closed: a new ticket follows it",
                        ticket.id)
    if ticket.status == "resolved":
        return Decision("reopen", reason, f"{note}; reopens resolved T-{ticket.number}", ticket.id)
    return Decision("append", reason, note, ticket.id)


def _join(first: str, rest: str) -> str:
    return f"{first} ({rest})" if rest else first


# --- the thread a reply continues ---

@dataclass(frozen=True)
class Thread:
    """A ticket's mail thread as replies need it (kept on the ticket, `tickets.mail_thread`).

    `to`: whom our replies go to (the customer's Reply-To, else the sender of their last mail);
    `cc`: the people copied in (participants, never us); `references`: the thread's Message-IDs,
    oldest first (at most `REFERENCES_KEPT`: the root and the latest); `last_message_id`: the one
    our next reply answers; `mailbox_id`/`from_address`: where it came in, so the reply leaves from there.
    """

    mailbox_id: str | None = None
    from_address: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    last_message_id: str | None = None

    @classmethod
    def from_json(cls, value: dict | None) -> "Thread":
        value = value or {}
        return cls(mailbox_id=value.get("mailbox_id"), from_address=value.get("from_address"),
                   to=tuple(value.get("to") or ()), cc=tuple(value.get("cc") or ()),
                   references=tuple(value.get("references") or ()), last_message_id=value.get("last_message_id"))

    def to_json(self) -> dict:
        return {"mailbox_id": self.mailbox_id, "from_address": self.from_address, "to": list(self.to),
                "cc": list(self.cc), "references": list(self.references), "last_message_id": self.last_message_id}

    @property
    def participants(self) -> frozenset[str]:
        return frozenset(a.lower() for a in (*self.to, *self.cc))

    @property
    def domain(self) -> str | None:
        """The domain of the address the thread came in on (our replies' Message-ID domain)."""
        if self.from_address and "@" in self.from_address:
            return self.from_address.rsplit("@", 1)[1].lower()
        return None


def _keep_references(ids) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(i for i in ids if i))
    if len(ids) <= REFERENCES_KEPT:
        return ids
    return (ids[0], *ids[-(REFERENCES_KEPT - 1):])


def _base_address(address: str) -> str:
    """`support+t12@x` -> `support@x`: replies leave from the mailbox's own address."""
    local, _, domain = address.partition("@")
    return f"{local.split('+', 1)[0]}@{domain}".lower() if domain else address.lower()


def thread_after_inbound(thread: Thread, *, mailbox_id, delivered_to, sender: str, reply_to, cc,
                         references, internet_message_id: str | None) -> Thread:
    """The thread once a (human) mail joined it: replies go to its Reply-To (else its sender), copy
    in its participants, answer its Message-ID and carry its references."""
    ours = {_base_address(a) for a in delivered_to if a}
    recipients = tuple(dict.fromkeys(a.lower() for a in (reply_to or [sender]) if a))
    copied = tuple(dict.fromkeys(a.lower() for a in cc if a and a.lower() not in recipients
                                 and _base_address(a) not in ours))
    own = normalise_message_id(internet_message_id)
    refs = [normalise_message_id(r) for r in (*thread.references, *references)]
    if own:
        refs.append(own)
    from_address = next((_base_address(a) for a in delivered_to if a), thread.from_address)
    return Thread(mailbox_id=str(mailbox_id) if mailbox_id else thread.mailbox_id, from_address=from_address,
                  to=recipients or thread.to, cc=copied, references=_keep_references(refs),
                  last_message_id=own or thread.last_message_id)


def thread_after_reply(thread: Thread, reply_message_id: str) -> Thread:
    """The thread once our reply (`reply_message_id`) joined it."""
    return Thread(mailbox_id=thread.mailbox_id, from_address=thread.from_address, to=thread.to, cc=thread.cc,
                  references=_keep_references((*thread.references, reply_message_id)),
                  last_message_id=reply_message_id)


# Our replies' Message-IDs take the domain of the mailbox their thread came in on; a reply on a
# ticket with no mail thread never leaves by mail, and takes this one.
FALLBACK_DOMAIN = "custops.local"


def reply_message_id(message_id: uuid.UUID, mail_thread: dict | None) -> str:
    """The Message-ID of a public reply (see `our_message_id`)."""
    return our_message_id(message_id, Thread.from_json(mail_thread).domain or FALLBACK_DOMAIN)


def reply_message_fields(message_id: uuid.UUID, mail_thread: dict | None) -> dict:
    """A public reply's stored mail fields: its Message-ID, and `queued` when it will leave by mail
    (its ticket has a mail thread with someone to send to)."""
    queued = bool(Thread.from_json(mail_thread).to) if mail_thread is not None else False
    return {"internet_message_id": reply_message_id(message_id, mail_thread),
            "delivery_status": "queued" if queued else None}


def reply_mail(ticket: dict, message: dict) -> tuple[dict | None, dict]:
    """For a public reply on `ticket` (a row): the ticket's mail thread after it (None: the ticket
    has none) and the mail fields of its `ticket.replied` (empty recipients: no mail to send)."""
    own = message.get("internet_message_id") or reply_message_id(message["id"], ticket.get("mail_thread"))
    fields = {"internet_message_id": own, "mail_subject": reply_subject(ticket["number"], ticket["subject"])}
    if ticket.get("mail_thread") is None:
        return None, fields
    thread = Thread.from_json(ticket["mail_thread"])
    fields.update(in_reply_to=thread.last_message_id, references=list(thread.references), to=list(thread.to),
                  cc=list(thread.cc), mailbox_id=thread.mailbox_id, from_address=thread.from_address)
    return thread_after_reply(thread, own).to_json(), fields
