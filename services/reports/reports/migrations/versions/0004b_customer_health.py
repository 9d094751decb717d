"""customer health: per-customer signal state (tickets, SLA breaches, interactions per day,
onboarding milestones, overdue invoices, start date, last human touch), the tenant's health
settings, the daily score history and the state last told

Revision ID: 0004b
Revises: 0003
Create Date: 2026-12-01 16:40:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004b'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'health_customers',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=True),
        sa.Column('last_human_touch_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_sponsor_touch_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('told_state', sa.String(length=20), nullable=True),
        sa.Column('told_score', sa.Integer(), nullable=True),
        sa.Column('told_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'customer_id', name=op.f('pk_health_customers')),
    )
    op.create_table(
        'health_tickets',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('ticket_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('is_open', sa.Boolean(), server_default='true', nullable=False),
        sa.Column('moved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('moved_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'ticket_id', name=op.f('pk_health_tickets')),
    )
    op.create_index('ix_health_tickets_customer', 'health_tickets', ['tenant_id', 'customer_id'])
    op.create_table(
        'health_sla_breaches',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('ticket_id', sa.UUID(), nullable=False),
        sa.Column('timer', sa.String(length=20), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('breached_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'ticket_id', 'timer', name=op.f('pk_health_sla_breaches')),
    )
    op.create_index('ix_health_sla_breaches_customer', 'health_sla_breaches',
                    ['tenant_id', 'customer_id', 'breached_at'])
    op.create_table(
        'health_interactions',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'customer_id', 'day', name=op.f('pk_health_interactions')),
    )
    op.create_table(
        'health_milestones',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('task_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('milestone', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('plan_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('plan_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reopened_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('deleted', sa.Boolean(), server_default='false', nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'task_id', name=op.f('pk_health_milestones')),
    )
    op.create_index('ix_health_milestones_customer', 'health_milestones', ['tenant_id', 'customer_id'])
    op.create_table(
        'health_invoices',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('invoice_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'invoice_id', name=op.f('pk_health_invoices')),
    )
    op.create_index('ix_health_invoices_customer', 'health_invoices', ['tenant_id', 'customer_id'])
    op.create_table(
        'health_settings',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_health_settings')),
    )
    op.create_table(
        'health_scores',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'customer_id', 'day', name=op.f('pk_health_scores')),
    )


def downgrade():
    op.drop_table('health_scores')
    op.drop_table('health_settings')
    op.drop_index('ix_health_invoices_customer', table_name='health_invoices')
    op.drop_table('health_invoices')
    op.drop_index('ix_health_milestones_customer', table_name='health_milestones')
    op.drop_table('health_milestones')
    op.drop_table('health_interactions')
    op.drop_index('ix_health_sla_breaches_customer', table_name='health_sla_breaches')
    op.drop_table('health_sla_breaches')
    op.drop_index('ix_health_tickets_customer', table_name='health_tickets')
    op.drop_table('health_tickets')
    op.drop_table('health_customers')
