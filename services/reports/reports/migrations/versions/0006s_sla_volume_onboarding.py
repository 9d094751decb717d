"""SLA timers' business minutes and who held the ticket (ticket.sla_met), each timer's outcome and
the instant it counts at (generated); tickets' category, source and assignee; ticket moves (the
backlog at any day); tasks' template step; onboarding plans (issue 12)

Revision ID: 0006s
Revises: 0005r, 0004a
Create Date: 2026-12-01 19:10:00
"""
from alembic import op
import sqlalchemy as sa

# reports.sla_report.outcome, in SQL (copied here: a migration does not change with the code)
_FIRST_RUN_BREACHED = "breached_at IS NOT NULL AND (met_at IS NULL OR breached_at <= met_at)"
_MET_LATE = "met_at IS NOT NULL AND COALESCE(met_late, deadline IS NOT NULL AND met_at > deadline)"
OUTCOME_SQL = (f"CASE WHEN {_FIRST_RUN_BREACHED} THEN 'breached' WHEN {_MET_LATE} THEN 'breached' "
               "WHEN met_at IS NOT NULL THEN 'met' END")
ENDED_AT_SQL = (f"CASE WHEN {_FIRST_RUN_BREACHED} THEN breached_at WHEN {_MET_LATE} THEN COALESCE(deadline, met_at) "
                "ELSE met_at END")

revision = '0006s'
# 0004a (sla_timers, ticket_facts' priority, task_facts) is on a sibling branch of 0005r's (0004b
# follows 0003): this merges the two, so a fresh database runs 0004a first
down_revision = ('0005r', '0004a')
branch_labels = None
depends_on = None


def upgrade():
    for column in (sa.Column('started_at', sa.DateTime(timezone=True)), sa.Column('business_minutes', sa.Float()),
                   sa.Column('met_late', sa.Boolean()), sa.Column('priority', sa.String(20)),
                   sa.Column('tier', sa.String(20)), sa.Column('team_id', sa.UUID()),
                   sa.Column('assignee_id', sa.UUID()),
                   sa.Column('outcome', sa.String(10), sa.Computed(OUTCOME_SQL, persisted=True)),
                   sa.Column('ended_at', sa.DateTime(timezone=True), sa.Computed(ENDED_AT_SQL, persisted=True))):
        op.add_column('sla_timers', column)
    op.create_index('ix_sla_timers_ended', 'sla_timers', ['tenant_id', 'ended_at'])
    for column in (sa.Column('category', sa.String(100)), sa.Column('category_at', sa.DateTime(timezone=True)),
                   sa.Column('source', sa.String(20)), sa.Column('assignee_id', sa.UUID()),
                   sa.Column('team_id', sa.UUID()), sa.Column('assigned_at', sa.DateTime(timezone=True)),
                   sa.Column('assigned_seq', sa.BigInteger(), server_default='0', nullable=False)):
        op.add_column('ticket_facts', column)
    op.create_table(
        'ticket_moves',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('event_id', sa.UUID(), nullable=False),
        sa.Column('ticket_id', sa.UUID(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('delta', sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'event_id', name=op.f('pk_ticket_moves')),
    )
    op.create_index('ix_ticket_moves_at', 'ticket_moves', ['tenant_id', 'at'])
    op.add_column('task_facts', sa.Column('step_key', sa.String(100)))
    op.create_table(
        'onboarding_plans',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('project_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('template_id', sa.UUID()),
        sa.Column('start_date', sa.Date()),
        sa.Column('target_date', sa.Date()),
        sa.Column('first_value_task_id', sa.UUID()),
        sa.Column('plan_at', sa.DateTime(timezone=True)),
        sa.Column('plan_seq', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint('tenant_id', 'project_id', name=op.f('pk_onboarding_plans')),
    )


def downgrade():
    op.drop_table('onboarding_plans')
    op.drop_column('task_facts', 'step_key')
    op.drop_index('ix_ticket_moves_at', table_name='ticket_moves')
    op.drop_table('ticket_moves')
    for name in ('assigned_seq', 'assigned_at', 'team_id', 'assignee_id', 'source', 'category_at', 'category'):
        op.drop_column('ticket_facts', name)
    op.drop_index('ix_sla_timers_ended', table_name='sla_timers')
    for name in ('ended_at', 'outcome', 'assignee_id', 'team_id', 'tier', 'priority', 'met_late', 'business_minutes',
                 'started_at'):
        op.drop_column('sla_timers', name)
