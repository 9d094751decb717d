"""PostgreSQL stops for a few seconds under a steady load of writes, and starts again (issue 13).

The suite's databases live on a PostgreSQL cluster of the test's own (tests/faults/conftest.py),
never the machine's shared server. While it is down every failing request is a clean 503 (the
services say "database unavailable"; no 500 or 502); no process dies; services and relays report
not-ready and stay live; afterwards every write that succeeded reaches the timeline and the reports
exactly once, and the SLA clock of the tickets service still fires.
"""
from __future__ import annotations

import time
import uuid

import pytest

from fault_load import (SteadyLoad, check_answers, check_no_restart, check_nothing_left_over, check_stored_once,
                        execute, pids, process_statuses)
from harness import eventually

WARM_UP, DOWN_FOR, AFTER = 4.0, 5.0, 6.0
RECOVERY_DEADLINE = 30.0


@pytest.fixture(autouse=True)
def _every_process_running_after_each_test():
    """This test runs on its own suite (not the shared one), and restarts its database itself."""
    yield


def statuses(suite, path: str) -> dict[str, int]:
    return process_statuses(suite, path, timeout=8.0)  # a service waits on its pool timeout meanwhile


def test_the_suite_survives_a_database_restart_under_load(own_suite):
    suite, cluster = own_suite, own_suite.database
    tenant = suite.new_tenant()
    before = pids(suite)
    load = SteadyLoad(suite, tenant).start()
    looks: list[tuple[float, float, dict, dict]] = []  # (asked, answered, /readyz, /healthz)
    try:
        load.run_for(WARM_UP)
        cluster.stop_server()
        down_at = time.monotonic()
        while time.monotonic() - down_at < DOWN_FOR:
            asked = time.monotonic()
            ready, live = statuses(suite, "/readyz"), statuses(suite, "/healthz")
            looks.append((asked, time.monotonic(), ready, live))
            load.run_for(0.5)
        starting_at = time.monotonic()
        cluster.start_server()
        up_at = time.monotonic()
        eventually(lambda: all(s == 200 for s in statuses(suite, "/readyz").values()), RECOVERY_DEADLINE,
                   "every process ready again after the database's return")
        ready_seconds = time.monotonic() - up_at
        load.run_for(AFTER)
    finally:
        load.stop()
    outage = load.between(down_at, up_at)
    print(f"\ndatabase restart: {load.summary()}; outage {dict(load.statuses(outage))}; "
          f"ready {ready_seconds:.1f}s and serving {load.first_success_after(up_at)} after the database's return")

    # what the probes said while the database was certainly down (asked after the stop, answered before the start)
    down_looks = [(ready, live) for asked, answered, ready, live in looks if answered < starting_at]
    assert down_looks, "no probe answered while the database was down"
    for ready, live in down_looks:
        assert all(s == 200 for s in live.values()), f"liveness failed while the database was down: {live}"
        with_database = {n: s for n, s in ready.items() if n != "gateway"}  # the gateway has no database
        assert all(s == 503 for s in with_database.values()), f"ready while the database was down: {with_database}"
    check_answers(load)
    failed = [a for a in load.answers if not a.ok]
    assert failed, "the restart cost no request: it did not happen under load"
    not_503 = [(a.kind, a.status, a.problem) for a in failed if a.status != 503]
    assert not not_503, f"requests failing during a database restart must be 503s: {not_503[:5]}"
    assert all(v is not None for v in load.first_success_after(up_at).values())
    check_no_restart(suite, before)
    check_stored_once(suite, tenant, load)
    check_nothing_left_over(suite, suite.broker.queue_depths)

    # the SLA clock lived through it: a timer made due now is announced on the timeline
    tid = uuid.UUID(tenant.id)
    ticket_id = suite.query("tickets", "SELECT ticket_id FROM ticket_sla_timers WHERE tenant_id = :t "
                                       "AND met_at IS NULL AND deadline IS NOT NULL LIMIT 1", t=tid)[0][0]
    assert execute(suite, "tickets", "UPDATE ticket_sla_timers SET deadline = now() - interval '1 second', "
                                     "warn_at = now() - interval '2 seconds' WHERE ticket_id = :k "
                                     "AND met_at IS NULL AND deadline IS NOT NULL", k=ticket_id)
    execute(suite, "tickets", "NOTIFY custops_sla")  # wakes the clock (it would look within 30 s anyway)
    eventually(lambda: suite.query("timeline", "SELECT 1 FROM activities WHERE tenant_id = :t AND subject_id = :k "
                                               "AND type = 'ticket.sla_breached'", t=tid, k=ticket_id),
               RECOVERY_DEADLINE, "the SLA clock announced the breach after the database restart", interval=0.5)
