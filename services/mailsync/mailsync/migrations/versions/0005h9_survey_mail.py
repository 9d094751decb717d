"""outbound_mails: what a row is (a reply or a survey mail, issue 11) and an HTML alternative

Revision ID: 0005h9
Revises: 0002b
"""
from alembic import op
import sqlalchemy as sa

revision = '0005h9'
down_revision = '0002b'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outbound_mails', sa.Column('kind', sa.String(length=12), server_default='reply', nullable=False))
    op.add_column('outbound_mails', sa.Column('html_body', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('outbound_mails', 'html_body')
    op.drop_column('outbound_mails', 'kind')
