"""activity log: links, full-text search, corrections as versions (append-only by trigger), the
tenant-wide and heatmap indexes, tenant settings, per-tenant interaction types, saved views

Revision ID: 0003a
Revises: 0002
Create Date: 2026-12-01 15:30:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003a'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('activities', sa.Column('links', postgresql.JSONB(), server_default='{}', nullable=False))
    # what an activity was linked to before links: its subject (tickets and time entries)
    op.execute("UPDATE activities SET links = jsonb_build_object(subject_type || '_id', subject_id::text) "
               "WHERE subject_id IS NOT NULL AND subject_type IN ('ticket', 'time_entry')")
    op.add_column('activities', sa.Column('root_id', sa.UUID(), nullable=True))
    op.add_column('activities', sa.Column('revision', sa.Integer(), server_default='1', nullable=False))
    op.add_column('activities', sa.Column('superseded_by', sa.UUID(), nullable=True))
    op.add_column('activities', sa.Column('retracted', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('activities', sa.Column('correction_reason', sa.Text(), nullable=True))
    op.add_column('activities', sa.Column(
        'search', postgresql.TSVECTOR(),
        sa.Computed("to_tsvector('english', summary)", persisted=True), nullable=True))
    op.create_index('ix_activities_search', 'activities', ['search'], postgresql_using='gin')
    op.create_index('ix_activities_links', 'activities', ['links'], postgresql_using='gin',
                    postgresql_ops={'links': 'jsonb_path_ops'})
    op.create_index('ix_activities_root', 'activities', ['root_id'], postgresql_where=sa.text('root_id IS NOT NULL'))
    # the tenant-wide order, covering what the heatmap counts (index-only scans)
    op.execute("CREATE INDEX ix_activities_tenant_order ON activities "
               "(tenant_id, occurred_at DESC, sequence DESC, id DESC) "
               "INCLUDE (customer_id, actor_type, actor, internal, superseded_by, retracted)")
    # the last human touch per account (the quiet accounts)
    op.execute("CREATE INDEX ix_activities_human_touch ON activities (tenant_id, customer_id, occurred_at DESC) "
               "WHERE actor_type IN ('member', 'contact') AND superseded_by IS NULL AND NOT retracted")
    op.execute("""
        CREATE FUNCTION activities_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'activities are append-only: DELETE refused';
            END IF;
            -- the one change allowed: pointing a version, once, at the version that replaced it
            IF OLD.superseded_by IS NOT NULL OR NEW.superseded_by IS NULL
               OR (to_jsonb(NEW) - 'superseded_by' - 'search') IS DISTINCT FROM
                  (to_jsonb(OLD) - 'superseded_by' - 'search') THEN
                RAISE EXCEPTION 'activities are append-only: only superseded_by may be set, once';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER activities_append_only BEFORE UPDATE OR DELETE ON activities
        FOR EACH ROW EXECUTE FUNCTION activities_append_only();
    """)

    op.create_table(
        'tenant_settings',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('week_start', sa.String(length=10), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_tenant_settings')),
    )
    op.create_table(
        'interaction_types',
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('label', sa.String(length=80), nullable=False),
        sa.Column('fields', postgresql.JSONB(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'kind', name=op.f('pk_interaction_types')),
    )
    op.create_table(
        'saved_views',
        sa.Column('id', sa.UUID(), nullable=False),
        sa.Column('tenant_id', sa.UUID(), nullable=False),
        sa.Column('member_id', sa.UUID(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('filters', postgresql.JSONB(), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_views')),
    )
    op.execute("CREATE UNIQUE INDEX uq_saved_views_member_name ON saved_views (tenant_id, member_id, lower(name))")
    op.create_index('uq_saved_views_member_default', 'saved_views', ['tenant_id', 'member_id'], unique=True,
                    postgresql_where=sa.text('is_default'))
    op.create_index('ix_saved_views_shared', 'saved_views', ['tenant_id'], postgresql_where=sa.text('shared'))


def downgrade():
    op.drop_table('saved_views')
    op.drop_table('interaction_types')
    op.drop_table('tenant_settings')
    op.execute("DROP TRIGGER activities_append_only ON activities")
    op.execute("DROP FUNCTION activities_append_only()")
    op.drop_index('ix_activities_human_touch', table_name='activities')
    op.drop_index('ix_activities_tenant_order', table_name='activities')
    op.drop_index('ix_activities_root', table_name='activities')
    op.drop_index('ix_activities_links', table_name='activities')
    op.drop_index('ix_activities_search', table_name='activities')
    for column in ('search', 'correction_reason', 'retracted', 'superseded_by', 'revision', 'root_id', 'links'):
        op.drop_column('activities', column)
