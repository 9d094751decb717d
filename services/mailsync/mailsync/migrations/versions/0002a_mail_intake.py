"""mail intake: blobs, stored messages, folder sync state, mailbox status and leases; folders, paused

Revision ID: 0002a
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002a'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('mailboxes', sa.Column('folders', postgresql.ARRAY(sa.String(length=200)),
                                         server_default=sa.text("'{INBOX}'"), nullable=False))
    op.add_column('mailboxes', sa.Column('paused', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.create_table('blobs',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'sha256', name=op.f('pk_blobs'))
    )
    op.create_table('mail_messages',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('mailbox_id', sa.UUID(), nullable=False),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=1000), nullable=False),
    sa.Column('internet_message_id', sa.Text(), nullable=True),
    sa.Column('raw_sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('oversized', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('sender_email', sa.String(length=320), nullable=True),
    sa.Column('sender_name', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('customer_id', sa.UUID(), nullable=True),
    sa.Column('contact_id', sa.UUID(), nullable=True),
    sa.Column('contact_is_new', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('quarantine_reason', sa.Text(), nullable=True),
    sa.Column('assigned_by', sa.UUID(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('imported', 'unassigned', 'quarantined')", name=op.f('ck_mail_messages_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages'))
    )
    op.create_index('uq_mail_messages_mailbox_dedupe', 'mail_messages', ['tenant_id', 'mailbox_id', 'dedupe_key'],
                    unique=True)
    op.create_index('ix_mail_messages_tenant_status', 'mail_messages', ['tenant_id', 'status', 'created_at', 'id'],
                    unique=False)
    op.create_table('mail_folder_states',
    sa.Column('mailbox_id', sa.UUID(), nullable=False),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('last_uid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('mailbox_id', 'folder', name=op.f('pk_mail_folder_states'))
    )
    op.create_table('mailbox_sync_status',
    sa.Column('mailbox_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('connected', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('mode', sa.String(length=10), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('backlog', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('mailbox_id', name=op.f('pk_mailbox_sync_status'))
    )
    op.create_table('mailbox_leases',
    sa.Column('mailbox_id', sa.UUID(), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('mailbox_id', name=op.f('pk_mailbox_leases'))
    )


def downgrade():
    op.drop_table('mailbox_leases')
    op.drop_table('mailbox_sync_status')
    op.drop_table('mail_folder_states')
    op.drop_index('ix_mail_messages_tenant_status', table_name='mail_messages')
    op.drop_index('uq_mail_messages_mailbox_dedupe', table_name='mail_messages')
    op.drop_table('mail_messages')
    op.drop_table('blobs')
    op.drop_column('mailboxes', 'paused')
    op.drop_column('mailboxes', 'folders')
