"""audit log: one append-only row per domain event of any service (a trigger refuses UPDATE/DELETE)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:15:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_log',
        # the id of the event the row records: redelivery cannot write a second row
        sa.Column('id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('tenant_id', postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('producer', sa.String(length=40), nullable=False),
        sa.Column('action', sa.String(length=80), nullable=False),
        sa.Column('actor_type', sa.String(length=20), nullable=False),
        sa.Column('actor_id', sa.String(length=80), nullable=True),
        sa.Column('target_type', sa.String(length=40), nullable=False),
        sa.Column('target_id', sa.String(length=80), nullable=True),
        sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), nullable=False,
                  server_default=sa.text("'{}'::jsonb")),
        sa.Column('request_id', sa.String(length=200), nullable=True),
        sa.Column('trace_id', sa.String(length=64), nullable=True),
        sa.Column('ip', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    # the query's order (newest first) and its cursor
    op.create_index('ix_audit_log_tenant_occurred', 'audit_log', ['tenant_id', 'occurred_at', 'id'])
    op.create_index('ix_audit_log_tenant_target', 'audit_log', ['tenant_id', 'target_type', 'target_id'])
    op.create_index('ix_audit_log_tenant_actor', 'audit_log', ['tenant_id', 'actor_id'])
    op.execute("""
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """)
    op.execute("""
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
    """)


def downgrade():
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index('ix_audit_log_tenant_actor', table_name='audit_log')
    op.drop_index('ix_audit_log_tenant_target', table_name='audit_log')
    op.drop_index('ix_audit_log_tenant_occurred', table_name='audit_log')
    op.drop_table('audit_log')
