"""Each service `kill -9`'d once under a steady load of writes, then started again (issue 13).

On the fault tests' own suite (tests/faults/conftest.py). While a service is dead the requests that
need it get a clear 503/504; nothing else restarts; once it is back every write that succeeded —
and every write stored although its caller got a 504 (it may have run) — is on the timeline and in
the reports exactly once, and no event waits in a queue or a dead-letter queue.
"""
from __future__ import annotations

import pytest

from fault_load import (SteadyLoad, check_answers, check_no_restart, check_nothing_left_over, check_stored_once,
                        pids)

SERVICES = ("customers", "tickets", "timeline", "billing", "mailsync", "reports")
BEFORE, DOWN, AFTER = 2.5, 2.0, 3.0


@pytest.fixture(autouse=True)
def _every_process_running_after_each_test(own_suite):
    """On its own suite: a test that failed with its service down leaves it running for the next."""
    yield
    own_suite.revive()


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_killed_under_load_loses_and_doubles_nothing(own_suite, service):
    suite = own_suite
    tenant = suite.new_tenant()
    before = pids(suite)
    load = SteadyLoad(suite, tenant).start()
    try:
        load.run_for(BEFORE)
        suite.kill9(service)
        load.run_for(DOWN)
        suite.start(service)
        load.run_for(AFTER)
    finally:
        load.stop()
    print(f"\nkill -9 {service}: {load.summary()}")

    check_answers(load)
    assert any(a.ok for a in load.answers), load.summary()
    check_no_restart(suite, before, except_for=service)
    check_stored_once(suite, tenant, load)
    check_nothing_left_over(suite, suite.broker.queue_depths)
