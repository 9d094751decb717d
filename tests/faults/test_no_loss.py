"""500 tickets while the timeline process is killed (-9) and restarted: none lost, none doubled."""
from __future__ import annotations

import queue
import threading
import time

from harness import (create_customer, eventually, inbox_claims, query, reported_created,
                     timeline_activities)

TICKETS = 500
KILL_AFTER, RESTART_AFTER = 150, 300
CLIENTS = 4
CONVERGE_DEADLINE = 90.0


def test_no_ticket_is_lost_or_doubled_when_the_timeline_is_killed(suite, tenant):
    api_for_checks = tenant.api
    customer = create_customer(api_for_checks)
    todo: queue.Queue[int] = queue.Queue()
    for n in range(TICKETS):
        todo.put(n)
    created, failures = [], []

    def client():
        api = suite.api(tenant.token)  # a session per thread: requests sessions are not thread-safe
        while True:
            try:
                n = todo.get_nowait()
            except queue.Empty:
                return
            response = api.post("/api/v1/tickets", json={"customer_id": customer["id"], "subject": f"load {n}"})
            (created if response.status_code == 201 else failures).append(response)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while len(created) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.005)
    suite.kill9("timeline")
    created_at_kill = len(created)
    while len(created) < RESTART_AFTER and time.monotonic() < deadline:
        time.sleep(0.005)
    created_at_restart = len(created)
    suite.start("timeline")
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    assert not failures, [f"{r.status_code} {r.text[:200]}" for r in failures[:5]]
    assert len(created) == TICKETS
    # the fault hit mid-load: tickets were created while the timeline was down
    assert created_at_kill < created_at_restart < TICKETS, (created_at_kill, created_at_restart)

    ticket_ids = {r.json()["id"] for r in created}
    assert len(ticket_ids) == TICKETS
    event_ids = [row.id for row in query(
        "tickets", "SELECT id FROM outbox WHERE tenant_id = :t AND type = 'ticket.created'", t=tenant.id)]
    assert len(event_ids) == TICKETS

    def timeline_caught_up():
        return len(timeline_activities(tenant.id, "ticket.created")) >= TICKETS

    eventually(timeline_caught_up, CONVERGE_DEADLINE, f"{TICKETS} ticket.created activities on the timeline",
               interval=1.0)
    activities = timeline_activities(tenant.id, "ticket.created")
    assert len(activities) == TICKETS
    assert set(activities) == ticket_ids  # each ticket exactly once
    assert set(inbox_claims("timeline", event_ids).values()) == {TICKETS}

    eventually(lambda: reported_created(api_for_checks, customer["id"]) >= TICKETS, CONVERGE_DEADLINE,
               f"{TICKETS} created in the ticket-volume report", interval=1.0)
    assert reported_created(api_for_checks, customer["id"]) == TICKETS
