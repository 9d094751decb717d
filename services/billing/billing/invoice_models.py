"""Tables of money in the billing service: billing profiles and customer settings, rates, fixed fees,
retainers, budgets, invoices and their lines, the entries on them, payments, credit notes, the
gapless number counters and the stored PDFs (migration 0003b). Amounts are BIGINT minor units."""
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, DateTime, Index, Integer, LargeBinary,
                        Table, Text, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from billing.models import metadata

INVOICE_STATUSES = ("draft", "issued", "paid", "void")

# The tenant's invoicing choices: who it is on paper, how time rounds and groups, numbering.
billing_profiles = Table(
    "billing_profiles", metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("company_name", Text, nullable=False, server_default=""),
    Column("address", Text, nullable=False, server_default=""),
    Column("payment_details", Text, nullable=False, server_default=""),
    Column("logo_sha256", Text),  # a blob (PNG or JPEG)
    Column("number_prefix", Text, nullable=False, server_default="INV-"),
    Column("credit_note_prefix", Text, nullable=False, server_default="CN-"),
    Column("rounding_increment", Integer, nullable=False, server_default="1"),
    Column("rounding_scope", Text, nullable=False, server_default="entry"),
    Column("line_grouping", Text, nullable=False, server_default="project"),
    Column("default_currency", Text, nullable=False, server_default="EUR"),
    Column("payment_terms_days", Integer, nullable=False, server_default="30"),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Per customer: the currency it is billed in, its tax, terms and billing address.
customer_billing = Table(
    "customer_billing", metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True), primary_key=True),
    Column("currency", Text, nullable=False),
    Column("tax_name", Text, nullable=False, server_default=""),
    Column("tax_rate_ppm", Integer, nullable=False, server_default="0"),
    Column("reverse_charge", Boolean, nullable=False, server_default="false"),
    Column("payment_terms_days", Integer),  # null: the tenant's
    Column("billing_address", Text, nullable=False, server_default=""),
    Column("tax_id", Text, nullable=False, server_default=""),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("tax_rate_ppm BETWEEN 0 AND 1000000", name="tax_rate_range"),
)

