"""Tables of mailsync's outbound mail (issue 8, `mailsync.outbound`): one row per public reply."""
from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from mailsync.models import metadata

# One row per reply or survey mail (`id` = the ticket message id: the idempotency key of the send), claimed before
# each SMTP transaction. status: queued -> sending -> sent | failed (| bounced later); suppressed:
# the loop guard refused an automatic mail. `internet_message_id` is the same on every attempt.
outbound_mails = Table(
    "outbound_mails",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),  # the ticket.replied (survey.requested) that queued it
    Column("ticket_id", UUID(as_uuid=True), nullable=False),
    Column("mailbox_id", UUID(as_uuid=True)),
    Column("internet_message_id", String(998), nullable=False),
    Column("from_address", String(320)),
    Column("to_addresses", ARRAY(String(320)), nullable=False, server_default=text("'{}'")),
    Column("cc_addresses", ARRAY(String(320)), nullable=False, server_default=text("'{}'")),
    Column("subject", String(998), nullable=False),
    Column("body", Text, nullable=False),
    Column("in_reply_to", String(998)),
    Column("mail_references", ARRAY(String(998)), nullable=False, server_default=text("'{}'")),
    Column("automatic", Boolean, nullable=False, server_default=text("false")),
    # reply (a ticket's public reply, `id` = its ticket message id) | survey (the satisfaction survey
    # of a resolved ticket, `id` = the survey link's id; `mailsync.survey_mail`, migration 0005h9)
    Column("kind", String(12), nullable=False, server_default="reply"),
    Column("html_body", Text),  # an HTML alternative of `body`, when the mail has one
    Column("status", String(12), nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("claimed_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
)
Index("uq_outbound_mails_message_id", outbound_mails.c.tenant_id, outbound_mails.c.internet_message_id, unique=True)
Index("ix_outbound_mails_due", outbound_mails.c.next_attempt_at,
      postgresql_where=text("status IN ('queued', 'sending')"))
# the loop guard counts automatic mails to a recipient in the last hour
Index("ix_outbound_mails_automatic", outbound_mails.c.tenant_id, outbound_mails.c.created_at,
      postgresql_where=text("automatic"))
