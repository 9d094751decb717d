"""Suites of the fault tests' own, for faults that must not touch the shared broker or database.

`own_broker_suite`: every Procfile process on a RabbitMQ node the tests start themselves
(tests/broker_node.py), with databases of their own on the shared PostgreSQL — restarting that node
disturbs nobody else. `own_database_suite`: the same on a PostgreSQL cluster of their own
(tests/pg_cluster.py), which a test may restart. A node or cluster that cannot be started fails the
tests that need it, saying why: they are never skipped.

Both are package-scoped (built when a test first needs them, gone after the last fault test), and
both keep their logs under var/test-logs/<suite>/.
"""
from __future__ import annotations

import os

import pytest

from broker_node import BrokerNode
from harness import E2E_DB_PREFIX, LOG_DIR, Suite
from pg_cluster import PgCluster


def _own_suite(name: str, amqp_uri: str, extra_env: dict) -> Suite:
    suite = Suite(amqp_uri=amqp_uri, extra_env=extra_env, log_dir=LOG_DIR / name, gateway_port=18480)
    missing = suite.missing()
    if missing:
        pytest.fail("the suite cannot start, a process of deploy/Procfile has no code: " + "; ".join(missing))
    return suite


def _start(suite: Suite) -> None:
    suite.setup_broker_and_databases()
    suite.start_all()


@pytest.fixture(scope="package")
def broker_node():
    try:
        node = BrokerNode.start_new()
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"a second RabbitMQ node (of the tests' own) could not be started: {exc}")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="package")
def own_broker_suite(broker_node):
    suite = _own_suite("own-broker", broker_node.amqp_uri,
                       {"CUSTOPS_DB_PREFIX": os.environ.get("CUSTOPS_FAULT_DB_PREFIX", E2E_DB_PREFIX + "brk_")})
    try:
        _start(suite)
        suite.broker = broker_node
        yield suite
    finally:
        suite.stop_all()
        suite.dispose_engines()


@pytest.fixture(scope="package")
def pg_cluster():
    try:
        cluster = PgCluster.start_new()
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"a PostgreSQL cluster of the tests' own could not be started: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="package")
def own_database_suite(pg_cluster):
    try:
        node = BrokerNode.start_new()
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"a RabbitMQ node (of the tests' own) could not be started: {exc}")
    suite = _own_suite("own-database", node.amqp_uri,
                       {"DATABASE_URL": pg_cluster.url, "CUSTOPS_DB_PREFIX": E2E_DB_PREFIX})
    try:
        _start(suite)
        suite.broker = node
        suite.database = pg_cluster
        yield suite
    finally:
        suite.stop_all()
        suite.dispose_engines()
        node.stop()
