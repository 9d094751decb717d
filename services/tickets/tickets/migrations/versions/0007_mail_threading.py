"""mail threading: a message's mail headers, thread reason and delivery; a ticket's mail thread

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('ticket_messages', sa.Column('internet_message_id', sa.String(length=998), nullable=True))
    op.add_column('ticket_messages', sa.Column('mail_references', postgresql.ARRAY(sa.String(length=998)),
                                               server_default=sa.text("'{}'"), nullable=False))
    op.add_column('ticket_messages', sa.Column('mail_id', sa.UUID(), nullable=True))
    op.add_column('ticket_messages', sa.Column('mail_subject', sa.String(length=998), nullable=True))
    op.add_column('ticket_messages', sa.Column('automatic', sa.String(length=20), nullable=True))
    op.add_column('ticket_messages', sa.Column('thread_reason', sa.String(length=30), nullable=True))
    op.add_column('ticket_messages', sa.Column('thread_note', sa.Text(), nullable=True))
    op.add_column('ticket_messages', sa.Column('delivery_status', sa.String(length=20), nullable=True))
    op.add_column('ticket_messages', sa.Column('delivery_error', sa.Text(), nullable=True))
    op.add_column('ticket_messages', sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_ticket_messages_internet_message_id', 'ticket_messages', ['tenant_id', 'internet_message_id'],
                    unique=False, postgresql_where=sa.text('internet_message_id IS NOT NULL'))
    op.create_index('uq_ticket_messages_mail', 'ticket_messages', ['tenant_id', 'mail_id'], unique=True,
                    postgresql_where=sa.text('mail_id IS NOT NULL'))
    op.add_column('tickets', sa.Column('mail_thread', postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade():
    op.drop_column('tickets', 'mail_thread')
    op.drop_index('uq_ticket_messages_mail', table_name='ticket_messages')
    op.drop_index('ix_ticket_messages_internet_message_id', table_name='ticket_messages')
    for column in ('sent_at', 'delivery_error', 'delivery_status', 'thread_note', 'thread_reason', 'automatic',
                   'mail_subject', 'mail_id', 'mail_references', 'internet_message_id'):
        op.drop_column('ticket_messages', column)
