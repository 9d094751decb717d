"""A relay that dies after publishing but before marking its rows sent: the next relay publishes the
same envelope again, and the consumers' inboxes absorb the duplicate."""
from __future__ import annotations

import pytest

from harness import (create_customer, create_ticket, eventually, inbox_claims, outbox_row,
                     timeline_activities)

DEADLINE = 20.0
CRASH_EXIT_CODE = 137  # custops.outbox.Relay._before_mark under CUSTOPS_RELAY_CRASH_AFTER_PUBLISH=1


@pytest.fixture
def crashing_relay(suite):
    """The tickets relay swapped for one that crashes after its first publish; the normal one is
    back afterwards whatever happens."""
    suite.stop("tickets-relay")
    name = "tickets-relay-crashing"
    suite.add(name, "custops relay tickets", extra_env={"CUSTOPS_RELAY_CRASH_AFTER_PUBLISH": "1"})
    try:
        yield name
    finally:
        suite.stop(name)
        if not suite.procs["tickets-relay"].alive():
            suite.start("tickets-relay")


def test_a_republished_event_is_handled_once(suite, tenant, crashing_relay):
    api = tenant.api
    customer = create_customer(api)
    # created while no relay runs, so the crashing relay's first batch certainly holds it
    ticket = create_ticket(api, customer["id"], subject="published twice")
    row = outbox_row("tickets", "ticket.created", "ticket_id", ticket["id"])
    assert row.published_at is None

    duplicates = dict(event_type="ticket.created", result="duplicate")
    duplicates_before = suite.metric_value("timeline", "custops_events_consumed_total", **duplicates)

    suite.start(crashing_relay, wait=False)
    assert suite.procs[crashing_relay].popen.wait(timeout=30) == CRASH_EXIT_CODE, suite.tail(crashing_relay)
    assert "crashing after publish" in suite.log(crashing_relay)
    assert outbox_row("tickets", "ticket.created", "ticket_id", ticket["id"]).published_at is None

    # the first publish reached the timeline although the relay never marked the row
    eventually(lambda: len(timeline_activities(tenant.id, "ticket.created", ticket["id"])) == 1, DEADLINE,
               "the ticket on the timeline from the crashed relay's publish")

    suite.start("tickets-relay")
    eventually(lambda: outbox_row("tickets", "ticket.created", "ticket_id", ticket["id"]).status == "sent",
               DEADLINE, "the outbox row marked sent by the restarted relay")
    eventually(lambda: suite.metric_value("timeline", "custops_events_consumed_total", **duplicates)
               > duplicates_before, DEADLINE, "the timeline saw the second delivery as a duplicate")

    assert len(timeline_activities(tenant.id, "ticket.created", ticket["id"])) == 1
    claims = inbox_claims("timeline", [row.id])
    assert claims and set(claims.values()) == {1}, claims
