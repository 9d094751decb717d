"""invoices and money (issue 10): billing profiles and customer billing settings, rates, fixed fees,
retainers and their monthly usage, project budgets, invoices, their lines and entries, payments,
credit notes, per-tenant gapless number counters, content-addressed blobs (PDFs, logos)

Revision ID: 0003b
Revises: 0002 (a sibling of 0003a, time tracking)
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003b'
down_revision = '0002'
branch_labels = None
depends_on = None

TABLES = ('billing_profiles', 'customer_billing', 'rates', 'fixed_fees', 'retainers', 'retainer_usage', 'budgets',
          'invoice_counters', 'invoices', 'invoice_lines', 'invoice_entries', 'payments', 'credit_notes', 'blobs')


def upgrade():
    op.create_table('billing_profiles',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('company_name', sa.Text(), server_default='', nullable=False),
    sa.Column('address', sa.Text(), server_default='', nullable=False),
    sa.Column('payment_details', sa.Text(), server_default='', nullable=False),
    sa.Column('logo_sha256', sa.Text(), nullable=True),
    sa.Column('number_prefix', sa.Text(), server_default='INV-', nullable=False),
    sa.Column('credit_note_prefix', sa.Text(), server_default='CN-', nullable=False),
    sa.Column('rounding_increment', sa.Integer(), server_default='1', nullable=False),
    sa.Column('rounding_scope', sa.Text(), server_default='entry', nullable=False),
    sa.Column('line_grouping', sa.Text(), server_default='project', nullable=False),
    sa.Column('default_currency', sa.Text(), server_default='EUR', nullable=False),
    sa.Column('payment_terms_days', sa.Integer(), server_default='30', nullable=False),
    sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_billing_profiles'))
    )
    op.create_table('customer_billing',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('tax_name', sa.Text(), server_default='', nullable=False),
    sa.Column('tax_rate_ppm', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reverse_charge', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('payment_terms_days', sa.Integer(), nullable=True),
    sa.Column('billing_address', sa.Text(), server_default='', nullable=False),
    sa.Column('tax_id', sa.Text(), server_default='', nullable=False),
    sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('tax_rate_ppm BETWEEN 0 AND 1000000', name=op.f('ck_customer_billing_tax_rate_range')),
    sa.PrimaryKeyConstraint('tenant_id', 'customer_id', name=op.f('pk_customer_billing'))
    )
    op.create_table('rates',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('hourly_amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('project_id', sa.UUID(), nullable=True),
    sa.Column('customer_id', sa.UUID(), nullable=True),
    sa.Column('member_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('hourly_amount >= 0', name=op.f('ck_rates_hourly_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rates'))
    )
    op.create_index('ix_rates_tenant_currency', 'rates', ['tenant_id', 'currency'], unique=False)
    op.create_table('fixed_fees',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('bill_on', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fixed_fees'))
    )
    op.create_index('ix_fixed_fees_tenant_customer', 'fixed_fees', ['tenant_id', 'customer_id'], unique=False)
    op.create_table('retainers',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=True),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('monthly_fee', sa.BigInteger(), nullable=False),
    sa.Column('included_minutes', sa.Integer(), nullable=False),
    sa.Column('overage_hourly', sa.BigInteger(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retainers'))
    )
    op.create_index('ix_retainers_tenant_customer', 'retainers', ['tenant_id', 'customer_id'], unique=False)
    op.create_table('retainer_usage',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('retainer_id', sa.UUID(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('fee_billed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('invoice_id', 'retainer_id', 'month', name=op.f('pk_retainer_usage'))
    )
    op.create_index('ix_retainer_usage_retainer', 'retainer_usage', ['retainer_id', 'month'], unique=False)
    op.create_table('budgets',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('thresholds_raised', postgresql.ARRAY(sa.Integer()), server_default='{}', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('hours', 'money')", name=op.f('ck_budgets_kind')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_budgets_amount_positive')),
    sa.PrimaryKeyConstraint('tenant_id', 'project_id', name=op.f('pk_budgets'))
    )
    op.create_table('invoice_counters',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('series', sa.Text(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'series', name=op.f('pk_invoice_counters'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('customer_id', sa.UUID(), nullable=False),
    sa.Column('customer_name', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='draft', nullable=False),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('number_text', sa.Text(), nullable=True),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('payment_terms_days', sa.Integer(), nullable=False),
    sa.Column('tax_name', sa.Text(), nullable=False),
    sa.Column('tax_rate_ppm', sa.Integer(), nullable=False),
    sa.Column('reverse_charge', sa.Boolean(), nullable=False),
    sa.Column('line_grouping', sa.Text(), nullable=False),
    sa.Column('rounding_increment', sa.Integer(), nullable=False),
    sa.Column('rounding_scope', sa.Text(), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('tax_total', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('total', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('amount_paid', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('amount_credited', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('billing_address', sa.Text(), server_default='', nullable=False),
    sa.Column('pdf_sha256', sa.Text(), nullable=True),
    sa.Column('revision', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.Column('overdue_told_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'draft') = (number IS NULL)", name=op.f('ck_invoices_numbered_unless_draft')),
    sa.CheckConstraint("status IN ('draft', 'issued', 'paid', 'void')", name=op.f('ck_invoices_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices'))
    )
    op.create_index('uq_invoices_one_draft', 'invoices', ['tenant_id', 'customer_id'], unique=True, postgresql_where=sa.text("status = 'draft'"))
    op.create_index('uq_invoices_tenant_number', 'invoices', ['tenant_id', 'number'], unique=True)
    op.create_index('ix_invoices_tenant_created', 'invoices', ['tenant_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_invoices_open_due', 'invoices', ['due_date'], unique=False, postgresql_where=sa.text("status = 'issued'"))
    op.create_index('ix_invoices_tenant_customer', 'invoices', ['tenant_id', 'customer_id'], unique=False)
    op.create_table('invoice_lines',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('quantity_minutes', sa.Integer(), nullable=True),
    sa.Column('raw_minutes', sa.Integer(), nullable=True),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('tax', sa.BigInteger(), nullable=False),
    sa.Column('taxable', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=True),
    sa.Column('time_kind', sa.Text(), nullable=True),
    sa.Column('project_id', sa.UUID(), nullable=True),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('member_id', sa.UUID(), nullable=True),
    sa.Column('task_id', sa.UUID(), nullable=True),
    sa.Column('rate_id', sa.UUID(), nullable=True),
    sa.Column('fixed_fee_id', sa.UUID(), nullable=True),
    sa.Column('retainer_id', sa.UUID(), nullable=True),
    sa.Column('retainer_month', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    op.create_index('ix_invoice_lines_invoice', 'invoice_lines', ['invoice_id', 'position'], unique=False)
    op.create_table('invoice_entries',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('line_id', sa.UUID(), nullable=False),
    sa.Column('entry_id', sa.UUID(), nullable=False),
    sa.Column('raw_minutes', sa.Integer(), nullable=False),
    sa.Column('rounded_minutes', sa.Integer(), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index('ix_invoice_entries_invoice', 'invoice_entries', ['invoice_id'], unique=False)
    op.create_index('ix_invoice_entries_entry_live', 'invoice_entries', ['entry_id'], unique=False, postgresql_where=sa.text('released_at IS NULL'))
    op.create_table('payments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('method', sa.Text(), server_default='', nullable=False),
    sa.Column('reference', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    op.create_index('ix_payments_invoice', 'payments', ['invoice_id'], unique=False)
    op.create_table('credit_notes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('number_text', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_credit_notes_amount_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_notes'))
    )
    op.create_index('ix_credit_notes_invoice', 'credit_notes', ['invoice_id'], unique=False)
    op.create_index('uq_credit_notes_tenant_number', 'credit_notes', ['tenant_id', 'number'], unique=True)
    op.create_table('blobs',
    sa.Column('sha256', sa.Text(), nullable=False),
    sa.Column('media_type', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_blobs'))
    )


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
