"""500 tickets while the timeline process is killed (-9) and restarted: none lost, none doubled."""
from __future__ import annotations

from fault_load import tickets_while_killed
from harness import (create_customer, eventually, inbox_claims, query, reported_created,
                     timeline_activities)

TICKETS = 500
KILL_AFTER, RESTART_AFTER = 150, 300
CLIENTS = 4
CONVERGE_DEADLINE = 90.0


def test_no_ticket_is_lost_or_doubled_when_the_timeline_is_killed(suite, tenant):
    api_for_checks = tenant.api
    customer = create_customer(api_for_checks)
    load = tickets_while_killed(suite, tenant, customer, "timeline", TICKETS, KILL_AFTER, RESTART_AFTER, CLIENTS)
    created, failures = load.created, load.failures
    created_at_kill, created_at_restart = load.created_at_kill, load.created_at_restart
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