rates = Table(
    "rates", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("hourly_amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("category", Text),
    Column("project_id", UUID(as_uuid=True)),
    Column("customer_id", UUID(as_uuid=True)),
    Column("member_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("hourly_amount >= 0", name="hourly_amount_positive"),
)
Index("ix_rates_tenant_currency", rates.c.tenant_id, rates.c.currency)

fixed_fees = Table(
    "fixed_fees", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("bill_on", Date, nullable=False),
    Column("description", Text, nullable=False),
    Column("invoice_id", UUID(as_uuid=True)),  # the live invoice it is on
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_fixed_fees_tenant_customer", fixed_fees.c.tenant_id, fixed_fees.c.customer_id)

retainers = Table(
    "retainers", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("project_id", UUID(as_uuid=True)),
    Column("currency", Text, nullable=False),
    Column("monthly_fee", BigInteger, nullable=False),
    Column("included_minutes", Integer, nullable=False),
    Column("overage_hourly", BigInteger),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date),
    Column("description", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_retainers_tenant_customer", retainers.c.tenant_id, retainers.c.customer_id)

# What each live (not void) invoice took of a retainer month: its included minutes, its fee.
retainer_usage = Table(
    "retainer_usage", metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), primary_key=True),
    Column("retainer_id", UUID(as_uuid=True), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("minutes", Integer, nullable=False),
    Column("fee_billed", Boolean, nullable=False),
)
Index("ix_retainer_usage_retainer", retainer_usage.c.retainer_id, retainer_usage.c.month)

budgets = Table(
    "budgets", metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("project_id", UUID(as_uuid=True), primary_key=True),
    Column("customer_id", UUID(as_uuid=True)),
    Column("kind", Text, nullable=False),  # hours (amount in minutes) | money (minor units)
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text),
    Column("thresholds_raised", ARRAY(Integer), nullable=False, server_default="{}"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('hours', 'money')", name="kind"),
    CheckConstraint("amount > 0", name="amount_positive"),
)

# Per-tenant numbers without gaps: taken in the issuing transaction (the row lock serialises
# concurrent issues; a rolled-back issue gives its number back).
invoice_counters = Table(
    "invoice_counters", metadata,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("series", Text, primary_key=True),  # invoice | credit_note
    Column("last_number", Integer, nullable=False),
)

invoices = Table(
    "invoices", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("customer_id", UUID(as_uuid=True), nullable=False),
    Column("customer_name", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("number", Integer),  # null while a draft
    Column("number_text", Text),
    Column("currency", Text, nullable=False),
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    Column("issue_date", Date),
    Column("due_date", Date),
    Column("payment_terms_days", Integer, nullable=False),
    Column("tax_name", Text, nullable=False),
    Column("tax_rate_ppm", Integer, nullable=False),
    Column("reverse_charge", Boolean, nullable=False),
    Column("line_grouping", Text, nullable=False),
    Column("rounding_increment", Integer, nullable=False),
    Column("rounding_scope", Text, nullable=False),
    Column("subtotal", BigInteger, nullable=False, server_default="0"),
    Column("tax_total", BigInteger, nullable=False, server_default="0"),
    Column("total", BigInteger, nullable=False, server_default="0"),
    Column("amount_paid", BigInteger, nullable=False, server_default="0"),
    Column("amount_credited", BigInteger, nullable=False, server_default="0"),
    Column("notes", Text, nullable=False, server_default=""),
    Column("billing_address", Text, nullable=False, server_default=""),
    Column("pdf_sha256", Text),  # rendered once at issue: the PDF of an issued invoice never changes
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True)),
    Column("issued_at", DateTime(timezone=True)),
    Column("paid_at", DateTime(timezone=True)),
    Column("voided_at", DateTime(timezone=True)),
    Column("void_reason", Text),
    Column("overdue_told_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('draft', 'issued', 'paid', 'void')", name="status"),
    CheckConstraint("(status = 'draft') = (number IS NULL)", name="numbered_unless_draft"),
)
Index("uq_invoices_tenant_number", invoices.c.tenant_id, invoices.c.number, unique=True)
Index("ix_invoices_tenant_created", invoices.c.tenant_id, invoices.c.created_at, invoices.c.id)
Index("ix_invoices_tenant_customer", invoices.c.tenant_id, invoices.c.customer_id)
# one draft per customer at a time: two drafts racing for the same entries conflict here (409)
Index("uq_invoices_one_draft", invoices.c.tenant_id, invoices.c.customer_id, unique=True,
      postgresql_where=text("status = 'draft'"))
Index("ix_invoices_open_due", invoices.c.due_date, postgresql_where=text("status = 'issued'"))

invoice_lines = Table(
    "invoice_lines", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", Text, nullable=False),  # time | fixed_fee | retainer | expense | discount | item
    Column("description", Text, nullable=False),
    Column("quantity", Integer),  # units of an expense/item/fee
    Column("quantity_minutes", Integer),  # billed (rounded) minutes of a time line
    Column("raw_minutes", Integer),  # tracked minutes of a time line, kept beside the rounded
    Column("unit_price", BigInteger, nullable=False),  # per unit; per hour for time
    Column("amount", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("taxable", Boolean, nullable=False, server_default="true"),
    Column("discount_bp", Integer),  # a percentage discount, in basis points
    Column("time_kind", Text),  # time | included | fixed_fee_time | no_rate
    Column("project_id", UUID(as_uuid=True)),
    Column("category", Text),
    Column("member_id", UUID(as_uuid=True)),
    Column("task_id", UUID(as_uuid=True)),
    Column("rate_id", UUID(as_uuid=True)),
    Column("fixed_fee_id", UUID(as_uuid=True)),
    Column("retainer_id", UUID(as_uuid=True)),
    Column("retainer_month", Date),
    # --- 0004: the names as they were when the line was drafted (a later rename never changes it) ---
    Column("project_name", Text),
    Column("task_name", Text),
    Column("member_name", Text),
)
Index("ix_invoice_lines_invoice", invoice_lines.c.invoice_id, invoice_lines.c.position)

# The entries on an invoice (one row per entry and line: a retainer split makes two), raw beside
# rounded; `released_at` set when a void or a removed line gives them back. A live entry is on one
# invoice at most: drafts exclude entries on a live row, one draft per customer at a time, and an
# issue sets the entry's own `invoice_id`.
invoice_entries = Table(
    "invoice_entries", metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("line_id", UUID(as_uuid=True), nullable=False),
    Column("entry_id", UUID(as_uuid=True), nullable=False),
    Column("raw_minutes", Integer, nullable=False),
    Column("rounded_minutes", Integer, nullable=False),
    Column("released_at", DateTime(timezone=True)),
)
Index("ix_invoice_entries_invoice", invoice_entries.c.invoice_id)
Index("ix_invoice_entries_entry_live", invoice_entries.c.entry_id, postgresql_where=text("released_at IS NULL"))

payments = Table(
    "payments", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("method", Text, nullable=False, server_default=""),
    Column("reference", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="amount_positive"),
)
Index("ix_payments_invoice", payments.c.invoice_id)

credit_notes = Table(
    "credit_notes", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("invoice_id", UUID(as_uuid=True), nullable=False),
    Column("number", Integer, nullable=False),
    Column("number_text", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),  # gross, what it takes off the balance
    Column("reason", Text, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="amount_positive"),
)
Index("uq_credit_notes_tenant_number", credit_notes.c.tenant_id, credit_notes.c.number, unique=True)
Index("ix_credit_notes_invoice", credit_notes.c.invoice_id)

# Content-addressed bytes (PDFs, logos), DESIGN §3.7: events carry the SHA-256, never the bytes.
blobs = Table(
    "blobs", metadata,
    Column("sha256", Text, primary_key=True),
    Column("media_type", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
