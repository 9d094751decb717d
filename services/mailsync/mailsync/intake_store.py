"""Intake's writes and reads: a batch of fetched messages stored, deduplicated and told in one
transaction with the folder's new position; folder state, mailbox status and leases.

One transaction per batch holds: each new message's row (unique per mailbox on its dedupe key: a
message seen again — a restart, a UIDVALIDITY change, another instance — inserts nothing and tells
nothing), its raw bytes and attachments as blobs, its `mail.received` in the outbox when the customer
is known, and the folder's `last_uid`. It commits only while this instance still holds the mailbox's
lease (checked in the transaction), so a holder that lost its lease cannot write behind its successor.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from datetime import datetime, timedelta, timezone

from psycopg.types.json import Jsonb
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops import outbox
from mailsync import intake, outbound
from mailsync.blob_store import BlobStore
from mailsync.models import mail_folder_states, mail_messages, mailbox_leases, mailbox_sync_status, mailboxes


class LeaseLost(Exception):
    """Another instance holds the mailbox now: stop syncing it, write nothing."""


@dataclass
class Incoming:
    """One fetched message, parsed (or not) and matched, ready to store."""
    uid: int
    raw: bytes
    raw_sha256: str
    received_at: datetime
    dedupe_key: str
    status: str
    row: dict  # parsed columns (subject, sender, ...) or the quarantine reason
    received: dict | None  # mail.received data minus the customer (None when quarantined)
    attachments: list[tuple[str, bytes]]  # (sha256, bytes)
    match: intake.Match | None


def store_batch(session: Session, blobs: BlobStore, *, tenant_id, mailbox_id, holder: str, folder: str,
                uidvalidity: int, messages: list[Incoming], last_uid: int) -> int:
    """Store `messages` and move the folder to `last_uid`; the number of messages new to us.

    A handful of statements per batch, not a few per message (one multi-row INSERT each for the
    messages, their blobs and their events): on a loaded machine a round trip costs milliseconds."""
    _hold_lease(session, mailbox_id, holder)
    unique: dict[str, Incoming] = {}
    for m in messages:
        unique.setdefault(m.dedupe_key, m)  # the same message twice in one batch: once
    rows = [_row(m, tenant_id, mailbox_id, folder, uidvalidity) for m in unique.values()]
    inserted = _insert_messages(session, rows) if rows else set()
    new = [m for key, m in unique.items() if key in inserted]  # seen before: stored once, told once
    contents: dict[str, bytes] = {}
    for m in new:
        contents.setdefault(m.raw_sha256, m.raw)
        for sha256, data in m.attachments:
            contents.setdefault(sha256, data)
    blobs.put_many(session, tenant_id, contents)
    outbox.add_many(session, [(tenant_id, intake.told(m.received, m.match)) for m in new
                              if m.status == intake.IMPORTED])
    for m in new:  # whoever sent it: a bounce mostly comes from a daemon that is nobody's contact
        if m.received and m.received.get("automatic") == "bounce" and m.received.get("bounced_message_id"):
            outbound.record_bounce(session, tenant_id, SimpleNamespace(**m.received))
    advance_folder(session, tenant_id, mailbox_id, folder, uidvalidity, last_uid)
    return len(new)


_INSERT_MESSAGES = insert(mail_messages).on_conflict_do_nothing(
    index_elements=[mail_messages.c.tenant_id, mail_messages.c.mailbox_id, mail_messages.c.dedupe_key]
).returning(mail_messages.c.dedupe_key)
_ROW_COLUMNS = ("id", "tenant_id", "mailbox_id", "folder", "uidvalidity", "uid", "dedupe_key", "raw_sha256", "size",
                "status", "received_at", "received", "customer_id", "contact_id", "contact_is_new",
                "internet_message_id", "subject", "sender_email", "sender_name", "sent_at", "oversized",
                "quarantine_reason")


@functools.cache
def _insert_messages_sql(dialect) -> str:
    return str(_INSERT_MESSAGES.compile(dialect=dialect, column_keys=list(_ROW_COLUMNS)))


def _insert_messages(session: Session, rows: list[dict]) -> set[str]:
    """The rows inserted as one pipelined executemany of one short statement, prepared by the server
    (SQLAlchemy's multi-row INSERT is a new statement text per batch, which psycopg converts anew:
    a quarter of the cost of storing a batch); the dedupe keys of the rows new to us."""
    sql = _insert_messages_sql(session.get_bind().dialect)
    params = [{**row, "received": Jsonb(row["received"]) if row["received"] is not None else None} for row in rows]
    inserted: set[str] = set()
    with session.connection().connection.driver_connection.cursor() as cursor:
        cursor.executemany(sql, params, returning=True)
        while True:
            inserted.update(key for (key,) in cursor.fetchall())
            if not cursor.nextset():
                break
    return inserted


def _row(m: Incoming, tenant_id, mailbox_id, folder: str, uidvalidity: int) -> dict:
    # every row names every column: one multi-row INSERT takes rows of one shape
    values = {"internet_message_id": None, "subject": "", "sender_email": None, "sender_name": None,
              "sent_at": None, "oversized": False, "quarantine_reason": None, **m.row}
    return {"id": uuid.UUID(m.received["mail_id"]) if m.received else uuid.uuid4(), "tenant_id": tenant_id,
            "mailbox_id": mailbox_id, "folder": folder, "uidvalidity": uidvalidity, "uid": m.uid,
            "dedupe_key": m.dedupe_key, "raw_sha256": m.raw_sha256, "size": len(m.raw), "status": m.status,
            "received_at": m.received_at, "received": m.received,
            "customer_id": m.match.customer_id if m.match else None,
            "contact_id": m.match.contact_id if m.match else None,
            "contact_is_new": m.match.contact_is_new if m.match else False, **values}


def advance_folder(session: Session, tenant_id, mailbox_id, folder: str, uidvalidity: int, last_uid: int) -> None:
    stmt = insert(mail_folder_states).values(mailbox_id=mailbox_id, folder=folder, tenant_id=tenant_id,
                                             uidvalidity=uidvalidity, last_uid=last_uid)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[mail_folder_states.c.mailbox_id, mail_folder_states.c.folder],
        set_={"uidvalidity": uidvalidity, "last_uid": last_uid, "updated_at": func.now()}))


def folder_state(session: Session, mailbox_id, folder: str) -> tuple[int, int] | None:
    """(uidvalidity, last_uid) the folder was last read under, or None (never read)."""
    row = session.execute(select(mail_folder_states.c.uidvalidity, mail_folder_states.c.last_uid).where(
        mail_folder_states.c.mailbox_id == mailbox_id, mail_folder_states.c.folder == folder)).first()
    return (row.uidvalidity, row.last_uid) if row else None


def report_status(session: Session, tenant_id, mailbox_id, **values) -> None:
    values["updated_at"] = func.now()
    stmt = insert(mailbox_sync_status).values(mailbox_id=mailbox_id, tenant_id=tenant_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=[mailbox_sync_status.c.mailbox_id], set_=values))


def syncable(session: Session) -> list[dict]:
    """Every mailbox intake should be syncing now (enabled and not paused)."""
    rows = session.execute(select(mailboxes.c.id, mailboxes.c.tenant_id).where(
        mailboxes.c.enabled.is_(True), mailboxes.c.paused.is_(False))).mappings().all()
    return [dict(r) for r in rows]


# --- leases -------------------------------------------------------------------------------------------

def acquire_lease(session: Session, mailbox_id, holder: str, seconds: float) -> bool:
    """Take the mailbox's lease if nobody holds it or its holder's expired (or it is ours already)."""
    expires = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    stmt = insert(mailbox_leases).values(mailbox_id=mailbox_id, holder=holder, expires_at=expires)
    stmt = stmt.on_conflict_do_update(
        index_elements=[mailbox_leases.c.mailbox_id], set_={"holder": holder, "expires_at": expires},
        where=(mailbox_leases.c.expires_at < func.now()) | (mailbox_leases.c.holder == holder))
    return session.execute(stmt.returning(mailbox_leases.c.holder)).scalar() == holder


def renew_leases(session: Session, holder: str, seconds: float) -> set[uuid.UUID]:
    """Extend every lease `holder` still has; the mailboxes it holds."""
    rows = session.execute(update(mailbox_leases).where(mailbox_leases.c.holder == holder)
                           .values(expires_at=func.now() + text(f"interval '{float(seconds)} seconds'"))
                           .returning(mailbox_leases.c.mailbox_id)).scalars()
    return set(rows)


def release_lease(session: Session, mailbox_id, holder: str) -> None:
    session.execute(delete(mailbox_leases).where(mailbox_leases.c.mailbox_id == mailbox_id,
                                                 mailbox_leases.c.holder == holder))


def release_leases(session: Session, holder: str) -> None:
    session.execute(delete(mailbox_leases).where(mailbox_leases.c.holder == holder))


def _hold_lease(session: Session, mailbox_id, holder: str) -> None:
    held = session.execute(select(mailbox_leases.c.holder).where(
        mailbox_leases.c.mailbox_id == mailbox_id, mailbox_leases.c.holder == holder,
        mailbox_leases.c.expires_at > func.now()).with_for_update()).scalar()
    if held is None:
        raise LeaseLost(f"mailbox {mailbox_id}: lease no longer held by {holder}")
