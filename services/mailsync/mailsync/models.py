"""Tables the mailsync service owns."""
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, DateTime, Index, Integer, LargeBinary,
                        String, Table, Text, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

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
    # Fernet token (see secrets_box.py); the plaintext never reaches the database. Null when the
    # mailbox logs in with OAuth2 (migration 0003h4, `mailsync.mail_auth`).
    Column("password_encrypted", LargeBinary),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    # intake (migration 0002a): the folders to watch, and paused (a paused or disabled mailbox is not
    # synced; its folder state is kept, so resuming continues where it stopped)
    Column("folders", ARRAY(String(200)), nullable=False, server_default=text("'{INBOX}'")),
    Column("paused", Boolean, nullable=False, server_default=text("false")),
    # login and TLS (migration 0003h4, `mailsync.mail_auth`): password | oauth2; for OAuth2 the
    # provider preset, client id, token endpoint and scope in clear, the client secret and refresh
    # token in `oauth2_encrypted` (one Fernet token of a JSON object). IMAP STARTTLS when not
    # `imap_tls`; the server's certificate checked against `tls_ca_pem` (else the system's CAs)
    # unless `tls_verify` is off (IMAP and SMTP alike).
    Column("auth_type", String(10), nullable=False, server_default="password"),
    Column("oauth2_provider", String(20)),
    Column("oauth2_client_id", String(500)),
    Column("oauth2_token_url", String(2000)),
    Column("oauth2_scope", String(1000)),
    Column("oauth2_encrypted", LargeBinary),
    Column("imap_starttls", Boolean, nullable=False, server_default=text("false")),
    Column("tls_verify", Boolean, nullable=False, server_default=text("true")),
    Column("tls_ca_pem", Text),
    # the addresses it receives for besides `email` (aliases, plus-addresses; lower-cased; migration
    # 0004h3, `mailsync.intake.OurAddresses`): which recipients are us, our own mail come back, and
    # where mail arriving at a shared catch-all belongs
    Column("addresses", ARRAY(String(320)), nullable=False, server_default=text("'{}'")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("imap_port BETWEEN 1 AND 65535", name="imap_port_range"),
    CheckConstraint("smtp_port BETWEEN 1 AND 65535", name="smtp_port_range"),
    CheckConstraint("auth_type IN ('password', 'oauth2')", name="auth_type_known"),
    CheckConstraint("(auth_type = 'password' AND password_encrypted IS NOT NULL) OR "
                    "(auth_type = 'oauth2' AND oauth2_encrypted IS NOT NULL "
                    "AND oauth2_token_url IS NOT NULL AND oauth2_client_id IS NOT NULL)", name="auth_secret_present"),
)
UNIQUE_EMAIL = "uq_mailboxes_tenant_email"
Index(UNIQUE_EMAIL, mailboxes.c.tenant_id, mailboxes.c.email, unique=True)
Index("ix_mailboxes_tenant_created", mailboxes.c.tenant_id, mailboxes.c.created_at, mailboxes.c.id)

# --- mail intake (issue 8, `mailsync.imap_sync`) ------------------------------------------------------

# Content-addressed bytes (DESIGN §3.7): raw messages and attachments, per tenant (so a tenant's data
# never answers for another's), read and written only through `mailsync.blob_store`.
blobs = Table(
    "blobs",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per message a mailbox took in (its first sighting: folder, UIDVALIDITY, UID), deduplicated
# by `dedupe_key` (the Message-ID, else sha256 of the raw bytes) per mailbox. status:
#   imported     parsed, the sender matched a customer, mail.received told
#   unassigned   parsed, no customer matched: waits in the unassigned queue for a member
#   quarantined  could not be parsed: raw bytes kept for admins, nothing told
# `oversized` (over the size limit: raw stored, headers only parsed) goes with imported/unassigned.
# `received` holds the mail.received payload minus the customer fields, so an assignment tells it later.
mail_messages = Table(
    "mail_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("mailbox_id", UUID(as_uuid=True), nullable=False),
    Column("folder", String(200), nullable=False),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("dedupe_key", String(1000), nullable=False),
    Column("internet_message_id", Text),
    Column("raw_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("oversized", Boolean, nullable=False, server_default=text("false")),
    Column("subject", Text, nullable=False, server_default=""),
    Column("sender_email", String(320)),
    Column("sender_name", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("received", JSONB),
    Column("customer_id", UUID(as_uuid=True)),
    Column("contact_id", UUID(as_uuid=True)),
    Column("contact_is_new", Boolean, nullable=False, server_default=text("false")),
    Column("quarantine_reason", Text),
    Column("assigned_by", UUID(as_uuid=True)),
    Column("assigned_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('imported', 'unassigned', 'quarantined')", name="status_known"),
)
UNIQUE_DEDUPE = "uq_mail_messages_mailbox_dedupe"
Index(UNIQUE_DEDUPE, mail_messages.c.tenant_id, mail_messages.c.mailbox_id, mail_messages.c.dedupe_key, unique=True)
# the unassigned queue and the quarantine list, newest first, per tenant
Index("ix_mail_messages_tenant_status", mail_messages.c.tenant_id, mail_messages.c.status,
      mail_messages.c.created_at, mail_messages.c.id)

# Where a mailbox's folder stands: the UIDVALIDITY it was read under and the highest UID committed.
# Advanced in the transaction that stores the messages, so a restart resumes after the last commit.
mail_folder_states = Table(
    "mail_folder_states",
    metadata,
    Column("mailbox_id", UUID(as_uuid=True), primary_key=True),
    Column("folder", String(200), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What a mailbox's sync loop last reported (for the status command): connected, IDLE or polling,
# the last successful sync, the last error and how many messages wait on the server.
mailbox_sync_status = Table(
    "mailbox_sync_status",
    metadata,
    Column("mailbox_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("connected", Boolean, nullable=False, server_default=text("false")),
    Column("mode", String(10)),  # idle | poll
    Column("last_sync_at", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("last_error_at", DateTime(timezone=True)),
    Column("backlog", Integer, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Which mailsync instance syncs a mailbox: a lease renewed while it runs; another instance takes it
# over only once it expired (a crashed holder stops renewing), so two never sync the same mailbox.
mailbox_leases = Table(
    "mailbox_leases",
    metadata,
    Column("mailbox_id", UUID(as_uuid=True), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
