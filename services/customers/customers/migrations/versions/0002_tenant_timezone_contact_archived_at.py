"""tenants.timezone, contacts.archived_at

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
    # existing tenants keep computing in UTC, as they did, until an owner sets their zone
    op.add_column('tenants', sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))
    op.add_column('contacts', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('contacts', 'archived_at')
    op.drop_column('tenants', 'timezone')
