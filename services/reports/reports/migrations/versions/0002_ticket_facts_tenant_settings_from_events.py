"""ticket facts (one row per ticket) replace the weekly counters; tenant settings come from events

The weekly counters counted moves into a status, not tickets, and cannot be turned back into
per-ticket facts: they are dropped, and the ticket-volume report starts from the events that
arrive after this upgrade.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ticket_facts',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('ticket_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=30), nullable=True),
        sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'ticket_id', name=op.f('pk_ticket_facts')),
    )
    op.create_index('ix_ticket_facts_created', 'ticket_facts', ['tenant_id', 'created_at'], unique=False)
    op.create_index('ix_ticket_facts_resolved', 'ticket_facts', ['tenant_id', 'resolved_at'], unique=False)
    op.create_index('ix_ticket_facts_closed', 'ticket_facts', ['tenant_id', 'closed_at'], unique=False)
    op.drop_table('ticket_volume_weekly')
    # rows written by the old reports.update_settings: any tenant event (settings_at NULL) replaces them
    op.add_column('tenant_settings', sa.Column('settings_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('tenant_settings', sa.Column('settings_seq', sa.BigInteger(), server_default='0', nullable=False))


def downgrade():
    op.drop_column('tenant_settings', 'settings_seq')
    op.drop_column('tenant_settings', 'settings_at')
    op.create_table(
        'ticket_volume_weekly',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('iso_year', sa.Integer(), nullable=False),
        sa.Column('iso_week', sa.Integer(), nullable=False),
        sa.Column('week_start', sa.Date(), nullable=False),
        sa.Column('created_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('resolved_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('closed_count', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'customer_id', 'iso_year', 'iso_week',
                                name=op.f('pk_ticket_volume_weekly')),
    )
    op.drop_index('ix_ticket_facts_closed', table_name='ticket_facts')
    op.drop_index('ix_ticket_facts_resolved', table_name='ticket_facts')
    op.drop_index('ix_ticket_facts_created', table_name='ticket_facts')
    op.drop_table('ticket_facts')
