"""Mailsync's events: mailboxes added, changed and removed — for the audit log.

Never a secret: no password or its ciphertext, no message content; a change names the fields that
changed, not their values (a mailbox's settings are credentials' neighbours; the audit log records
no payload of `mailbox.*` events at all).
"""
from __future__ import annotations

import uuid

from custops.events import EventData, contract


@contract("mailsync", "mailbox.created")
class MailboxCreated(EventData):
    """A mailbox (IMAP/SMTP settings, its password encrypted at rest) was added."""

    mailbox_id: uuid.UUID
    email: str
    name: str


@contract("mailsync", "mailbox.updated")
class MailboxUpdated(EventData):
    """A mailbox's settings changed; `changed_fields` names them (`password` when it was replaced)."""

    mailbox_id: uuid.UUID
    email: str
    changed_fields: list[str]


@contract("mailsync", "mailbox.deleted")
class MailboxDeleted(EventData):
    """A mailbox was removed."""

    mailbox_id: uuid.UUID
    email: str
