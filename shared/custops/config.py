"""Configuration from environment variables, with working local defaults."""
from __future__ import annotations

import os

from sqlalchemy.engine import make_url

SERVICES = ("customers", "tickets", "timeline", "billing", "mailsync", "reports")

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# Each service's HTTP side port (metrics, health) when CUSTOPS_HTTP_PORT is not set.
DEFAULT_HTTP_PORTS = {
    "customers": 8101,
    "tickets": 8102,
    "timeline": 8103,
    "billing": 8104,
    "mailsync": 8105,
    "reports": 8106,
}
DEFAULT_RELAY_PORT_OFFSET = 100  # relay of service X listens on X's port + 100


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)


def db_prefix() -> str:
    return os.environ.get("CUSTOPS_DB_PREFIX", "custops_")


def server_url() -> str:
    """The PostgreSQL server URL (any database) used to create the per-service databases."""
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def database_name(service: str) -> str:
    return f"{db_prefix()}{service}"


def database_url(service: str) -> str:
    """SQLAlchemy URL of a service's own database.

    `DATABASE_URL_<SERVICE>` wins; otherwise the database name is derived from `DATABASE_URL`.
    """
    explicit = os.environ.get(f"DATABASE_URL_{service.upper()}")
    url = make_url(explicit or server_url())
    if not explicit:
        url = url.set(database=database_name(service))
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def rpc_timeout() -> float:
    return float(os.environ.get("CUSTOPS_RPC_TIMEOUT", "5"))


def http_port(service: str) -> int:
    return int(os.environ.get("CUSTOPS_HTTP_PORT") or DEFAULT_HTTP_PORTS.get(service, 8100))


def relay_port(service: str) -> int:
    return int(os.environ.get("CUSTOPS_RELAY_PORT") or http_port(service) + DEFAULT_RELAY_PORT_OFFSET)


def delivery_limit() -> int:
    """How many times an event is delivered to a failing handler before it is dead-lettered."""
    return int(os.environ.get("CUSTOPS_DELIVERY_LIMIT", "5"))


def event_batch_size() -> int:
    """At most this many deliveries an event consumer handles in one transaction (issue 14)."""
    return max(1, int(os.environ.get("CUSTOPS_EVENT_BATCH", "100")))


def event_prefetch() -> int:
    """Unacknowledged deliveries per event queue: twice a batch, so the next batch arrives while one
    is handled."""
    return max(event_batch_size(), int(os.environ.get("CUSTOPS_EVENT_PREFETCH", str(2 * event_batch_size()))))


def nameko_config(service: str) -> dict:
    return {
        "AMQP_URI": amqp_uri(),
        "WEB_SERVER_ADDRESS": f"0.0.0.0:{http_port(service)}",
        "max_workers": int(os.environ.get("CUSTOPS_MAX_WORKERS", "10")),
        "parent_calls_tracked": 10,
        "SERIALIZER": "json",
    }
