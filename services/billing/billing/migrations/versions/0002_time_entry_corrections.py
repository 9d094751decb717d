"""time entry corrections: who entered an entry, its revision, last correction, invoiced lock

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('time_entries', sa.Column('entered_by_member_id', sa.UUID(), nullable=True))
    # until now an entry was always the caller's own: whoever it is for entered it
    op.execute('UPDATE time_entries SET entered_by_member_id = member_id')
    op.alter_column('time_entries', 'entered_by_member_id', nullable=False)
    op.add_column('time_entries', sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
    op.add_column('time_entries', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('time_entries', sa.Column('invoiced_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('time_entries', 'invoiced_at')
    op.drop_column('time_entries', 'updated_at')
    op.drop_column('time_entries', 'revision')
    op.drop_column('time_entries', 'entered_by_member_id')
