"""outbound mail: one row per public reply, claimed before each SMTP transaction

Revision ID: 0002b
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002b'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbound_mails',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('ticket_id', sa.UUID(), nullable=False),
    sa.Column('mailbox_id', sa.UUID(), nullable=True),
    sa.Column('internet_message_id', sa.String(length=998), nullable=False),
    sa.Column('from_address', sa.String(length=320), nullable=True),
    sa.Column('to_addresses', postgresql.ARRAY(sa.String(length=320)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('cc_addresses', postgresql.ARRAY(sa.String(length=320)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('in_reply_to', sa.String(length=998), nullable=True),
    sa.Column('mail_references', postgresql.ARRAY(sa.String(length=998)), server_default=sa.text("'{}'"),
              nullable=False),
    sa.Column('automatic', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('status', sa.String(length=12), server_default='queued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_mails'))
    )
    op.create_index('uq_outbound_mails_message_id', 'outbound_mails', ['tenant_id', 'internet_message_id'], unique=True)
    op.create_index('ix_outbound_mails_due', 'outbound_mails', ['next_attempt_at'], unique=False,
                    postgresql_where=sa.text("status IN ('queued', 'sending')"))
    op.create_index('ix_outbound_mails_automatic', 'outbound_mails', ['tenant_id', 'created_at'], unique=False,
                    postgresql_where=sa.text('automatic'))


def downgrade():
    op.drop_index('ix_outbound_mails_automatic', table_name='outbound_mails')
    op.drop_index('ix_outbound_mails_due', table_name='outbound_mails')
    op.drop_index('uq_outbound_mails_message_id', table_name='outbound_mails')
    op.drop_table('outbound_mails')
