"""ticket facts keep the latest move of each kind (resolved, closed, reopened), not the last status

Keeping only the last status lost a resolution whose close arrived first; the latest move of each
kind is the same whatever order the events arrive in. A row's last status becomes its mark.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_OPEN = "('new', 'open', 'in_progress', 'pending', 'waiting_on_customer')"


def upgrade():
    op.add_column('ticket_facts', sa.Column('resolved_seq', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('ticket_facts', sa.Column('closed_seq', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('ticket_facts', sa.Column('reopened_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('ticket_facts', sa.Column('reopened_seq', sa.BigInteger(), server_default='0', nullable=False))
    op.execute(f"UPDATE ticket_facts SET reopened_at = status_at, reopened_seq = status_seq WHERE status IN {_OPEN}")
    op.execute("UPDATE ticket_facts SET resolved_seq = status_seq WHERE status = 'resolved'")
    op.execute("UPDATE ticket_facts SET closed_seq = status_seq WHERE status = 'closed'")
    op.drop_column('ticket_facts', 'status_seq')
    op.drop_column('ticket_facts', 'status_at')
    op.drop_column('ticket_facts', 'status')


def downgrade():
    op.add_column('ticket_facts', sa.Column('status', sa.String(length=30), nullable=True))
    op.add_column('ticket_facts', sa.Column('status_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('ticket_facts', sa.Column('status_seq', sa.BigInteger(), server_default='0', nullable=False))
    op.execute("""
        UPDATE ticket_facts SET (status, status_at, status_seq) = (
          SELECT m.status, m.at, m.seq FROM (VALUES ('resolved', resolved_at, resolved_seq),
                                                    ('closed', closed_at, closed_seq),
                                                    ('open', reopened_at, reopened_seq)) AS m(status, at, seq)
           WHERE m.at IS NOT NULL ORDER BY m.at DESC, m.seq DESC LIMIT 1)
         WHERE resolved_at IS NOT NULL OR closed_at IS NOT NULL OR reopened_at IS NOT NULL""")
    # 0002 kept no resolution or close on an open ticket, and no close on a resolved one
    op.execute("UPDATE ticket_facts SET resolved_at = NULL, closed_at = NULL WHERE status = 'open'")
    op.execute("UPDATE ticket_facts SET closed_at = NULL WHERE status = 'resolved'")
    op.drop_column('ticket_facts', 'reopened_seq')
    op.drop_column('ticket_facts', 'reopened_at')
    op.drop_column('ticket_facts', 'closed_seq')
    op.drop_column('ticket_facts', 'resolved_seq')
