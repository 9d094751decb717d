"""Content-addressed blobs (DESIGN §3.7): raw messages and attachments, named by their SHA-256.

Callers see only `BlobStore`: `put` (idempotent: the same bytes are stored once and named the same)
and `get`, inside the caller's transaction, so a message row and its bytes commit together. The
PostgreSQL store keeps them in mailsync's own database; an S3-compatible store could take its
place behind the same two methods (its `put` then runs before the transaction, which is harmless:
an orphan blob is garbage, never a dangling reference). Blobs are kept per tenant: a hash another
tenant happens to have stored never answers for this one.
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from mailsync.models import blobs


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    def put(self, session: Session, tenant_id: uuid.UUID, data: bytes) -> str: ...

    def put_many(self, session: Session, tenant_id: uuid.UUID, contents: dict[str, bytes]) -> None: ...

    def get(self, session: Session, tenant_id: uuid.UUID, sha256: str) -> bytes | None: ...


class PostgresBlobStore:
    """Blobs in the `blobs` table (bytea)."""

    def put(self, session: Session, tenant_id: uuid.UUID, data: bytes, sha256: str | None = None) -> str:
        digest = sha256 or sha256_of(data)
        session.execute(insert(blobs).values(tenant_id=tenant_id, sha256=digest, size=len(data), content=data)
                        .on_conflict_do_nothing(index_elements=[blobs.c.tenant_id, blobs.c.sha256]))
        return digest

    def put_many(self, session: Session, tenant_id: uuid.UUID, contents: dict[str, bytes]) -> None:
        """`{sha256: bytes}` stored in one statement (the caller computed the hashes)."""
        if contents:
            session.execute(_INSERT_BLOBS, [{"tenant_id": tenant_id, "sha256": digest, "size": len(data),
                                             "content": data} for digest, data in contents.items()])

    def get(self, session: Session, tenant_id: uuid.UUID, sha256: str) -> bytes | None:
        found = session.execute(select(blobs.c.content).where(blobs.c.tenant_id == tenant_id,
                                                              blobs.c.sha256 == sha256)).scalar()
        return bytes(found) if found is not None else None


_INSERT_BLOBS = insert(blobs).on_conflict_do_nothing(index_elements=[blobs.c.tenant_id, blobs.c.sha256])

store: BlobStore = PostgresBlobStore()
