"""work plan: the stable key of an imported task's source row (re-running an import never doubles)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:15:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('tasks', sa.Column('import_key', sa.String(length=300), nullable=True))
    op.create_index('uq_tasks_project_import_key', 'tasks', ['project_id', 'import_key'], unique=True,
                    postgresql_where=sa.text('import_key IS NOT NULL'))


def downgrade():
    op.drop_index('uq_tasks_project_import_key', table_name='tasks')
    op.drop_column('tasks', 'import_key')
