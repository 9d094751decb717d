"""psycopg 3 must not block the eventlet hub: concurrent workers' queries have to interleave.

With psycopg's default C wait function, 10 concurrent `pg_sleep(0.5)` take ~5 s (serialised);
cooperative they take ~0.5 s. This fails if a psycopg upgrade or a lost setting brings the
blocking back. Workers run in a real nameko container, called over the real broker.
"""
import time

import eventlet
from nameko.rpc import rpc
from sqlalchemy import text

from custops.db import Database
from custops.rpc import RpcClient
from probe import create_probe_database


class SleepyService:
    name = "sleepyprobe"
    db = Database()

    @rpc
    def nap(self, seconds):
        with self.db.read() as session:
            session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return True


def test_ten_concurrent_queries_interleave(container_factory, nameko_config):
    create_probe_database()
    container = container_factory(SleepyService, nameko_config)
    container.start()
    client = RpcClient(timeout=20, size=10)
    client.call("sleepyprobe", "nap", 0)  # warm up connections

    pool = eventlet.GreenPool(10)
    started = time.monotonic()
    results = list(pool.imap(lambda _: client.call("sleepyprobe", "nap", 0.5), range(10)))
    elapsed = time.monotonic() - started
    client.close()

    assert results == [True] * 10
    # serialised would be >= 5.0 s; interleaved is ~0.5 s plus overhead
    assert elapsed < 2.5, f"10 x pg_sleep(0.5) took {elapsed:.2f}s: psycopg is blocking the eventlet hub"
