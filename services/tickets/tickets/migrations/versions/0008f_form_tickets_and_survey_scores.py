"""form tickets and survey scores: the form submission a ticket came from (one ticket per
submission), the satisfaction survey's CSAT/NPS scores on the ticket (issue 11)

Revision ID: 0008f
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = '0008f'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('tickets', sa.Column('form_submission_id', sa.UUID(), nullable=True))
    op.add_column('tickets', sa.Column('csat_score', sa.Integer(), nullable=True))
    op.add_column('tickets', sa.Column('nps_score', sa.Integer(), nullable=True))
    op.add_column('tickets', sa.Column('survey_answered_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('uq_tickets_tenant_form_submission', 'tickets', ['tenant_id', 'form_submission_id'],
                    unique=True, postgresql_where=sa.text('form_submission_id IS NOT NULL'))


def downgrade():
    op.drop_index('uq_tickets_tenant_form_submission', table_name='tickets')
    for column in ('survey_answered_at', 'nps_score', 'csat_score', 'form_submission_id'):
        op.drop_column('tickets', column)
