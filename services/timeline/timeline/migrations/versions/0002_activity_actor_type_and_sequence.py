"""activities: actor_type and sequence (ties break in the order the facts happened)

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
    op.add_column('activities', sa.Column('actor_type', sa.String(length=20), nullable=True))
    # existing activities had no sequence: 0 keeps them ordered by id among equal times, as before
    op.add_column('activities', sa.Column('sequence', sa.BigInteger(), server_default='0', nullable=False))
    # an actor recorded before actor types were: every one of them was a member
    op.execute("UPDATE activities SET actor_type = 'member' WHERE actor IS NOT NULL")
    op.create_index('ix_activities_tenant_customer_order', 'activities',
                    ['tenant_id', 'customer_id', sa.literal_column('occurred_at DESC'),
                     sa.literal_column('sequence DESC'), sa.literal_column('id DESC')], unique=False)
    op.drop_index('ix_activities_tenant_customer_occurred', table_name='activities')


def downgrade():
    op.create_index('ix_activities_tenant_customer_occurred', 'activities',
                    ['tenant_id', 'customer_id', sa.literal_column('occurred_at DESC'),
                     sa.literal_column('id DESC')], unique=False)
    op.drop_index('ix_activities_tenant_customer_order', table_name='activities')
    op.drop_column('activities', 'sequence')
    op.drop_column('activities', 'actor_type')
