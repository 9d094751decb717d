from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool, text

from custops.migrations import run_env
from reports.models import metadata


def _forget_versions_listed_beside_a_descendant() -> None:
    """0006s was first a sibling of 0004a and then made the merge of 0004a's branch (a fresh database
    must create 0004a's tables first). A database that applied it before lists 0004a beside its
    descendant, which alembic refuses ("overlaps"): such an entry says nothing its descendant does
    not, so it is dropped (no schema changes)."""
    if context.is_offline_mode():
        return
    script = ScriptDirectory.from_config(context.config)
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.begin() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return
        listed = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        known = {rev.revision for rev in script.walk_revisions()}
        if not listed <= known:
            return  # a revision this code does not know: alembic's own error says so
        ancestors = {rev.revision for head in listed for rev in script.iterate_revisions(head, "base")
                     if rev.revision != head}
        for stale in listed & ancestors:
            conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": stale})
    engine.dispose()


_forget_versions_listed_beside_a_descendant()
run_env(metadata)
