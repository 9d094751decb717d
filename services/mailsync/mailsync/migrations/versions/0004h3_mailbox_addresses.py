"""mailboxes: the addresses a mailbox receives for besides its email (aliases, plus-addresses)

Revision ID: 0004h3
Revises: 0003h4
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004h3'
down_revision = '0003h4'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('mailboxes', sa.Column('addresses', postgresql.ARRAY(sa.String(length=320)),
                                         server_default=sa.text("'{}'"), nullable=False))


def downgrade():
    op.drop_column('mailboxes', 'addresses')
