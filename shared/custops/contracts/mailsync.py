"""Mailsync's events: mailboxes added, changed and removed (for the audit log), and mail received.

`mailbox.*` never carry a secret: no password or its ciphertext; a change names the fields that
changed, not their values (a mailbox's settings are credentials' neighbours; the audit log records
no payload of `mailbox.*` events at all).
"""
from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from custops.events import EventData, contract


@contract("mailsync", "mailbox.created")
class MailboxCreated(EventData):
    """A mailbox (IMAP/SMTP settings, its password encrypted at rest) was added."""

    mailbox_id: uuid.UUID
    email: str
    name: str


@contract("mailsync", "mailbox.updated")
class MailboxUpdated(EventData):
    """A mailbox's settings changed; `changed_fields` names them (`password` when it was replaced,
    `auth` when the OAuth2 login or the kind of login changed; never a value)."""

    mailbox_id: uuid.UUID
    email: str
    changed_fields: list[str]


@contract("mailsync", "mailbox.deleted")
class MailboxDeleted(EventData):
    """A mailbox was removed."""

    mailbox_id: uuid.UUID
    email: str


# --- mail intake (issue 8) --------------------------------------------------------------------------

# What kind of automatic mail a message is (RFC 3834 auto-replies, RFC 3464 delivery status
# notifications, list traffic). Such mail is stored and shown, never answered, never reopens a ticket
# and never counts as the customer's response for the SLA.
AutomaticKind = Literal["auto_reply", "bounce", "list", "loop"]


class MailAddress(BaseModel):
    """One mailbox of a header (`Name <email>`); `email` is lower-cased."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    email: str
    name: str = ""


class MailAttachment(BaseModel):
    """An attachment kept in mailsync's blob store (content-addressed): the event names it, never its bytes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sha256: str
    filename: str | None = None
    content_type: str
    size: int
    content_id: str | None = None  # inline images keep theirs, so the HTML body can show them
    inline: bool = False


@contract("mailsync", "mail.received")
class MailReceived(EventData):
    """A message from a team mailbox was stored raw, deduplicated and parsed; the tickets service threads it.

    `internet_message_id`, `in_reply_to` and `references` are Message-IDs without angle brackets.
    Told once the customer is known: at intake when the sender matched one, else when a member assigns
    the message from mailsync's unassigned queue (so a ticket always has its customer). `contact_is_new`
    says the sender is unknown at a known customer's domain: `contact_id` is then a new id the customers
    service creates the contact under. `text` is the new part (quoted history separated), capped at
    `TEXT_LIMIT` characters (`text_truncated`); the whole message stays in mailsync (`raw_sha256`).
    """

    TEXT_LIMIT: ClassVar[int] = 100_000

    mail_id: uuid.UUID
    mailbox_id: uuid.UUID
    internet_message_id: str | None
    in_reply_to: list[str] = []
    references: list[str] = []
    sender: MailAddress
    reply_to: list[MailAddress] = []
    to: list[MailAddress] = []
    cc: list[MailAddress] = []
    delivered_to: list[str] = []  # the mailbox's own addresses it arrived for (plus-addresses included)
    participants: list[MailAddress] = []  # people copied in who are not us: never the ticket's customer
    subject: str
    sent_at: AwareDatetime | None = None
    received_at: AwareDatetime
    text: str
    text_truncated: bool = False
    has_html: bool = False
    attachments: list[MailAttachment] = []
    automatic: AutomaticKind | None = None
    bounced_message_id: str | None = None  # a bounce: the Message-ID of the mail that bounced
    oversized: bool = False  # over the size limit: stored and flagged, parts not extracted
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    contact_is_new: bool = False
    raw_sha256: str


# --- outbound mail (issue 8): what became of a public reply's mail (`ticket.replied`) ---
# `message_id` is the ticket message (the reply); `internet_message_id` the Message-ID it was sent
# with (without angle brackets; the same on every attempt).


@contract("mailsync", "mail.sent")
class MailSent(EventData):
    """The SMTP server accepted a reply's mail (told once per reply, however often it was tried)."""

    ticket_id: uuid.UUID
    message_id: uuid.UUID
    internet_message_id: str
    mailbox_id: uuid.UUID
    recipients: list[str]
    attempts: int
    sent_at: AwareDatetime


@contract("mailsync", "mail.send_failed")
class MailSendFailed(EventData):
    """A reply's mail could not be sent: the server refused it for good, or every retry failed
    (`permanent` false: the last of `attempts` failed on a temporary error). `error` is the server's
    answer or the connection failure, never a credential."""

    ticket_id: uuid.UUID
    message_id: uuid.UUID
    internet_message_id: str
    mailbox_id: uuid.UUID | None = None
    error: str
    permanent: bool
    attempts: int
    failed_at: AwareDatetime


@contract("mailsync", "mail.bounced")
class MailBounced(EventData):
    """A reply we sent came back as a bounce (a delivery status notification naming its Message-ID)."""

    ticket_id: uuid.UUID
    message_id: uuid.UUID
    internet_message_id: str
    bounce_mail_id: uuid.UUID
    reason: str = ""
    bounced_at: AwareDatetime


@contract("mailsync", "mail.assigned")
class MailAssigned(EventData):
    """A member assigned a message from the unassigned queue to a customer (its `mail.received` follows).

    Names the message and the customer, never the mail's content (the audit log records that it happened).
    """

    mail_id: uuid.UUID
    mailbox_id: uuid.UUID
    customer_id: uuid.UUID
