"""A throwaway producer/consumer ("outboxprobe") for testing the plumbing against the real broker
and database without touching any real service's queues or tables."""
from __future__ import annotations

import os

from sqlalchemy import Column, Integer, String, Table

from custops import config, db, migrations
from custops.entrypoints import Telemetry, consumes
from custops.events import EventData, contract

PROBE = "outboxprobe"

metadata = db.service_metadata()
effects = Table(
    "probe_effects", metadata,
    Column("n", Integer, primary_key=True),
    Column("label", String(50), nullable=False),
)


@contract(PROBE, "probe.happened")
class ProbeHappened(EventData):
    """Test-only event."""

    n: int
    label: str = ""


def create_probe_database():
    migrations.create_database(PROBE)
    engine = db.engine_for(PROBE)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(metadata.tables["outbox"].delete())
        conn.execute(metadata.tables["inbox"].delete())
        conn.execute(effects.delete())
    return engine


# Handlers fail on purpose while the label is listed here (the tests change it).
FAILING_LABELS: set[str] = set()
ATTEMPTS: dict[int, int] = {}


class ProbeService:
    name = "probeconsumer"

    db = db.Database()
    telemetry = Telemetry()

    @consumes(PROBE, "probe.happened")
    def on_probe(self, session, envelope, data):
        ATTEMPTS[data.n] = ATTEMPTS.get(data.n, 0) + 1
        if data.label in FAILING_LABELS:
            raise RuntimeError(f"probe {data.n} fails on purpose")
        session.execute(effects.insert().values(n=data.n, label=data.label))


# The in-test services keep their tables in the probe database.
for _svc in ("SLEEPYPROBE", "PROBECONSUMER"):
    os.environ[f"DATABASE_URL_{_svc}"] = config.database_url(PROBE)
