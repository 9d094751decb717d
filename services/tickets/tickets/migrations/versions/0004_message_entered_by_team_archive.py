"""messages record who entered them apart from who wrote them; teams can be archived

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('ticket_messages', sa.Column('entered_by_member_id', sa.UUID(), nullable=True))
    # until now the agent who called the API was stored as the author of every message: it is who
    # entered it; an inbound message's author is its contact, never that agent
    op.execute("UPDATE ticket_messages SET entered_by_member_id = author_member_id")
    op.execute("UPDATE ticket_messages SET author_member_id = NULL WHERE kind = 'inbound'")
    op.add_column('teams', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    op.drop_index('uq_teams_tenant_name', table_name='teams')
    op.create_index('uq_teams_tenant_name', 'teams', ['tenant_id', 'name'], unique=True,
                    postgresql_where=sa.text('archived_at IS NULL'))


def downgrade():
    op.drop_index('uq_teams_tenant_name', table_name='teams')
    # names must be unique again: an archived team keeps its row (tickets name it) under a marked name
    op.execute("UPDATE teams SET name = left(name, 80) || ' (archived ' || left(id::text, 8) || ')' "
               "WHERE archived_at IS NOT NULL")
    op.create_index('uq_teams_tenant_name', 'teams', ['tenant_id', 'name'], unique=True)
    op.drop_column('teams', 'archived_at')
    op.execute("UPDATE ticket_messages SET author_member_id = entered_by_member_id WHERE kind = 'inbound'")
    op.drop_column('ticket_messages', 'entered_by_member_id')
