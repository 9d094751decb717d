"""forms' ticket rule and portal flag, a submission's ticket and survey ticket, the latest CSAT/NPS
on the customer, satisfaction-survey settings and requests, background import jobs (issue 11)

Revision ID: 0010f
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0010f'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('forms', sa.Column('ticket_rule', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('forms', sa.Column('portal_visible', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('form_links', sa.Column('ticket_id', sa.UUID(), nullable=True))
    op.add_column('form_submissions', sa.Column('ticket_id', sa.UUID(), nullable=True))
    op.add_column('form_submissions', sa.Column('survey_ticket_id', sa.UUID(), nullable=True))
    op.add_column('form_submissions', sa.Column('via', sa.String(length=10), server_default='link', nullable=False))
    op.add_column('customers', sa.Column('latest_csat', sa.Integer(), nullable=True))
    op.add_column('customers', sa.Column('latest_nps', sa.Integer(), nullable=True))
    op.add_column('customers', sa.Column('latest_score_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('survey_settings',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('form_id', sa.UUID(), nullable=True),
    sa.Column('delay_minutes', sa.Integer(), server_default='0', nullable=False),
    sa.Column('expires_in_days', sa.Integer(), server_default='14', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_survey_settings_form_id_forms')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_survey_settings_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_survey_settings'))
    )
    op.create_table('survey_requests',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('ticket_id', sa.UUID(), nullable=False),
    sa.Column('ticket_number', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('contact_id', sa.UUID(), nullable=True),
    sa.Column('form_id', sa.UUID(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('link_id', sa.UUID(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_survey_requests_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_requests'))
    )
    op.create_index('uq_survey_requests_ticket', 'survey_requests', ['tenant_id', 'ticket_id'], unique=True)
    op.create_index('ix_survey_requests_due', 'survey_requests', ['due_at'], unique=False,
                    postgresql_where=sa.text('outcome IS NULL'))
    op.create_table('import_jobs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='queued', nullable=False),
    sa.Column('csv', sa.Text(), nullable=False),
    sa.Column('tool', sa.String(length=20), nullable=True),
    sa.Column('mapping', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('rows_done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created', sa.Integer(), server_default='0', nullable=False),
    sa.Column('skipped', sa.Integer(), server_default='0', nullable=False),
    sa.Column('errors', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_import_jobs_project_id_projects')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_import_jobs_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs'))
    )
    op.create_index('ix_import_jobs_tenant_created', 'import_jobs', ['tenant_id', 'created_at'], unique=False)
    op.create_index('ix_import_jobs_waiting', 'import_jobs', ['created_at'], unique=False,
                    postgresql_where=sa.text("status IN ('queued', 'running')"))


def downgrade():
    op.drop_index('ix_import_jobs_waiting', table_name='import_jobs')
    op.drop_index('ix_import_jobs_tenant_created', table_name='import_jobs')
    op.drop_table('import_jobs')
    op.drop_index('ix_survey_requests_due', table_name='survey_requests')
    op.drop_index('uq_survey_requests_ticket', table_name='survey_requests')
    op.drop_table('survey_requests')
    op.drop_table('survey_settings')
    for table, column in (('customers', 'latest_score_at'), ('customers', 'latest_nps'), ('customers', 'latest_csat'),
                          ('form_submissions', 'via'), ('form_submissions', 'survey_ticket_id'),
                          ('form_submissions', 'ticket_id'), ('form_links', 'ticket_id'),
                          ('forms', 'portal_visible'), ('forms', 'ticket_rule')):
        op.drop_column(table, column)
