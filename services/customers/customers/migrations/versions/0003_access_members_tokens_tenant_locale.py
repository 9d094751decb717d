"""access: tenant locale and week start; member timezone and deactivation; token expiry, read-only
scope and last use

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 12:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('tenants', sa.Column('locale', sa.String(length=35), server_default='en', nullable=False))
    op.add_column('tenants', sa.Column('week_start', sa.String(length=10), server_default='monday',
                                       nullable=False))
    op.create_check_constraint(op.f('ck_tenants_week_start'), 'tenants',
                               "week_start IN ('monday', 'sunday', 'saturday')")
    # null: the member lives in the tenant's zone
    op.add_column('members', sa.Column('timezone', sa.String(length=64), nullable=True))
    op.add_column('members', sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('members', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(),
                                       nullable=False))
    op.create_index('ix_members_tenant_created', 'members', ['tenant_id', 'created_at', 'id'])
    op.add_column('api_tokens', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_tokens', sa.Column('read_only', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('api_tokens', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('api_tokens', 'last_used_at')
    op.drop_column('api_tokens', 'read_only')
    op.drop_column('api_tokens', 'expires_at')
    op.drop_index('ix_members_tenant_created', table_name='members')
    op.drop_column('members', 'updated_at')
    op.drop_column('members', 'deactivated_at')
    op.drop_column('members', 'timezone')
    op.drop_constraint(op.f('ck_tenants_week_start'), 'tenants', type_='check')
    op.drop_column('tenants', 'week_start')
    op.drop_column('tenants', 'locale')
