"""Contacts made from mail (issue 8): an unknown sender at a known customer's domain becomes a contact.

Mailsync tells `mail.received` with `contact_is_new` and a fresh `contact_id` when the sender is
unknown but their domain is a customer's; the ticket already names that id. This consumer creates
the contact with exactly that id under `customer_id` (a mixin `CustomersService` inherits), the way
`create_contact` does: the row and `contact.created` in its outbox in one transaction (the audit
log files the event), the inbox making a redelivery write nothing. Decisions:

- Idempotent by id: a contact with that id already exists: nothing to do.
- Idempotent by address: the address is already a contact (someone added it meanwhile, or two
  mails of the same new sender crossed): nothing is created; an address is one person.
- The name is the sender's display name, else the local part of the address (a contact has one);
  cut to the column's length.
- Content never dead-letters a real message: an address the contact rules refuse, or a customer
  that is not this tenant's, is logged and skipped.
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from custops.contracts.mailsync import MailReceived
from custops.entrypoints import PoisonMessage, consumes
from custops.errors import Conflict, InvalidInput, NotFound
from custops.validation import parse
from customers import store
from customers.commands import CreateContact
from customers.models import contacts

log = logging.getLogger(__name__)
NAME_LIMIT = 200  # contacts.name


class MailContactEntrypoints:
    """Consumer of mailsync's `mail.received` (a mixin `CustomersService` inherits). Needs `self.db`."""

    @consumes("mailsync", "mail.received")
    def on_mail_received(self, session, envelope, data):
        if envelope.tenant_id is None:
            raise PoisonMessage(f"mail.received {envelope.id} has no tenant")
        create_contact_from_mail(session, envelope.tenant_id, data)


def contact_name(display_name: str, email: str) -> str:
    """The sender's display name, else the local part of the address, within the column's length."""
    name = " ".join((display_name or "").split()) or email.partition("@")[0] or email
    return name[:NAME_LIMIT]


def create_contact_from_mail(session: Session, tenant_id: uuid.UUID, mail: MailReceived) -> dict | None:
    """The new contact's shape, or None when there was nothing to create (see the module docstring)."""
    if not mail.contact_is_new or mail.contact_id is None:
        return None
    if session.execute(select(contacts.c.id).where(contacts.c.id == mail.contact_id)).first():
        return None
    try:
        cmd = parse(CreateContact, {"name": contact_name(mail.sender.name, mail.sender.email),
                                    "email": mail.sender.email})
    except InvalidInput as exc:
        log.warning("mail sender not made a contact: %s", exc, extra={"mail_id": str(mail.mail_id)})
        return None
    try:
        with session.begin_nested():  # a refusal leaves the inbox row and the transaction intact
            return store.create_contact(session, tenant_id, mail.customer_id, cmd, contact_id=mail.contact_id)
    except Conflict:
        return None  # the address is a contact already
    except NotFound as exc:
        log.warning("mail sender not made a contact: %s", exc, extra={"mail_id": str(mail.mail_id)})
        return None
