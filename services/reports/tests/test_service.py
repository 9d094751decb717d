"""reports against the real RabbitMQ and PostgreSQL: ticket events rolled up per customer and week.

Events are published into the broker as the tickets service would publish them; the reports
service runs in-process (one container per test, so no other consumer splits its queues).
"""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_waiter

from custops import outbox
from custops.contracts.tickets import TicketCreated, TicketStatusChanged
from custops.errors import InvalidInput, NotFound
from custops.events import envelope_for
from reports.service import ReportsService
from reports.weeks import iso_week_of


@pytest.fixture
def reports(container_factory, nameko_config):
    container = container_factory(ReportsService, nameko_config)
    container.start()
    return container


def publish_and_wait(container, method, envelopes, timeout=15):
    """Publish the envelopes and wait until `method` has handled each of them (every copy)."""
    waiting = [str(e.id) for e in envelopes]
    failures = []

    def callback(worker_ctx, result, exc_info):
        body = worker_ctx.args[0]
        event_id = (body if isinstance(body, dict) else json.loads(body)).get("id")
        if event_id in waiting:
            waiting.remove(event_id)
            if exc_info:
                failures.append(exc_info)
        return not waiting

    publisher = outbox.Publisher()
    try:
        with entrypoint_waiter(container, method, callback=callback, timeout=timeout):
            assert publisher.publish_batch([e.model_dump(mode="json") for e in envelopes]) == set()
    finally:
        publisher.close()
    assert failures == []


def created(tenant_id, customer_id, at):
    return envelope_for(TicketCreated(
        ticket_id=uuid.uuid4(), number=1, customer_id=customer_id, subject="s", priority="normal",
        status="new", source="api", created_at=at), tenant_id)


def moved(tenant_id, customer_id, new_status, at, old_status="open"):
    return envelope_for(TicketStatusChanged(
        ticket_id=uuid.uuid4(), number=1, customer_id=customer_id, old_status=old_status,
        new_status=new_status, changed_at=at), tenant_id)


def this_week_at_noon_utc():
    """Noon UTC on Monday of the current ISO week (UTC weeks: the tenants here have no settings)."""
    now = datetime.now(timezone.utc)
    _, _, monday = iso_week_of(now, "UTC")
    return datetime(monday.year, monday.month, monday.day, 12, tzinfo=timezone.utc)


def test_three_tickets_in_one_week_count_three_and_duplicates_do_not_count(reports, rpc, tenant_id):
    customer_id = uuid.uuid4()
    monday_noon = this_week_at_noon_utc()
    events = [created(tenant_id, customer_id, monday_noon + timedelta(minutes=m)) for m in (0, 1, 2)]
    publish_and_wait(reports, "on_ticket_created", events + [events[0], events[2]])

    result = rpc.call("reports", "ticket_volume", str(tenant_id))
    year, week, monday = iso_week_of(monday_noon, "UTC")
    assert result == {
        "items": [{"customer_id": str(customer_id), "iso_year": year, "iso_week": week,
                   "week_start": monday.isoformat(), "created": 3, "resolved": 0, "closed": 0}],
        "totals": {"created": 3, "resolved": 0, "closed": 0},
    }


def test_status_changes_count_resolved_and_closed_only(reports, rpc, tenant_id):
    customer_id = uuid.uuid4()
    at = this_week_at_noon_utc()
    events = [moved(tenant_id, customer_id, "resolved", at), moved(tenant_id, customer_id, "resolved", at),
              moved(tenant_id, customer_id, "closed", at, old_status="resolved"),
              moved(tenant_id, customer_id, "pending", at), moved(tenant_id, customer_id, "open", at, "resolved")]
    publish_and_wait(reports, "on_ticket_status_changed", events + [events[2]])

    [item] = rpc.call("reports", "ticket_volume", str(tenant_id), str(customer_id))["items"]
    assert (item["created"], item["resolved"], item["closed"]) == (0, 2, 1)


