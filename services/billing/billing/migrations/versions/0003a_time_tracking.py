"""time tracking (issue 10): entries' category, billability and its source, project/task/activity,
tags, start/end, the approval and invoice locks; time categories, billing defaults per customer and
project, per-tenant time settings, running timers, weekly timesheets and their approvers, and local
copies of the members and tenants (timezones) told by the customers service.

Revision ID: 0003a
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003a'
down_revision = '0002'
branch_labels = None
depends_on = None

BILLABLE_SOURCES = "('entry', 'category', 'project', 'customer')"


def upgrade():
    add = op.add_column
    add('time_entries', sa.Column('category', sa.Text(), nullable=True))
    # the entries logged before 0003a chose `billable` themselves (it defaulted to true in the command)
    add('time_entries', sa.Column('billable_source', sa.Text(), server_default='entry', nullable=False))
    add('time_entries', sa.Column('billable_reason', sa.Text(), nullable=True))
    add('time_entries', sa.Column('project_id', sa.UUID(), nullable=True))
    add('time_entries', sa.Column('task_id', sa.UUID(), nullable=True))
    add('time_entries', sa.Column('activity_id', sa.UUID(), nullable=True))
    add('time_entries', sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False))
    add('time_entries', sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
    add('time_entries', sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    add('time_entries', sa.Column('timer_id', sa.UUID(), nullable=True))
    # why the entry needs a person's confirmation before it can be approved (e.g. 'over_limit': a
    # timer ran past the tenant's limit); null: none needed, or `confirmed_at` says it was given
    add('time_entries', sa.Column('needs_confirmation', sa.Text(), nullable=True))
    add('time_entries', sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))
    add('time_entries', sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))
    add('time_entries', sa.Column('invoice_id', sa.UUID(), nullable=True))
    op.create_check_constraint(op.f('ck_time_entries_billable_source'), 'time_entries', f'billable_source IN {BILLABLE_SOURCES}')
    op.create_check_constraint(op.f('ck_time_entries_start_before_end'), 'time_entries',
                               'started_at IS NULL OR ended_at IS NULL OR started_at < ended_at')
    op.create_index('ix_time_entries_tenant_member_date', 'time_entries', ['tenant_id', 'member_id', 'work_date'])
    op.create_index('ix_time_entries_tenant_project_date', 'time_entries', ['tenant_id', 'project_id', 'work_date'],
                    postgresql_where=sa.text('project_id IS NOT NULL'))
    # what an invoice draft selects: billable, approved, not yet on an invoice
    op.create_index('ix_time_entries_invoiceable', 'time_entries', ['tenant_id', 'customer_id', 'work_date'],
                    postgresql_where=sa.text('billable AND approved_at IS NOT NULL AND invoice_id IS NULL'))

    op.create_table(
        'time_categories',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('billable', sa.Boolean(), nullable=False),
        sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_time_categories')),
        sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_time_categories_tenant_id')),
    )
    op.create_table(
        'billing_defaults',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('level', sa.Text(), nullable=False),  # 'customer' | 'project'
        sa.Column('subject_id', sa.UUID(), nullable=False),
        sa.Column('billable', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("level IN ('customer', 'project')", name=op.f('ck_billing_defaults_level')),
        sa.PrimaryKeyConstraint('tenant_id', 'level', 'subject_id', name=op.f('pk_billing_defaults')),
    )
    op.create_table(
        'time_settings',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('timer_limit_minutes', sa.Integer(), server_default='600', nullable=False),
        sa.Column('idle_stop_minutes', sa.Integer(), nullable=True),  # null: no idle stop
        sa.Column('one_timer_per_member', sa.Boolean(), server_default='true', nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_time_settings')),
    )
    op.create_table(
        'timers',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('member_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('project_id', sa.UUID(), nullable=True),
        sa.Column('ticket_id', sa.UUID(), nullable=True),
        sa.Column('task_id', sa.UUID(), nullable=True),
        sa.Column('activity_id', sa.UUID(), nullable=True),
        sa.Column('category', sa.Text(), nullable=True),
        sa.Column('billable', sa.Boolean(), nullable=True),  # the entry's own choice, if any
        sa.Column('billable_reason', sa.Text(), nullable=True),
        sa.Column('note', sa.Text(), server_default='', nullable=False),
        sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
        sa.Column('state', sa.Text(), nullable=False),  # running | paused | stopped | discarded
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),  # null while paused/over
        sa.Column('elapsed_seconds', sa.Integer(), server_default='0', nullable=False),  # before resumed_at
        sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('stop_reason', sa.Text(), nullable=True),
        sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('entry_id', sa.UUID(), nullable=True),
        sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('running', 'paused', 'stopped', 'discarded')", name=op.f('ck_timers_state')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_timers')),
    )
    op.create_index('ix_timers_live', 'timers', ['tenant_id', 'member_id'],
                    postgresql_where=sa.text("state IN ('running', 'paused')"))
    op.create_index('ix_timers_running', 'timers', ['resumed_at'], postgresql_where=sa.text("state = 'running'"))
    op.create_table(
        'timesheets',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('member_id', sa.UUID(), nullable=False),
        sa.Column('week_start', sa.Date(), nullable=False),
        sa.Column('timezone', sa.Text(), nullable=False),
        sa.Column('status', sa.Text(), server_default='open', nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('submitted_by', sa.UUID(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.UUID(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'submitted', 'approved', 'rejected')",
                           name=op.f('ck_timesheets_status')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_timesheets')),
        sa.UniqueConstraint('tenant_id', 'member_id', 'week_start', name=op.f('uq_timesheets_tenant_id')),
    )
    op.create_table(
        'timesheet_approvers',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('member_id', sa.UUID(), nullable=False),  # whose timesheets
        sa.Column('approver_id', sa.UUID(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'member_id', 'approver_id', name=op.f('pk_timesheet_approvers')),
    )
    op.create_table(
        'directory_members',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('member_id', sa.UUID(), nullable=False),
        sa.Column('role', sa.Text(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=True),
        sa.Column('timezone', sa.Text(), nullable=True),
        sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'member_id', name=op.f('pk_directory_members')),
    )
    op.create_table(
        'directory_tenants',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('timezone', sa.Text(), nullable=False),
        sa.Column('week_start', sa.Text(), server_default='monday', nullable=False),
        sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_directory_tenants')),
    )


def downgrade():
    for table in ('directory_tenants', 'directory_members', 'timesheet_approvers', 'timesheets'):
        op.drop_table(table)
    op.drop_index('ix_timers_running', table_name='timers')
    op.drop_index('ix_timers_live', table_name='timers')
    for table in ('timers', 'time_settings', 'billing_defaults', 'time_categories'):
        op.drop_table(table)
    op.drop_index('ix_time_entries_invoiceable', table_name='time_entries')
    op.drop_index('ix_time_entries_tenant_project_date', table_name='time_entries')
    op.drop_index('ix_time_entries_tenant_member_date', table_name='time_entries')
    op.drop_constraint('ck_time_entries_start_before_end', 'time_entries')
    op.drop_constraint('ck_time_entries_billable_source', 'time_entries')
    for column in ('invoice_id', 'approved_at', 'confirmed_at', 'needs_confirmation', 'timer_id', 'ended_at',
                   'started_at', 'tags', 'activity_id', 'task_id', 'project_id', 'billable_reason',
                   'billable_source', 'category'):
        op.drop_column('time_entries', column)
