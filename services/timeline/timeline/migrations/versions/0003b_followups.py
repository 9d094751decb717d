"""follow-ups, their postponements, and the copies they need (members' timezones, business calendar)

Revision ID: 0003b
Revises: 0002
Create Date: 2026-12-01 16:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003b'
down_revision = '0002'
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        'followups',
        sa.Column('id', UUID, primary_key=True),
        sa.Column('tenant_id', UUID, nullable=False),
        sa.Column('customer_id', UUID, nullable=False),
        sa.Column('subject_type', sa.String(20)),
        sa.Column('subject_id', UUID),
        sa.Column('assignee_id', UUID, nullable=False),
        sa.Column('created_by', UUID),
        sa.Column('note', sa.Text, nullable=False),
        sa.Column('due_at', TS, nullable=False),
        sa.Column('grace_minutes', sa.Integer, nullable=False),
        sa.Column('overdue_at', TS, nullable=False),
        sa.Column('status', sa.String(20), nullable=False, server_default='open'),
        sa.Column('postponements', sa.Integer, nullable=False, server_default='0'),
        sa.Column('due_raised_at', TS),
        sa.Column('overdue_raised_at', TS),
        sa.Column('resolution', sa.Text),
        sa.Column('completed_at', TS),
        sa.Column('completed_by', UUID),
        sa.Column('cancel_reason', sa.Text),
        sa.Column('cancelled_at', TS),
        sa.Column('created_at', TS, nullable=False, server_default=sa.func.now()),
        sa.Column('updated_at', TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_index('ix_followups_due_pending', 'followups', ['due_at'],
                    postgresql_where=sa.text("status = 'open' AND due_raised_at IS NULL"))
    op.create_index('ix_followups_overdue_pending', 'followups', ['overdue_at'],
                    postgresql_where=sa.text("status = 'open' AND overdue_raised_at IS NULL"))
    op.create_index('ix_followups_tenant_assignee_due', 'followups', ['tenant_id', 'assignee_id', 'due_at'])
    op.create_index('ix_followups_tenant_customer_due', 'followups', ['tenant_id', 'customer_id', 'due_at'])
    op.create_index('ix_followups_tenant_due', 'followups', ['tenant_id', 'due_at'])
    op.create_table(
        'followup_postponements',
        sa.Column('id', UUID, primary_key=True),
        sa.Column('followup_id', UUID, sa.ForeignKey('followups.id'), nullable=False),
        sa.Column('tenant_id', UUID, nullable=False),
        sa.Column('previous_due_at', TS, nullable=False),
        sa.Column('due_at', TS, nullable=False),
        sa.Column('preset', sa.String(30)),
        sa.Column('reason', sa.Text),
        sa.Column('postponed_by', UUID),
        sa.Column('postponed_at', TS, nullable=False),
    )
    op.create_index('ix_followup_postponements_followup_id', 'followup_postponements', ['followup_id'])
    op.create_table(
        'directory_members',
        sa.Column('tenant_id', UUID, primary_key=True),
        sa.Column('member_id', UUID, primary_key=True),
        sa.Column('timezone', sa.String(64)),
        sa.Column('timezone_as_of', TS),
        sa.Column('active', sa.Boolean),
        sa.Column('active_as_of', TS),
        sa.Column('portal', sa.Boolean, nullable=False, server_default='false'),
    )
    op.create_table(
        'business_calendars',
        sa.Column('tenant_id', UUID, primary_key=True),
        sa.Column('fields', postgresql.JSONB, nullable=False, server_default='{}'),
        sa.Column('versions', postgresql.JSONB, nullable=False, server_default='{}'),
    )


def downgrade():
    op.drop_table('business_calendars')
    op.drop_table('directory_members')
    op.drop_table('followup_postponements')
    op.drop_table('followups')
