"""report read models: projects, task facts, time facts, customers' tiers, SLA timers; the tenant's
week start and status rules; ticket priority

Revision ID: 0004a
Revises: 0003
Create Date: 2026-12-01 16:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004a'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('tenant_settings', sa.Column('week_start', sa.String(length=10), server_default='monday',
                                               nullable=False))
    op.add_column('tenant_settings', sa.Column('status_rules', postgresql.JSONB(astext_type=sa.Text()),
                                               nullable=True))
    op.add_column('ticket_facts', sa.Column('priority', sa.String(length=20), nullable=True))
    op.add_column('ticket_facts', sa.Column('priority_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'report_projects',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('project_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('name', sa.String(length=300), server_default='', nullable=False),
        sa.Column('name_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('name_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'project_id', name=op.f('pk_report_projects')),
    )
    op.create_table(
        'task_facts',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('task_id', sa.UUID(), nullable=False),
        sa.Column('project_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('milestone', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('plan_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('plan_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reopened_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'task_id', name=op.f('pk_task_facts')),
    )
    op.create_index('ix_task_facts_completed', 'task_facts', ['tenant_id', 'completed_at'], unique=False)
    op.create_index('ix_task_facts_project', 'task_facts', ['tenant_id', 'project_id'], unique=False)
    op.create_table(
        'time_facts',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('entry_id', sa.UUID(), nullable=False),
        sa.Column('member_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('project_id', sa.UUID(), nullable=True),
        sa.Column('category', sa.String(length=100), nullable=True),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('billable', sa.Boolean(), nullable=False),
        sa.Column('work_date', sa.Date(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('deleted', sa.Boolean(), server_default='false', nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'entry_id', name=op.f('pk_time_facts')),
    )
    op.create_index('ix_time_facts_work_date', 'time_facts', ['tenant_id', 'work_date'], unique=False)
    op.create_table(
        'report_customers',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('name', sa.String(length=300), server_default='', nullable=False),
        sa.Column('tier', sa.String(length=20), nullable=True),
        sa.Column('tier_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('tier_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'customer_id', name=op.f('pk_report_customers')),
    )
    op.create_table(
        'sla_timers',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('ticket_id', sa.UUID(), nullable=False),
        sa.Column('timer', sa.String(length=20), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
        sa.Column('target_minutes', sa.Integer(), nullable=True),
        sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'ticket_id', 'timer', name=op.f('pk_sla_timers')),
    )
    op.create_index('ix_sla_timers_breached', 'sla_timers', ['tenant_id', 'breached_at'], unique=False)
    op.create_index('ix_sla_timers_met', 'sla_timers', ['tenant_id', 'met_at'], unique=False)


def downgrade():
    op.drop_index('ix_sla_timers_met', table_name='sla_timers')
    op.drop_index('ix_sla_timers_breached', table_name='sla_timers')
    op.drop_table('sla_timers')
    op.drop_table('report_customers')
    op.drop_index('ix_time_facts_work_date', table_name='time_facts')
    op.drop_table('time_facts')
    op.drop_index('ix_task_facts_project', table_name='task_facts')
    op.drop_index('ix_task_facts_completed', table_name='task_facts')
    op.drop_table('task_facts')
    op.drop_table('report_projects')
    op.drop_column('ticket_facts', 'priority_at')
    op.drop_column('ticket_facts', 'priority')
    op.drop_column('tenant_settings', 'status_rules')
    op.drop_column('tenant_settings', 'week_start')
