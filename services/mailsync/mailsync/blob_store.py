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

from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
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
        """`{sha256: bytes}` stored (the caller computed the hashes), in the session's transaction.

        The bytes go as a binary parameter (`%b`): as text, bytea is its hex escape — twice the bytes,
        built in Python and copied again into libpq's buffer (a 25 MB message and its attachment
        cost 175 MB). Small blobs go in one pipelined executemany (one round trip); a large one is
        sent by itself, so that only one large blob is in a buffer at a time."""
        if not contents:
            return
        rows = [(tenant_id, digest, len(data), _Content(data)) for digest, data in contents.items()]
        small = [row for row in rows if row[2] < LARGE_BLOB_BYTES]
        cursor = session.connection().connection.driver_connection.cursor()
        cursor.adapters.register_dumper(_Content, _ContentDumper)
        with cursor:
            if small:
                cursor.executemany(_INSERT_BLOB_BINARY, small)
            for row in rows:
                if row[2] >= LARGE_BLOB_BYTES:
                    cursor.execute(_INSERT_BLOB_BINARY, row)

    def get(self, session: Session, tenant_id: uuid.UUID, sha256: str) -> bytes | None:
        found = session.execute(select(blobs.c.content).where(blobs.c.tenant_id == tenant_id,
                                                              blobs.c.sha256 == sha256)).scalar()
        return bytes(found) if found is not None else None


LARGE_BLOB_BYTES = 1024 * 1024


class _Content:
    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data


class _ContentDumper(Dumper):
    """Blob bytes handed to libpq as they are: psycopg's own bytes dumper copies them into a buffer of
    its own first (another 25 MB for a 25 MB message)."""

    format = Format.BINARY
    oid = postgres.types["bytea"].oid

    def dump(self, obj: _Content) -> bytes:
        return obj.data

# the `blobs` table's columns (models.py), the content a binary parameter
_INSERT_BLOB_BINARY = ("INSERT INTO blobs (tenant_id, sha256, size, content) VALUES (%s, %s, %s, %b) "
                       "ON CONFLICT (tenant_id, sha256) DO NOTHING")

store: BlobStore = PostgresBlobStore()
