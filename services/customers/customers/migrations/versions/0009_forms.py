"""forms: definitions (versioned), links sent to customers (hashed token, optional expiry, one or
many submissions), submissions with their CSAT/NPS scores

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:45:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('forms',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('definition', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('task_rule', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_forms_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forms'))
    )
    op.create_index('ix_forms_tenant_created', 'forms', ['tenant_id', 'created_at'], unique=False)
    op.create_table('form_links',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('form_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('contact_id', sa.UUID(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('multiple', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('submission_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('prefill', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_form_links_contact_id_contacts')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_form_links_customer_id_customers')),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_links_form_id_forms')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_form_links_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_links'))
    )
    op.create_index('uq_form_links_hash', 'form_links', ['token_hash'], unique=True)
    op.create_index('ix_form_links_tenant_form', 'form_links', ['tenant_id', 'form_id'], unique=False)
    op.create_table('form_submissions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('form_id', sa.UUID(), nullable=False),
    sa.Column('form_version', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.UUID(), nullable=True),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('contact_id', sa.UUID(), nullable=True),
    sa.Column('answers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('scores', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('task_id', sa.UUID(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_form_submissions_contact_id_contacts')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_form_submissions_customer_id_customers')),
    sa.ForeignKeyConstraint(['form_id'], ['forms.id'], name=op.f('fk_form_submissions_form_id_forms')),
    sa.ForeignKeyConstraint(['link_id'], ['form_links.id'], name=op.f('fk_form_submissions_link_id_form_links')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_form_submissions_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_submissions'))
    )
    op.create_index('ix_form_submissions_tenant_customer', 'form_submissions',
                    ['tenant_id', 'customer_id', 'submitted_at'], unique=False)


def downgrade():
    op.drop_index('ix_form_submissions_tenant_customer', table_name='form_submissions')
    op.drop_table('form_submissions')
    op.drop_index('ix_form_links_tenant_form', table_name='form_links')
    op.drop_index('uq_form_links_hash', table_name='form_links')
    op.drop_table('form_links')
    op.drop_index('ix_forms_tenant_created', table_name='forms')
    op.drop_table('forms')
