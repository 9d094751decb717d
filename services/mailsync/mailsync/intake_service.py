"""Mailsync's intake entrypoints (a mixin of `MailsyncService`): folders to watch, pause, resume, test
connection, per-mailbox status, the quarantine list with its raw bytes, the unassigned queue and its
assignment. The sync loops themselves run in the `MailIntake` dependency (`mailsync.imap_sync`).

Every change tells its event in its transaction: `mailbox.updated` naming the fields (`folders`,
`paused`), `mail.assigned` + `mail.received` for an assignment. No answer carries a password.
"""
from __future__ import annotations

import base64
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from custops import outbox, pagination, shapes
from custops.contracts.mailsync import MailAssigned, MailboxUpdated
from custops.errors import EXPECTED, Conflict, NotFound
from custops.rpc import ServiceRpc
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from mailsync import intake, mail_auth
from mailsync.blob_store import store as blob_store
from mailsync.imap_sync import MailIntake, check_connection, problem_of
from mailsync.models import mail_messages, mailbox_sync_status, mailboxes
from mailsync.secrets_box import UnreadableSecret


def _folder(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be blank")
    if any(c in v for c in "\r\n\x00*%"):
        raise ValueError("must be a folder name (no line breaks or wildcards)")
    return v


Folder = Annotated[str, Field(max_length=200), AfterValidator(_folder)]


class WatchFolders(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folders: list[Folder] = Field(min_length=1, max_length=20)


class MailFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["unassigned", "quarantined", "imported"] = "unassigned"
    mailbox_id: uuid.UUID | None = None


class AssignMail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID


STATUS_FIELDS = ("mailbox_id", "enabled", "paused", "folders", "connected", "mode", "last_sync_at", "last_error",
                 "last_error_at", "backlog")
MAIL_FIELDS = ("id", "mailbox_id", "folder", "status", "internet_message_id", "subject", "sender_email",
               "sender_name", "sent_at", "received_at", "size", "oversized", "quarantine_reason", "customer_id",
               "contact_id", "assigned_by", "assigned_at", "created_at")


def _mail_shape(row) -> dict:
    return shapes.doc(row, MAIL_FIELDS)


class MailIntakeEntrypoints:
    intake = MailIntake()
    rpc_client = ServiceRpc()  # customers: match_sender, get_customer (asking only)

    @rpc(expected_exceptions=EXPECTED)
    def watch_folders(self, tenant_id, mailbox_id, payload):
        tenant_id, mailbox_id = parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox")
        cmd = parse(WatchFolders, payload)
        folders = list(dict.fromkeys(cmd.folders))
        return self._change_mailbox(tenant_id, mailbox_id, {"folders": folders})

    @rpc(expected_exceptions=EXPECTED)
    def pause_mailbox(self, tenant_id, mailbox_id):
        return self._change_mailbox(parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox"), {"paused": True})

    @rpc(expected_exceptions=EXPECTED)
    def resume_mailbox(self, tenant_id, mailbox_id):
        return self._change_mailbox(parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox"), {"paused": False})

    def _change_mailbox(self, tenant_id, mailbox_id, values: dict) -> dict:
        with self.db.transaction() as session:
            current = _mailbox(session, tenant_id, mailbox_id, for_update=True)
            changed = sorted(k for k, v in values.items() if current[k] != v)
            if changed:
                session.execute(update(mailboxes).where(mailboxes.c.id == mailbox_id)
                                .values(**values, updated_at=shapes.utc_now()))
                outbox.add(session, tenant_id, MailboxUpdated(mailbox_id=mailbox_id, email=current["email"],
                                                              changed_fields=changed))
            return _status(session, {**current, **values})

    @rpc(expected_exceptions=EXPECTED)
    def test_mailbox_connection(self, tenant_id, mailbox_id):
        """`{ok, idle, folders}` or `{ok: false, kind: dns|connect|tls|auth|oauth2|folder|protocol|secret, reason}`."""
        with self.db.read() as session:
            mailbox = _mailbox(session, parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox"))
        try:
            credentials = mail_auth.credentials_for(mailbox, self.secrets)
        except UnreadableSecret as exc:
            problem = problem_of(exc)
            return {"ok": False, "kind": problem.kind, "reason": problem.message}
        return check_connection(mailbox, credentials, list(mailbox["folders"] or ["INBOX"]))

    @rpc(expected_exceptions=EXPECTED)
    def get_mailbox_status(self, tenant_id, mailbox_id):
        with self.db.read() as session:
            return _status(session, _mailbox(session, parse_id(tenant_id, "tenant"), parse_id(mailbox_id, "mailbox")))

    @rpc(expected_exceptions=EXPECTED)
    def list_mail(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(MailFilters, filters or {})
        limit = pagination.clamp(limit)
        stmt = select(mail_messages).where(mail_messages.c.tenant_id == tenant_id, mail_messages.c.status == f.status)
        if f.mailbox_id is not None:
            stmt = stmt.where(mail_messages.c.mailbox_id == f.mailbox_id)
        stmt = pagination.page(stmt, mail_messages.c.created_at, mail_messages.c.id, cursor, limit)
        with self.db.read() as session:
            rows = session.execute(stmt).mappings().all()
        return pagination.result(rows, limit, "created_at", _mail_shape)

    @rpc(expected_exceptions=EXPECTED)
    def get_mail(self, tenant_id, mail_id):
        with self.db.read() as session:
            return _mail_shape(_mail(session, parse_id(tenant_id, "tenant"), parse_id(mail_id, "mail")))

    @rpc(expected_exceptions=EXPECTED)
    def get_mail_raw(self, tenant_id, mail_id):
        """The exact bytes the server had (base64), for admins to download and inspect."""
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            row = _mail(session, tenant_id, parse_id(mail_id, "mail"))
            raw = blob_store.get(session, tenant_id, row["raw_sha256"])
        if raw is None:
            raise NotFound(f"the raw bytes of mail {mail_id} are gone")
        return {"id": str(row["id"]), "filename": f"{row['id']}.eml", "size": len(raw),
                "content_base64": base64.b64encode(raw).decode()}

    @rpc(expected_exceptions=EXPECTED)
    def assign_mail(self, tenant_id, mail_id, payload):
        """A message of the unassigned queue → the customer given; tells `mail.received` (and
        `mail.assigned`). The sender becomes that customer's contact: the one it already is, else a new one."""
        tenant_id, mail_id = parse_id(tenant_id, "tenant"), parse_id(mail_id, "mail")
        cmd = parse(AssignMail, payload)
        self.rpc_client.call("customers", "get_customer", str(tenant_id), str(cmd.customer_id))  # NotFound: 404
        with self.db.read() as session:
            sender = _mail(session, tenant_id, mail_id)["sender_email"]
        answer = self.rpc_client.call("customers", "match_sender", str(tenant_id), sender) if sender else None
        if answer and answer.get("contact_id") and str(answer.get("customer_id")) == str(cmd.customer_id):
            match = intake.Match(cmd.customer_id, uuid.UUID(str(answer["contact_id"])), False)
        else:
            match = intake.Match(cmd.customer_id, uuid.uuid4(), True)
        actor = _actor_id()
        with self.db.transaction() as session:
            row = _mail(session, tenant_id, mail_id, for_update=True)
            if row["status"] != intake.UNASSIGNED:
                raise Conflict(f"mail {mail_id} is {row['status']}, not in the unassigned queue",
                               [{"field": "mail_id", "message": f"already {row['status']}"}])
            now = shapes.utc_now()
            values = {"status": intake.IMPORTED, "customer_id": match.customer_id, "contact_id": match.contact_id,
                      "contact_is_new": match.contact_is_new, "assigned_by": actor, "assigned_at": now}
            session.execute(update(mail_messages).where(mail_messages.c.id == mail_id).values(**values))
            outbox.add(session, tenant_id, MailAssigned(mail_id=mail_id, mailbox_id=row["mailbox_id"],
                                                        customer_id=match.customer_id))
            outbox.add(session, tenant_id, intake.told(row["received"], match))
        return _mail_shape({**row, **values})


def _actor_id():
    from custops import caller

    actor = caller.current_actor()
    return actor.id if actor.type == "member" else None


def _mailbox(session, tenant_id, mailbox_id, for_update=False) -> dict:
    stmt = select(mailboxes).where(mailboxes.c.tenant_id == tenant_id, mailboxes.c.id == mailbox_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"mailbox {mailbox_id} not found")
    return dict(row)


def _mail(session, tenant_id, mail_id, for_update=False) -> dict:
    stmt = select(mail_messages).where(mail_messages.c.tenant_id == tenant_id, mail_messages.c.id == mail_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.execute(stmt).mappings().first()
    if row is None:
        raise NotFound(f"mail {mail_id} not found")
    return dict(row)


def _status(session, mailbox: dict) -> dict:
    found = session.execute(select(mailbox_sync_status).where(
        mailbox_sync_status.c.mailbox_id == mailbox["id"])).mappings().first()
    status = dict(found) if found else {"connected": False, "mode": None, "last_sync_at": None, "last_error": None,
                                        "last_error_at": None, "backlog": 0}
    if mailbox["paused"] or not mailbox["enabled"]:
        status["connected"] = False  # whatever the loop last said, it is not syncing now
    return shapes.doc({**status, "mailbox_id": mailbox["id"], "enabled": mailbox["enabled"],
                       "paused": mailbox["paused"], "folders": list(mailbox["folders"] or [])}, STATUS_FIELDS)

