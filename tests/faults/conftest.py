"""A suite of the fault tests' own, for faults that must not touch the shared broker or database.

`own_suite`: every Procfile process on a RabbitMQ node the tests start themselves
(tests/broker_node.py) and a PostgreSQL cluster they start themselves (tests/pg_cluster.py), each on
its own ports. A test may stop and restart either (`suite.broker`, `suite.database`) without
disturbing anybody else — other engineers, CI or a `make run` demo on the machine's main node and
server — and the shared server's connection limit (100) is none of its concern. A node or cluster
that cannot be started fails the tests that need it, saying why: they are never skipped.

Module-scoped: built for the test file that needs it and gone after it. Logs:
var/test-logs/own-<module>/.
"""
from __future__ import annotations

import pytest

from broker_node import BrokerNode
from harness import E2E_DB_PREFIX, LOG_DIR, Suite
from pg_cluster import PgCluster


@pytest.fixture(scope="module")
def own_suite(request):
    name = "own-" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    try:
        cluster = PgCluster.start_new()
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"a PostgreSQL cluster of the tests' own could not be started: {exc}")
    try:
        try:
            node = BrokerNode.start_new()
        except (RuntimeError, OSError) as exc:
            pytest.fail(f"a second RabbitMQ node (of the tests' own) could not be started: {exc}")
        try:
            suite = Suite(amqp_uri=node.amqp_uri, log_dir=LOG_DIR / name, gateway_port=18480,
                          extra_env={"DATABASE_URL": cluster.url, "CUSTOPS_DB_PREFIX": E2E_DB_PREFIX})
            missing = suite.missing()
            if missing:
                pytest.fail("the suite cannot start, a process of deploy/Procfile has no code: " + "; ".join(missing))
            suite.broker, suite.database = node, cluster
            try:
                suite.setup_broker_and_databases()
                suite.start_all()
                yield suite
            finally:
                suite.stop_all()
                suite.dispose_engines()
        finally:
            node.stop()
    finally:
        cluster.stop()
