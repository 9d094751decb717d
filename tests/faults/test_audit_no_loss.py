"""The audit log loses and doubles nothing when the customers service (its consumer) is killed (-9)
mid-load and restarted: every committed ticket.created has exactly one audit record."""
from __future__ import annotations

from fault_load import tickets_while_killed
from harness import create_customer, eventually, inbox_claims, query

TICKETS = 200
KILL_AFTER, RESTART_AFTER = 60, 120
CLIENTS = 4
CONVERGE_DEADLINE = 90.0


def test_no_audit_record_is_lost_or_doubled_when_the_customers_service_is_killed(suite, tenant):
    customer = create_customer(tenant.api)
    load = tickets_while_killed(suite, tenant, customer, "customers", TICKETS, KILL_AFTER, RESTART_AFTER, CLIENTS)
    created = [r.json()["id"] for r in load.created]
    created_at_kill, created_at_restart = load.created_at_kill, load.created_at_restart
    # the fault hit mid-load: tickets were committed while the audit consumer was down
    assert created_at_kill < created_at_restart, (created_at_kill, created_at_restart)

    # what must be in the log: every ticket.created the tickets service committed for the tenant
    # (a request that failed during the kill may or may not have committed one; the outbox knows)
    event_ids = {str(row.id) for row in query(
        "tickets", "SELECT id FROM outbox WHERE tenant_id = :t AND type = 'ticket.created'", t=tenant.id)}
    assert set(created) <= {row.ticket for row in query(
        "tickets", "SELECT envelope->'data'->>'ticket_id' AS ticket FROM outbox WHERE tenant_id = :t "
                   "AND type = 'ticket.created'", t=tenant.id)}

    def recorded() -> list[str]:
        return [str(row.id) for row in query(
            "customers", "SELECT id FROM audit_log WHERE tenant_id = :t AND action = 'ticket.created'", t=tenant.id)]

    eventually(lambda: len(recorded()) >= len(event_ids), CONVERGE_DEADLINE,
               f"{len(event_ids)} ticket.created records in the audit log", interval=1.0)
    records = recorded()
    assert sorted(records) == sorted(event_ids)  # each event exactly once (the id is the primary key)
    assert set(inbox_claims("customers", event_ids).values()) == {len(event_ids)}
