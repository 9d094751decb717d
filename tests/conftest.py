"""Fixtures of the cross-service tests: the whole suite of processes, once per test session.

Every test under tests/ is an end-to-end test (marked `e2e` and `integration`); tests/faults/ are also marked `fault`.
A process of deploy/Procfile without code (a service package not installed, no gateway) fails the
suite rather than skipping it: a skipped end-to-end suite would pass for nothing.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import Suite, Tenant

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if HERE in path.parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.integration)  # every process of the suite runs on the real broker
            if (HERE / "faults") in path.parents:
                item.add_marker(pytest.mark.fault)


@pytest.fixture(scope="session")
def suite(custops_setup):
    suite = Suite()
    missing = suite.missing()
    if missing:
        pytest.fail("the suite cannot start, a process of deploy/Procfile has no code: " + "; ".join(missing))
    suite.setup_broker_and_databases()
    try:
        suite.start_all()
        yield suite
    finally:
        suite.stop_all()


@pytest.fixture(autouse=True)
def _every_process_running_after_each_test(suite):
    """Tests do not depend on order: a test that stopped or killed a process and failed before
    starting it again does not leave it down for the next one."""
    yield
    revived = suite.revive()
    if revived:
        print(f"harness: restarted {', '.join(revived)} after the test")


@pytest.fixture
def tenant(suite) -> Tenant:
    return suite.new_tenant()
