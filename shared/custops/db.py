"""Database plumbing: engines, transactions, and the nameko dependency provider.

psycopg 3 waits on sockets in C by default, which blocks the whole eventlet hub (STACK.md: 10
concurrent pg_sleep(0.5) took 5 s). `cooperative_psycopg()` selects the select()-based wait, which
eventlet's green `select` makes cooperative; `wait_poll`/`wait_epoll` are broken under eventlet.
A regression test (shared/tests/test_db_concurrency.py) fails if the calls serialise again.

A database restart (issue 13): pooled connections are pre-pinged, so the first checkout after a
restart replaces the dead ones; a connect gives up after `CONNECT_TIMEOUT` seconds. While the
database cannot be reached, a worker's `self.db` raises `custops.errors.ServiceUnavailable`
(registered with nameko, so the gateway answers a clean 503 rather than a 502 for an unknown remote
error), and event consumers wait for the database instead of spending deliveries on it.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from custops import config

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")


def cooperative_psycopg() -> None:
    import psycopg.waiting

    psycopg.waiting.wait = psycopg.waiting.wait_selector


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """A service's metadata, with the outbox and inbox tables every service carries."""
    from custops import inbox, outbox

    metadata = MetaData(naming_convention=NAMING)
    outbox.define_table(metadata)
    inbox.define_table(metadata)
    return metadata


_engines: dict[str, Engine] = {}
CONNECT_TIMEOUT = 5  # seconds (libpq's connect_timeout)
# SQLSTATEs that mean "no usable connection": admin/crash shutdown, starting up, too many connections
_UNAVAILABLE_STATES = {"57P01", "57P02", "57P03", "53300"}


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database could not be reached or dropped the connection (as
    opposed to a statement failing): connection refused or lost, shutdown, pool exhausted."""
    import psycopg
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, psycopg.InterfaceError):  # e.g. "the connection is closed"
        return True
    if isinstance(orig, psycopg.OperationalError):
        state = orig.sqlstate
        return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES
    return False


@contextmanager
def unavailable_as_service_error(service: str) -> Iterator[None]:
    """Re-raise a database-unreachable error as `ServiceUnavailable` (a 503 for the caller)."""
    try:
        yield
    except Exception as exc:
        if is_unavailable(exc):
            from custops.errors import ServiceUnavailable

            orig = getattr(exc, "orig", None) or exc
            raise ServiceUnavailable(f"{service}: database unavailable ({type(orig).__name__})") from exc
        raise


def engine_for(service: str, **kw) -> Engine:
    url = config.database_url(service)
    if url not in _engines:
        from custops import metrics

        engine = create_engine(
            url,
            pool_size=int(os.environ.get("CUSTOPS_DB_POOL", "10")),
            max_overflow=10,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
            **kw,
        )
        metrics.instrument_engine(engine, service)
        _engines[url] = engine
    return _engines[url]


@contextmanager
def transaction(engine: Engine, service: str) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error.

    `session.info["service"]` names the producer for events added with `outbox.add`.
    """
    session = Session(engine, expire_on_commit=False, info={"service": service})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


try:  # the nameko dependency provider; the library also works without nameko loaded
    from nameko.extensions import DependencyProvider
except ImportError:  # pragma: no cover
    DependencyProvider = object  # type: ignore[assignment,misc]


class DatabaseAccess:
    """What a worker sees as `self.db`."""

    def __init__(self, engine: Engine, service: str, consumer: str | None):
        self.engine = engine
        self.service = service
        self.consumer = consumer

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with unavailable_as_service_error(self.service), transaction(self.engine, self.service) as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries only (rolled back at the end)."""
        with unavailable_as_service_error(self.service), _read_session(self.engine, self.service) as session:
            yield session


@contextmanager
def _read_session(engine: Engine, service: str) -> Iterator[Session]:
    session = Session(engine, info={"service": service})
    try:
        yield session
    finally:
        session.rollback()
        session.close()


class Database(DependencyProvider):
    """nameko dependency: the service's own database (never another service's)."""

    def setup(self):
        cooperative_psycopg()
        self.service = self.container.service_name
        self.engine = engine_for(self.service)

    def stop(self):
        self.engine.dispose()

    def get_dependency(self, worker_ctx):
        entrypoint = worker_ctx.entrypoint
        consumer = f"{self.service}.{entrypoint.method_name}"
        return DatabaseAccess(self.engine, self.service, consumer)
