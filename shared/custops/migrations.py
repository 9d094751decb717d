"""Alembic plumbing shared by every service: each service keeps its own migrations and database."""
from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config

from custops import config


def alembic_config(service: str) -> Config:
    pkg = importlib.import_module(service)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(pkg.__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", config.database_url(service).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, revision: str = "heads") -> None:
    # "heads": a service may carry sibling branches (two features migrated in parallel) until a merge
    command.upgrade(alembic_config(service), revision)


def run_env(metadata) -> None:
    """Body of every service's migrations/env.py."""
    from alembic import context
    from sqlalchemy import create_engine, pool

    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_database(service: str) -> bool:
    """Create the service's database if it is missing; True when it was created."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    target = make_url(config.database_url(service))
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
        return True


def drop_database(service: str) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    target = make_url(config.database_url(service))
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.database)))
