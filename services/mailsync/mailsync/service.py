"""Mailsync service entrypoints: mailbox records with their secrets encrypted at rest.

No RPC returns a password or its ciphertext, nor an OAuth2 client secret or refresh token: shapes
say `has_password` and `auth` (`mailsync.mailbox_settings`) instead. Each change tells
`mailbox.*` in its transaction (the audit log takes them), naming fields, never their values.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager

from custops.rpc_entrypoint import rpc
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from custops import outbox, pagination, shapes
from custops.contracts.mailsync import MailboxCreated, MailboxDeleted, MailboxUpdated
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.errors import EXPECTED, Conflict, NotFound
from custops.validation import parse, parse_id
from mailsync import mailbox_settings
from mailsync.commands import CreateMailbox, MailboxFilters, UpdateMailbox
from mailsync.intake_service import MailIntakeEntrypoints
from mailsync.models import UNIQUE_EMAIL, mailboxes
from mailsync.outbound import OutboundMail
from mailsync.secrets_box import Secrets
from mailsync.survey_mail import SurveyMail


# A mailbox as the service answers it: never the password or its ciphertext.
FIELDS = ("id", "name", "email", "imap_host", "imap_port", "imap_tls", "smtp_host", "smtp_port", "smtp_starttls",
          "username", "has_password", "enabled", "created_at", "updated_at",
          "imap_starttls", "tls_verify", "tls_ca_pem", "auth", "addresses")


def _shape(row) -> dict:
    return shapes.doc({**row, "has_password": bool(row.get("password_encrypted")),
                       "auth": mailbox_settings.auth_shape(row)}, FIELDS)


class MailsyncService(MailIntakeEntrypoints, OutboundMail, SurveyMail, HealthEndpoints):
    name = "mailsync"

    db = Database()
    secrets = Secrets()
    telemetry = Telemetry()

    @rpc(expected_exceptions=EXPECTED)
    def create_mailbox(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateMailbox, payload)
        now = shapes.utc_now()
        row = {
            **mailbox_settings.create_columns(cmd, self.secrets),
            "id": uuid.uuid4(), "tenant_id": tenant_id, "created_at": now, "updated_at": now,
        }
        with _unique_email(cmd.email), self.db.transaction() as session:
            _addresses_free(session, tenant_id, row["id"], row["email"], row["addresses"])
            session.execute(mailboxes.insert().values(**row))
            outbox.add(session, tenant_id, MailboxCreated(mailbox_id=row["id"], email=row["email"], name=row["name"]))
        return _shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def get_mailbox(self, tenant_id, mailbox_id):
        with self.db.read() as session:
            return _shape(_load(session, parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox")))

    @rpc(expected_exceptions=EXPECTED)
    def list_mailboxes(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(MailboxFilters, filters or {})
        limit = pagination.clamp(limit)
        stmt = select(mailboxes).where(mailboxes.c.tenant_id == tenant_id)
        if f.enabled is not None:
            stmt = stmt.where(mailboxes.c.enabled == f.enabled)
        stmt = pagination.page(stmt, mailboxes.c.created_at, mailboxes.c.id, cursor, limit)
        with self.db.read() as session:
            rows = session.execute(stmt).mappings().all()
        return pagination.result(rows, limit, "created_at", _shape)

    @rpc(expected_exceptions=EXPECTED)
    def update_mailbox(self, tenant_id, mailbox_id, changes):
        tenant_id, mailbox_id = parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox")
        cmd = parse(UpdateMailbox, changes)
        with _unique_email(cmd.email), self.db.transaction() as session:
            current = _load(session, tenant_id, mailbox_id, for_update=True)
            values, changed = mailbox_settings.update_columns(cmd, current, self.secrets)
            if not values:
                return _shape(current)
            if "email" in values or "addresses" in values:
                _addresses_free(session, tenant_id, mailbox_id, values.get("email", current["email"]),
                                values.get("addresses", current["addresses"]))
            values["updated_at"] = shapes.utc_now()
            session.execute(update(mailboxes)
                            .where(mailboxes.c.tenant_id == tenant_id, mailboxes.c.id == mailbox_id)
                            .values(**values))
            outbox.add(session, tenant_id, MailboxUpdated(mailbox_id=mailbox_id, email=values.get("email",
                                                                                                  current["email"]),
                                                          changed_fields=changed))
        return _shape({**current, **values})

    @rpc(expected_exceptions=EXPECTED)
    def delete_mailbox(self, tenant_id, mailbox_id):
        tenant_id, mailbox_id = parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox")
        with self.db.transaction() as session:
            deleted = session.execute(
                delete(mailboxes).where(mailboxes.c.tenant_id == tenant_id, mailboxes.c.id == mailbox_id)
                .returning(mailboxes.c.id, mailboxes.c.email)).first()
            if deleted is not None:
                outbox.add(session, tenant_id, MailboxDeleted(mailbox_id=mailbox_id, email=deleted.email))
        if deleted is None:
            raise NotFound(f"mailbox {mailbox_id} not found")
        return {"id": str(mailbox_id), "deleted": True}


def _load(session, tenant_id, mailbox_id, for_update=False):
    stmt = select(mailboxes).where(mailboxes.c.tenant_id == tenant_id, mailboxes.c.id == mailbox_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"mailbox {mailbox_id} not found")
    return dict(row)


def _addresses_free(session, tenant_id, mailbox_id, email: str, addresses: list[str]) -> None:
    """Conflict when another mailbox of the tenant receives for one of these addresses (as its email
    or an alias): mail for an address belongs to one mailbox (`mailsync.intake.OurAddresses`)."""
    aliases = [a for a in addresses if a != email]
    mine = [email, *aliases]  # another mailbox's email is the unique index's business (`_unique_email`)
    taken = session.execute(select(mailboxes.c.email, mailboxes.c.addresses).where(
        mailboxes.c.tenant_id == tenant_id, mailboxes.c.id != mailbox_id,
        mailboxes.c.email.in_(aliases) | mailboxes.c.addresses.overlap(mine))).first()
    if taken is not None:
        clash = next(a for a in mine if a in taken.addresses or (a == taken.email and a != email))
        field = "addresses" if clash != email else "email"
        raise Conflict(f"{clash} is an address of another mailbox of this tenant", [
            {"field": field, "message": f"{clash} is already an address of the mailbox {taken.email}"}])


@contextmanager
def _unique_email(email):
    """Turn a clash on (tenant, email) — checked by the database, so races lose too — into Conflict."""
    try:
        yield
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint == UNIQUE_EMAIL:
            raise Conflict(f"a mailbox for {email} already exists in this tenant", [
                {"field": "email", "message": "already used by another mailbox"}]) from None
        raise
