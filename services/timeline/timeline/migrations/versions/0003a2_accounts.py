"""accounts: every customer the timeline knows, for the heatmap's quiet accounts (no scan of the log)

Revision ID: 0003a2
Revises: 0003a
Create Date: 2026-12-01 16:05:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003a2'
down_revision = '0003a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'accounts',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'customer_id', name=op.f('pk_accounts')),
    )
    op.execute("INSERT INTO accounts (tenant_id, customer_id) SELECT DISTINCT tenant_id, customer_id FROM activities")


def downgrade():
    op.drop_table('accounts')
