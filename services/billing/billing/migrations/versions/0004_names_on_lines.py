"""names on invoice lines (issue 10): billing's copy of the project, task and member names it is
told of (`directory_names`), and the names frozen on each invoice line when it is drafted

Revision ID: 0004
Revises: 0003a, 0003b (joins the time and the money branches)
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = ('0003a', '0003b')
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('directory_names',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('object_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('project', 'task', 'member')", name=op.f('ck_directory_names_kind')),
    sa.PrimaryKeyConstraint('tenant_id', 'kind', 'object_id', name=op.f('pk_directory_names'))
    )
    op.add_column('invoice_lines', sa.Column('project_name', sa.Text(), nullable=True))
    op.add_column('invoice_lines', sa.Column('task_name', sa.Text(), nullable=True))
    op.add_column('invoice_lines', sa.Column('member_name', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('invoice_lines', 'member_name')
    op.drop_column('invoice_lines', 'task_name')
    op.drop_column('invoice_lines', 'project_name')
    op.drop_table('directory_names')
