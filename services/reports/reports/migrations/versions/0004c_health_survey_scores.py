"""customer health: CSAT and NPS answers of submitted forms

Revision ID: 0004c
Revises: 0004b
Create Date: 2026-12-01 16:55:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0004c'
down_revision = '0004b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'health_survey_scores',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('submission_id', sa.UUID(), nullable=False),
        sa.Column('field', sa.String(length=100), nullable=False),
        sa.Column('customer_id', sa.UUID(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'submission_id', 'field', name=op.f('pk_health_survey_scores')),
    )
    op.create_index('ix_health_survey_scores_customer', 'health_survey_scores',
                    ['tenant_id', 'customer_id', 'submitted_at'])


def downgrade():
    op.drop_index('ix_health_survey_scores_customer', table_name='health_survey_scores')
    op.drop_table('health_survey_scores')
