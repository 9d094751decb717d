"""Tables the mailsync service owns."""
from sqlalchemy import (Boolean, CheckConstraint, Column, DateTime, Index, Integer, LargeBinary, String,
                        Table, func)
from sqlalchemy.dialects.postgresql import UUID

from custops.db import service_metadata

metadata = service_metadata()

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),  # stored lower-cased: unique regardless of case
    Column("imap_host", String(253), nullable=False),
    Column("imap_port", Integer, nullable=False),
    Column("imap_tls", Boolean, nullable=False),
    Column("smtp_host", String(253), nullable=False),
    Column("smtp_port", Integer, nullable=False),
    Column("smtp_starttls", Boolean, nullable=False),
    Column("username", String(320), nullable=False),
    # Fernet token (see secrets_box.py); the plaintext never reaches the database
    Column("password_encrypted", LargeBinary, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("imap_port BETWEEN 1 AND 65535", name="imap_port_range"),
    CheckConstraint("smtp_port BETWEEN 1 AND 65535", name="smtp_port_range"),
)
UNIQUE_EMAIL = "uq_mailboxes_tenant_email"
Index(UNIQUE_EMAIL, mailboxes.c.tenant_id, mailboxes.c.email, unique=True)
Index("ix_mailboxes_tenant_created", mailboxes.c.tenant_id, mailboxes.c.created_at, mailboxes.c.id)