def test_weeks_are_newest_first_per_customer_filtered_and_bounded(reports, rpc, tenant_id):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    this_week = this_week_at_noon_utc()
    last_week = this_week - timedelta(weeks=1)
    long_ago = this_week - timedelta(weeks=20)
    publish_and_wait(reports, "on_ticket_created", [
        created(tenant_id, alice, this_week), created(tenant_id, alice, last_week),
        created(tenant_id, alice, last_week), created(tenant_id, bob, this_week), created(tenant_id, bob, long_ago)])

    result = rpc.call("reports", "ticket_volume", str(tenant_id))
    rows = [(i["week_start"], i["customer_id"], i["created"]) for i in result["items"]]
    first, second = (d.date().isoformat() for d in (this_week, last_week))
    # newest week first; within a week, by customer id
    assert rows == [(first, min(str(alice), str(bob)), 1), (first, max(str(alice), str(bob)), 1),
                    (second, str(alice), 2)]
    assert result["totals"] == {"created": 4, "resolved": 0, "closed": 0}  # 20 weeks ago is outside 12

    assert rpc.call("reports", "ticket_volume", str(tenant_id), None, 21)["totals"]["created"] == 5
    only_alice = rpc.call("reports", "ticket_volume", str(tenant_id), str(alice))
    assert [(i["week_start"], i["created"]) for i in only_alice["items"]] == [(first, 1), (second, 2)]
    assert rpc.call("reports", "ticket_volume", str(tenant_id), str(alice), 1)["totals"]["created"] == 1


def test_weeks_are_the_tenants_weeks(reports, rpc, tenant_id):
    customer_id = uuid.uuid4()
    assert rpc.call("reports", "get_settings", str(tenant_id)) == {"timezone": "UTC"}
    assert rpc.call("reports", "update_settings", str(tenant_id), {"timezone": "Europe/Berlin"}) == {
        "timezone": "Europe/Berlin"}
    # a Sunday 23:30 UTC that is already Monday in Berlin, far enough back to be a finished week
    monday = iso_week_of(datetime.now(timezone.utc), "UTC")[2] - timedelta(weeks=3)
    sunday_late = datetime(monday.year, monday.month, monday.day, tzinfo=timezone.utc) - timedelta(minutes=30)
    publish_and_wait(reports, "on_ticket_created", [created(tenant_id, customer_id, sunday_late)])

    [item] = rpc.call("reports", "ticket_volume", str(tenant_id))["items"]
    assert item["week_start"] == monday.isoformat()
    assert (item["iso_year"], item["iso_week"]) == monday.isocalendar()[:2]


def test_tenants_never_see_each_others_volume(reports, rpc, tenant_id):
    customer_id = uuid.uuid4()
    publish_and_wait(reports, "on_ticket_created", [created(tenant_id, customer_id, this_week_at_noon_utc())])
    other = str(uuid.uuid4())
    assert rpc.call("reports", "ticket_volume", other) == {
        "items": [], "totals": {"created": 0, "resolved": 0, "closed": 0}}
    assert rpc.call("reports", "ticket_volume", other, str(customer_id))["items"] == []
    assert rpc.call("reports", "ticket_volume", str(tenant_id))["totals"]["created"] == 1


def test_bad_queries_and_settings_are_refused(reports, rpc, tenant_id):
    for args in [(None, 0), (None, 105), (None, "many"), ("not-a-customer",)]:
        with pytest.raises(InvalidInput):
            rpc.call("reports", "ticket_volume", str(tenant_id), *args)
    with pytest.raises(NotFound):
        rpc.call("reports", "ticket_volume", "not-a-tenant")
    for payload in [{"timezone": "Mars/Base"}, {"timezone": ""}, {"tz": "UTC"}]:
        with pytest.raises(InvalidInput):
            rpc.call("reports", "update_settings", str(tenant_id), payload)
    assert rpc.call("reports", "get_settings", str(tenant_id)) == {"timezone": "UTC"}
