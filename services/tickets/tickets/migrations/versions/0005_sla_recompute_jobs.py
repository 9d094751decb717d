"""SLA recompute jobs (a configuration change's recompute runs in the background); settings versions

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # the defaults (no row) are version 1, so a row stored already is the next one
    op.add_column('sla_settings', sa.Column('version', sa.Integer(), server_default='2', nullable=False))
    op.create_table(
        'sla_recompute_jobs',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('seq', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=True),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('calendar_version', sa.Integer(), nullable=False),
        sa.Column('settings_version', sa.Integer(), nullable=False),
        sa.Column('policy_versions', postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column('status', sa.String(length=12), server_default='queued', nullable=False),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('done', sa.Integer(), server_default='0', nullable=False),
        sa.Column('after_ticket_id', sa.UUID(), nullable=True),
        sa.Column('superseded_by', sa.UUID(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_recompute_jobs')),
        sa.UniqueConstraint('seq', name=op.f('uq_sla_recompute_jobs_seq')),
    )
    op.create_index('ix_sla_recompute_jobs_active', 'sla_recompute_jobs', ['seq'],
                    postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.create_index('ix_sla_recompute_jobs_tenant', 'sla_recompute_jobs', ['tenant_id', 'created_at', 'id'])


def downgrade():
    op.drop_index('ix_sla_recompute_jobs_tenant', table_name='sla_recompute_jobs')
    op.drop_index('ix_sla_recompute_jobs_active', table_name='sla_recompute_jobs')
    op.drop_table('sla_recompute_jobs')
    op.drop_column('sla_settings', 'version')
