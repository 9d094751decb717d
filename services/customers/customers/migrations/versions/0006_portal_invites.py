"""portal: one-time invitations of contacts, and the contact a portal user is

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:10:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('members', sa.Column('contact_id', postgresql.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(op.f('fk_members_contact_id_contacts'), 'members', 'contacts', ['contact_id'], ['id'])
    op.create_index('uq_members_tenant_contact', 'members', ['tenant_id', 'contact_id'], unique=True,
                    postgresql_where=sa.text('contact_id IS NOT NULL'))
    op.create_table(
        'portal_invites',
        sa.Column('id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('tenant_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('contact_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('invited_by', postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_portal_invites_tenant_id_tenants')),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_portal_invites_contact_id_contacts')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_invites')),
    )
    op.create_index('uq_portal_invites_hash', 'portal_invites', ['token_hash'], unique=True)
    op.create_index('ix_portal_invites_tenant_contact', 'portal_invites', ['tenant_id', 'contact_id'])


def downgrade():
    op.drop_index('ix_portal_invites_tenant_contact', table_name='portal_invites')
    op.drop_index('uq_portal_invites_hash', table_name='portal_invites')
    op.drop_table('portal_invites')
    op.drop_index('uq_members_tenant_contact', table_name='members')
    op.drop_constraint(op.f('fk_members_contact_id_contacts'), 'members', type_='foreignkey')
    op.drop_column('members', 'contact_id')
