"""work plan: customer lifecycle, dates, exec sponsor and custom fields; projects, tasks, their
dependencies; onboarding templates (versioned); board settings; the business calendar copy

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 15:40:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('business_calendar_copies',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('open_weekdays', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('holidays', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('always_open', sa.Boolean(), server_default='false', nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_business_calendar_copies'))
    )
    op.create_table('custom_field_definitions',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('required', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_custom_field_definitions_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'key', name=op.f('pk_custom_field_definitions')),
    sa.UniqueConstraint('id', name=op.f('uq_custom_field_definitions_id'))
    )
    op.create_table('onboarding_templates',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_onboarding_templates_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onboarding_templates'))
    )
    op.create_index('ix_onboarding_templates_tenant', 'onboarding_templates', ['tenant_id', 'created_at'], unique=False)
    op.create_table('work_settings',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('project_statuses', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_work_settings_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_work_settings'))
    )
    op.create_table('customer_lifecycle_changes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('previous_stage', sa.String(length=20), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_lifecycle_changes_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_lifecycle_changes'))
    )
    op.create_index('ix_customer_lifecycle_changes_customer', 'customer_lifecycle_changes', ['customer_id', 'changed_at'], unique=False)
    op.create_table('onboarding_template_versions',
    sa.Column('template_id', sa.UUID(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('business_days', sa.Boolean(), nullable=False),
    sa.Column('steps', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['onboarding_templates.id'], name=op.f('fk_onboarding_template_versions_template_id_onboarding_templates')),
    sa.PrimaryKeyConstraint('template_id', 'version', name=op.f('pk_onboarding_template_versions'))
    )
    op.create_table('projects',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=50), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('template_id', sa.UUID(), nullable=True),
    sa.Column('template_version', sa.Integer(), nullable=True),
    sa.Column('business_days', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('portal_shared', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_projects_customer_id_customers')),
    sa.ForeignKeyConstraint(['template_id'], ['onboarding_templates.id'], name=op.f('fk_projects_template_id_onboarding_templates')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_projects_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_index('ix_projects_tenant_customer', 'projects', ['tenant_id', 'customer_id', 'created_at'], unique=False)
    op.create_index('uq_projects_tenant_idempotency_key', 'projects', ['tenant_id', 'idempotency_key'], unique=True, postgresql_where=sa.text('idempotency_key IS NOT NULL'))
    op.create_table('tasks',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.String(length=50), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('assignee_id', sa.UUID(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('milestone', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('weight', sa.Integer(), server_default='1', nullable=False),
    sa.Column('estimate', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('estimate_unit', sa.String(length=10), nullable=True),
    sa.Column('checklist', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('portal_visible', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('step_key', sa.String(length=100), nullable=True),
    sa.Column('step', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("category IN ('todo', 'in_progress', 'blocked', 'done')", name=op.f('ck_tasks_category')),
    sa.CheckConstraint("estimate_unit IN ('hour', 'day')", name=op.f('ck_tasks_estimate_unit')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_tasks_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index('ix_tasks_project_status_position', 'tasks', ['project_id', 'status', 'position'], unique=False)
    op.create_index('ix_tasks_tenant_assignee', 'tasks', ['tenant_id', 'assignee_id'], unique=False)
    op.create_table('task_dependencies',
    sa.Column('task_id', sa.UUID(), nullable=False),
    sa.Column('depends_on_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['depends_on_id'], ['tasks.id'], name=op.f('fk_task_dependencies_depends_on_id_tasks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_dependencies_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'depends_on_id', name=op.f('pk_task_dependencies'))
    )
    op.create_index('ix_task_dependencies_depends_on', 'task_dependencies', ['depends_on_id'], unique=False)
    op.add_column('customers', sa.Column('lifecycle_stage', sa.String(length=20), server_default='onboarding', nullable=False))
    op.add_column('customers', sa.Column('lifecycle_changed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('customers', sa.Column('start_date', sa.Date(), nullable=True))
    op.add_column('customers', sa.Column('renewal_date', sa.Date(), nullable=True))
    op.add_column('customers', sa.Column('exec_sponsor_contact_id', sa.UUID(), nullable=True))
    op.add_column('customers', sa.Column('custom_fields', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False))
    op.create_index('ix_customers_custom_fields', 'customers', ['custom_fields'], unique=False, postgresql_using='gin')
    op.create_foreign_key(op.f('fk_customers_exec_sponsor_contact_id_contacts'), 'customers', 'contacts', ['exec_sponsor_contact_id'], ['id'])
    op.create_check_constraint(op.f('ck_customers_lifecycle_stage'), 'customers',
                               "lifecycle_stage IN ('onboarding', 'active', 'renewal', 'churned')")



def downgrade():
    op.drop_constraint(op.f('ck_customers_lifecycle_stage'), 'customers', type_='check')
    op.drop_constraint(op.f('fk_customers_exec_sponsor_contact_id_contacts'), 'customers', type_='foreignkey')
    op.drop_index('ix_customers_custom_fields', table_name='customers', postgresql_using='gin')
    op.drop_column('customers', 'custom_fields')
    op.drop_column('customers', 'exec_sponsor_contact_id')
    op.drop_column('customers', 'renewal_date')
    op.drop_column('customers', 'start_date')
    op.drop_column('customers', 'lifecycle_changed_at')
    op.drop_column('customers', 'lifecycle_stage')
    op.drop_index('ix_task_dependencies_depends_on', table_name='task_dependencies')
    op.drop_table('task_dependencies')
    op.drop_index('ix_tasks_tenant_assignee', table_name='tasks')
    op.drop_index('ix_tasks_project_status_position', table_name='tasks')
    op.drop_table('tasks')
    op.drop_index('uq_projects_tenant_idempotency_key', table_name='projects', postgresql_where=sa.text('idempotency_key IS NOT NULL'))
    op.drop_index('ix_projects_tenant_customer', table_name='projects')
    op.drop_table('projects')
    op.drop_table('onboarding_template_versions')
    op.drop_index('ix_customer_lifecycle_changes_customer', table_name='customer_lifecycle_changes')
    op.drop_table('customer_lifecycle_changes')
    op.drop_table('work_settings')
    op.drop_index('ix_onboarding_templates_tenant', table_name='onboarding_templates')
    op.drop_table('onboarding_templates')
    op.drop_table('custom_field_definitions')
    op.drop_table('business_calendar_copies')
