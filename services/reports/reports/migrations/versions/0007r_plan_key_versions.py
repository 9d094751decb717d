"""each plan key of task_facts and health_milestones keeps its own version (occurred_at, sequence):
a task.updated carries only the keys that changed, and one version for the whole plan made an older
task.created arriving after it lose its other keys (a milestone flag); existing rows take the plan's

Revision ID: 0007r
Revises: 0006s
Create Date: 2026-12-01 19:20:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0007r'
down_revision = '0006s'
branch_labels = None
depends_on = None  # 0006s depends on 0004a (task_facts)

KEYS = {'task_facts': ('due_date', 'milestone', 'step_key'), 'health_milestones': ('due_date', 'milestone')}


def upgrade():
    for table, keys in KEYS.items():
        for key in keys:
            op.add_column(table, sa.Column(f'{key}_at', sa.DateTime(timezone=True), nullable=True))
            op.add_column(table, sa.Column(f'{key}_seq', sa.BigInteger(), server_default='0', nullable=False))
        op.execute(f"UPDATE {table} SET " + ", ".join(f"{key}_at = plan_at, {key}_seq = plan_seq" for key in keys))


def downgrade():
    for table, keys in KEYS.items():
        for key in keys:
            op.drop_column(table, f'{key}_seq')
            op.drop_column(table, f'{key}_at')
