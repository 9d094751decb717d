"""account teams: the members assigned to a customer (they, and its owner, see it when their role is scoped)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:25:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_team',
        sa.Column('customer_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('member_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('tenant_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('internal_access', sa.Boolean(), server_default='false', nullable=False),
        sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_account_team_customer_id_customers'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_account_team_member_id_members')),
        sa.PrimaryKeyConstraint('customer_id', 'member_id', name=op.f('pk_account_team')),
    )
    op.create_index('ix_account_team_tenant_member', 'account_team', ['tenant_id', 'member_id'])
    # the customers a member owns: the other half of their scope
    op.create_index('ix_customers_tenant_owner', 'customers', ['tenant_id', 'owner_id'])


def downgrade():
    op.drop_index('ix_customers_tenant_owner', table_name='customers')
    op.drop_index('ix_account_team_tenant_member', table_name='account_team')
    op.drop_table('account_team')
