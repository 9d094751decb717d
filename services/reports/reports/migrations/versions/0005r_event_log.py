"""the event log: every event a read model's handler consumed, once per consumer, for rebuilds
(reports.replay)

Revision ID: 0005r
Revises: 0004c
Create Date: 2026-12-01 18:45:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005r'
down_revision = '0004c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'event_log',
        sa.Column('consumer', sa.String(length=200), nullable=False),
        sa.Column('event_id', sa.UUID(), nullable=False),
        sa.Column('event_type', sa.String(length=100), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sequence', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('envelope', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint('consumer', 'event_id', name=op.f('pk_event_log')),
    )
    op.create_index('ix_event_log_replay', 'event_log', ['occurred_at', 'sequence', 'event_id', 'consumer'],
                    unique=False)


def downgrade():
    op.drop_index('ix_event_log_replay', table_name='event_log')
    op.drop_table('event_log')
