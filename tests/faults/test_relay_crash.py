"""A relay that dies after publishing but before marking its rows sent: the next relay publishes the
same envelope again, and the consumers' inboxes absorb the duplicate. In either layout: the relay a
process of its own, or inside its service's process (then the whole service dies)."""
from __future__ import annotations

import pytest

from harness import (create_customer, create_ticket, eventually, inbox_claims, outbox_row,
                     timeline_activities)

DEADLINE = 20.0
CRASH_EXIT_CODE = 137  # custops.outbox.Relay._before_mark under CUSTOPS_RELAY_CRASH_AFTER_PUBLISH=1


class RelayStages:
    """The tickets processes through the test, in both layouts: `pause()` leaves tickets served
    but its outbox unrelayed, `crash()` starts a relay that dies after its first publish (exit 137),
    `resume()` brings the normal layout back.

    With standalone relays (a `tickets-relay` Procfile process) that is the relay process. With the
    relay inside the tickets service (the default) it is the service: served by one started with
    CUSTOPS_RELAY=standalone while paused, crashing as a whole, the service itself again after."""

    def __init__(self, suite):
        self.suite = suite
        self.standalone = "tickets-relay" in suite.procs
        self.normal = "tickets-relay" if self.standalone else "tickets"
        command = suite.procs[self.normal].command
        self.crashing = suite.add(f"{self.normal}-crashing", command,
                                  extra_env={"CUSTOPS_RELAY_CRASH_AFTER_PUBLISH": "1"}).name
        self.unrelayed = None if self.standalone else suite.add(
            "tickets-unrelayed", command, extra_env={"CUSTOPS_RELAY": "standalone"}).name

    def pause(self) -> None:
        self.suite.stop(self.normal)
        if self.unrelayed:
            self.suite.start(self.unrelayed)

    def crash(self) -> int:
        if self.unrelayed:
            self.suite.stop(self.unrelayed)
        self.suite.start(self.crashing, wait=False)
        return self.suite.procs[self.crashing].popen.wait(timeout=60)

    def resume(self) -> None:
        for name in (self.crashing, self.unrelayed):
            if name:
                self.suite.stop(name)
        if not self.suite.procs[self.normal].alive():
            self.suite.start(self.normal)


@pytest.fixture
def stages(suite):
    stages = RelayStages(suite)
    try:
        yield stages
    finally:
        stages.resume()  # the normal layout is back whatever happens


def test_a_republished_event_is_handled_once(suite, tenant, stages):
    api = tenant.api
    customer = create_customer(api)
    stages.pause()
    # created while nothing relays, so the crashing relay's first batch certainly holds it
    ticket = create_ticket(api, customer["id"], subject="published twice")
    row = outbox_row("tickets", "ticket.created", "ticket_id", ticket["id"])
    assert row.published_at is None

    duplicates = dict(event_type="ticket.created", result="duplicate")
    duplicates_before = suite.metric_value("timeline", "custops_events_consumed_total", **duplicates)

    assert stages.crash() == CRASH_EXIT_CODE, suite.tail(stages.crashing)
    assert "crashing after publish" in suite.log(stages.crashing)
    assert outbox_row("tickets", "ticket.created", "ticket_id", ticket["id"]).published_at is None

    # the first publish reached the timeline although the relay never marked the row
    eventually(lambda: len(timeline_activities(tenant.id, "ticket.created", ticket["id"])) == 1, DEADLINE,
               "the ticket on the timeline from the crashed relay's publish")

    stages.resume()
    eventually(lambda: outbox_row("tickets", "ticket.created", "ticket_id", ticket["id"]).status == "sent",
               DEADLINE, "the outbox row marked sent by the restarted relay")
    eventually(lambda: suite.metric_value("timeline", "custops_events_consumed_total", **duplicates)
               > duplicates_before, DEADLINE, "the timeline saw the second delivery as a duplicate")

    assert len(timeline_activities(tenant.id, "ticket.created", ticket["id"])) == 1
    claims = inbox_claims("timeline", [row.id])
    assert claims and set(claims.values()) == {1}, claims
