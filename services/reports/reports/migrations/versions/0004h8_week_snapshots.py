"""benchmarks: weekly snapshots of the headline metrics

Revision ID: 0004h8
Revises: 0004c
Create Date: 2026-12-01 18:50:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004h8'
down_revision = '0004c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'week_snapshots',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('week_start', sa.Date(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('first_day_of_week', sa.String(length=10), nullable=False),
        sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'week_start', name=op.f('pk_week_snapshots')),
    )


def downgrade():
    op.drop_table('week_snapshots')
