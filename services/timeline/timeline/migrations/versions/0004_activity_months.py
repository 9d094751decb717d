"""activity_months: the heatmap's read model (per tenant x local month x account, the counts of each local
day: all of them, and by actor kind and visibility), and accounts.last_human_at; both kept by triggers on activities, in
the transaction of the insert (or of the correction), and rebuilt from the log here and when a
tenant's timezone changes (see timeline.activity_months)

Revision ID: 0004
Revises: 0003a2
Create Date: 2026-12-01 19:00:00
"""
from alembic import op

revision = '0004'
down_revision = '0003a2'
branch_labels = None
depends_on = None

# `counts` holds 7 blocks of 31 days: block 0 every activity, block 1 + k counter k, k = 2 * kind (member 0,
# contact 1, system 2 - the system also for activities older than actor types) + (0 internal, 1
# customer-visible); day-of-month dd of block b is counts[b * 31 + dd]. The same layout is in
# timeline.activity_months.
SLOTS = 7 * 31
KIND = ("CASE {a}.actor_type WHEN 'member' THEN 0 WHEN 'contact' THEN 2 ELSE 4 END "
        "+ CASE WHEN {a}.internal THEN 0 ELSE 1 END")
LIVE_HUMAN = "actor_type IN ('member', 'contact') AND superseded_by IS NULL AND NOT retracted"


def upgrade():
    op.execute("""
        CREATE TABLE activity_months (
            tenant_id uuid NOT NULL,
            month date NOT NULL,
            customer_id uuid NOT NULL,
            counts integer[] NOT NULL,
            CONSTRAINT pk_activity_months PRIMARY KEY (tenant_id, month, customer_id)
        )""")
    op.execute("ALTER TABLE accounts ADD COLUMN last_human_at timestamptz")
    op.execute(f"""
        CREATE FUNCTION activity_months_add(a activities, delta integer) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            zone text;
            local timestamp;
            day integer;
            slot integer;
            fresh integer[] := array_fill(0, ARRAY[{SLOTS}]);
        BEGIN
            SELECT timezone INTO zone FROM tenant_settings WHERE tenant_id = a.tenant_id;
            local := a.occurred_at AT TIME ZONE coalesce(zone, 'UTC');
            day := extract(day FROM local)::integer;
            slot := ({KIND.format(a='a')} + 1) * 31 + day;
            fresh[day] := delta;
            fresh[slot] := delta;
            INSERT INTO activity_months AS m (tenant_id, month, customer_id, counts)
            VALUES (a.tenant_id, date_trunc('month', local)::date, a.customer_id, fresh)
            ON CONFLICT (tenant_id, month, customer_id) DO UPDATE
            SET counts[day] = m.counts[day] + delta, counts[slot] = m.counts[slot] + delta;
        END $$;

        -- a current version counts once; a superseded one stops counting (its successor counts, unless
        -- it is a retraction); the last human touch follows
        CREATE FUNCTION activities_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM activity_months_add(NEW, 1);
                IF NEW.actor_type IN ('member', 'contact') THEN
                    INSERT INTO accounts AS acc (tenant_id, customer_id, last_human_at)
                    VALUES (NEW.tenant_id, NEW.customer_id, NEW.occurred_at)
                    ON CONFLICT (tenant_id, customer_id) DO UPDATE SET last_human_at = EXCLUDED.last_human_at
                    WHERE acc.last_human_at IS NULL OR acc.last_human_at < EXCLUDED.last_human_at;
                END IF;
            ELSE
                PERFORM activity_months_add(OLD, -1);
                IF OLD.actor_type IN ('member', 'contact') THEN
                    UPDATE accounts SET last_human_at = (
                        SELECT max(h.occurred_at) FROM activities h
                        WHERE h.tenant_id = OLD.tenant_id AND h.customer_id = OLD.customer_id
                          AND h.actor_type IN ('member', 'contact') AND h.superseded_by IS NULL AND NOT h.retracted)
                    WHERE tenant_id = OLD.tenant_id AND customer_id = OLD.customer_id;
                END IF;
            END IF;
            RETURN NULL;
        END $$;

        CREATE TRIGGER activities_count_insert AFTER INSERT ON activities FOR EACH ROW
        WHEN (NEW.superseded_by IS NULL AND NOT NEW.retracted) EXECUTE FUNCTION activities_count();
        CREATE TRIGGER activities_count_supersede AFTER UPDATE OF superseded_by ON activities FOR EACH ROW
        WHEN (OLD.superseded_by IS NULL AND NEW.superseded_by IS NOT NULL AND NOT OLD.retracted)
        EXECUTE FUNCTION activities_count();

        -- counts (n) at slots (slot) as one dense counts array
        CREATE FUNCTION activity_months_dense(slot integer[], n bigint[]) RETURNS integer[]
        LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE
            out integer[] := array_fill(0, ARRAY[{SLOTS}]);
        BEGIN
            FOR j IN 1 .. coalesce(array_length(slot, 1), 0) LOOP
                out[slot[j]] := out[slot[j]] + n[j];
            END LOOP;
            RETURN out;
        END $$;

        -- the read model of one tenant from its log, in its timezone (the caller holds the log's writers)
        CREATE FUNCTION activity_months_rebuild(tenant uuid) RETURNS void LANGUAGE sql AS $$
            DELETE FROM activity_months WHERE tenant_id = tenant;
            INSERT INTO activity_months (tenant_id, month, customer_id, counts)
            SELECT tenant, month, customer_id, activity_months_dense(array_agg(slot), array_agg(n))
            FROM (
                SELECT date_trunc('month', local)::date AS month, customer_id, block * 31 + extract(day FROM local)::integer
                       AS slot, count(*) AS n
                FROM (SELECT a.customer_id, {KIND.format(a='a')} + 1 AS kind,
                             a.occurred_at AT TIME ZONE coalesce(
                                 (SELECT timezone FROM tenant_settings WHERE tenant_id = tenant), 'UTC') AS local
                      FROM activities a
                      WHERE a.tenant_id = tenant AND a.superseded_by IS NULL AND NOT a.retracted) live
                CROSS JOIN LATERAL (VALUES (0), (live.kind)) AS blocks(block)
                GROUP BY 1, 2, 3) per_slot
            GROUP BY month, customer_id;
            UPDATE accounts SET last_human_at = NULL WHERE tenant_id = tenant;
            INSERT INTO accounts (tenant_id, customer_id, last_human_at)
            SELECT tenant, customer_id, max(occurred_at) FROM activities
            WHERE tenant_id = tenant AND {LIVE_HUMAN} GROUP BY customer_id
            ON CONFLICT (tenant_id, customer_id) DO UPDATE SET last_human_at = EXCLUDED.last_human_at;
        $$;
    """)
    op.execute("LOCK TABLE activities IN SHARE MODE")
    op.execute("SELECT activity_months_rebuild(t.tenant_id) FROM (SELECT DISTINCT tenant_id FROM activities) t")


def downgrade():
    op.execute("DROP TRIGGER activities_count_supersede ON activities")
    op.execute("DROP TRIGGER activities_count_insert ON activities")
    op.execute("DROP FUNCTION activity_months_rebuild(uuid)")
    op.execute("DROP FUNCTION activity_months_dense(integer[], bigint[])")
    op.execute("DROP FUNCTION activities_count()")
    op.execute("DROP FUNCTION activity_months_add(activities, integer)")
    op.execute("ALTER TABLE accounts DROP COLUMN last_human_at")
    op.execute("DROP TABLE activity_months")
