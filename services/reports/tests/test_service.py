"""reports against the real RabbitMQ and PostgreSQL: tickets counted per customer and tenant week.

Events are published into the broker as the tickets and customers services would publish them;
the reports service runs in-process (one container per test, so no other consumer splits its queues).
"""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_waiter

from custops import outbox
from custops.contracts.customers import TenantCreated, TenantUpdated
from custops.contracts.reports import MAX_REPORT_WEEKS
from custops.contracts.tickets import TicketCreated, TicketStatusChanged
from custops.errors import InvalidInput, NotFound
from custops.entrypoints import handled_events
from custops.events import envelope_for
from reports.service import ReportsService
from reports.weeks import iso_week_of


def publish_and_wait(container, method, envelopes, timeout=15):
    """Publish the envelopes (in this order) and wait until `method` has handled each (every copy)."""
    waiting = [str(e.id) for e in envelopes]
    failures = []

    def callback(worker_ctx, result, exc_info):
        for event_id, failure in handled_events(worker_ctx):
            if event_id in waiting:
                waiting.remove(event_id)
                if failure:
                    failures.append(failure)
        return not waiting

    publisher = outbox.Publisher()
    try:
        with entrypoint_waiter(container, method, callback=callback, timeout=timeout):
            assert publisher.publish_batch([e.model_dump(mode="json") for e in envelopes]) == set()
    finally:
        publisher.close()
    assert failures == []


def created(tenant_id, customer_id, at, ticket_id=None):
    return envelope_for(TicketCreated(
        ticket_id=ticket_id or uuid.uuid4(), number=1, customer_id=customer_id, subject="s", priority="normal",
        status="new", source="api", created_at=at), tenant_id)


def moved(tenant_id, customer_id, new_status, at, old_status="open", ticket_id=None):
    return envelope_for(TicketStatusChanged(
        ticket_id=ticket_id or uuid.uuid4(), number=1, customer_id=customer_id, old_status=old_status,
        new_status=new_status, changed_at=at), tenant_id)


def tenant_zone(tenant_id, tz, at=None, seq=None, updated=False):
    data = (TenantUpdated(tenant_id=tenant_id, name="T", timezone=tz, changes={"timezone": tz}) if updated
            else TenantCreated(tenant_id=tenant_id, name="T", timezone=tz))
    return envelope_for(data, tenant_id, occurred_at=at, sequence=seq)


def this_week_at_noon_utc():
    """Noon UTC on Monday of the current ISO week (UTC weeks: the tenants here have no settings)."""
    now = datetime.now(timezone.utc)
    _, _, monday = iso_week_of(now, "UTC")
    return datetime(monday.year, monday.month, monday.day, 12, tzinfo=timezone.utc)


def counts(rpc, tenant_id, customer_id=None, weeks=None):
    args = (str(customer_id) if customer_id else None,) + ((weeks,) if weeks else ())
    return [(i["week_start"], i["created"], i["resolved"], i["closed"])
            for i in rpc.call("reports", "ticket_volume", str(tenant_id), *args)["items"]]


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


def test_status_changes_count_resolved_and_closed_tickets_only(reports, rpc, tenant_id):
    customer_id = uuid.uuid4()
    at = this_week_at_noon_utc()
    resolved_then_closed = uuid.uuid4()
    events = [moved(tenant_id, customer_id, "resolved", at), moved(tenant_id, customer_id, "resolved", at),
              moved(tenant_id, customer_id, "resolved", at, ticket_id=resolved_then_closed),
              moved(tenant_id, customer_id, "closed", at + timedelta(minutes=1), old_status="resolved",
                    ticket_id=resolved_then_closed),
              moved(tenant_id, customer_id, "pending", at), moved(tenant_id, customer_id, "open", at)]
    publish_and_wait(reports, "on_ticket_status_changed", events + [events[3]])

    [item] = rpc.call("reports", "ticket_volume", str(tenant_id), str(customer_id))["items"]
    assert (item["created"], item["resolved"], item["closed"]) == (0, 3, 1)


def test_a_ticket_resolved_reopened_and_resolved_again_counts_once_in_its_latest_week(reports, rpc, tenant_id):
    customer_id, ticket_id = uuid.uuid4(), uuid.uuid4()
    this_week = this_week_at_noon_utc()
    last_week = this_week - timedelta(weeks=1)

    def move(new, old, at):
        return moved(tenant_id, customer_id, new, at, old_status=old, ticket_id=ticket_id)

    first = move("resolved", "open", last_week)
    reopened = move("open", "resolved", last_week + timedelta(hours=1))
    again = move("resolved", "open", this_week)
    publish_and_wait(reports, "on_ticket_created", [created(tenant_id, customer_id, last_week, ticket_id)])
    publish_and_wait(reports, "on_ticket_status_changed", [first])
    assert counts(rpc, tenant_id) == [(last_week.date().isoformat(), 1, 1, 0)]
    publish_and_wait(reports, "on_ticket_status_changed", [reopened])
    assert counts(rpc, tenant_id) == [(last_week.date().isoformat(), 1, 0, 0)]  # open again: resolved nowhere
    publish_and_wait(reports, "on_ticket_status_changed", [again])
    assert counts(rpc, tenant_id) == [(this_week.date().isoformat(), 0, 1, 0), (last_week.date().isoformat(), 1, 0, 0)]
    assert rpc.call("reports", "ticket_volume", str(tenant_id))["totals"] == {"created": 1, "resolved": 1, "closed": 0}


def test_the_order_status_changes_arrive_in_does_not_change_the_count(reports, rpc, tenant_id):
    customer_id, ticket_id = uuid.uuid4(), uuid.uuid4()
    at = this_week_at_noon_utc() - timedelta(weeks=2)
    moves = [moved(tenant_id, customer_id, new, at + timedelta(minutes=n), old_status=old, ticket_id=ticket_id)
             for n, (old, new) in enumerate([("new", "resolved"), ("resolved", "open"), ("open", "resolved")])]
    # the last two at one instant: the producer's sequence orders them
    later = at + timedelta(hours=1)
    same_instant = [envelope_for(TicketStatusChanged(ticket_id=ticket_id, number=1, customer_id=customer_id,
                                                     old_status=old, new_status=new, changed_at=later),
                                 tenant_id, sequence=seq)
                    for seq, (old, new) in [(8, ("resolved", "closed")), (7, ("open", "resolved"))]]
    publish_and_wait(reports, "on_ticket_status_changed", list(reversed(moves)) + same_instant)
    week = at.date().isoformat()
    assert counts(rpc, tenant_id) == [(week, 0, 1, 1)]


def test_a_close_that_arrives_before_its_resolution_keeps_both(reports, rpc, tenant_id):
    customer_id, ticket_id = uuid.uuid4(), uuid.uuid4()
    resolved_at = this_week_at_noon_utc() - timedelta(weeks=1)
    closed_at = resolved_at + timedelta(weeks=1)
    resolve = moved(tenant_id, customer_id, "resolved", resolved_at, ticket_id=ticket_id)
    close = moved(tenant_id, customer_id, "closed", closed_at, old_status="resolved", ticket_id=ticket_id)
    publish_and_wait(reports, "on_ticket_status_changed", [close])
    publish_and_wait(reports, "on_ticket_status_changed", [resolve])
    assert counts(rpc, tenant_id) == [(closed_at.date().isoformat(), 0, 0, 1),
                                      (resolved_at.date().isoformat(), 0, 1, 0)]


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
    assert rpc.call("reports", "ticket_volume", str(tenant_id), None, MAX_REPORT_WEEKS)["totals"]["created"] == 5
    only_alice = rpc.call("reports", "ticket_volume", str(tenant_id), str(alice))
    assert [(i["week_start"], i["created"]) for i in only_alice["items"]] == [(first, 1), (second, 2)]
    assert rpc.call("reports", "ticket_volume", str(tenant_id), str(alice), 1)["totals"]["created"] == 1


def test_weeks_are_the_weeks_of_the_timezone_the_customers_service_tells(reports, rpc, tenant_id):
    customer_id = uuid.uuid4()
    assert rpc.call("reports", "get_settings", str(tenant_id)) == {"timezone": "UTC"}
    # a Sunday 23:30 UTC that is already Monday in Berlin, far enough back to be a finished week
    monday = iso_week_of(datetime.now(timezone.utc), "UTC")[2] - timedelta(weeks=3)
    sunday_late = datetime(monday.year, monday.month, monday.day, tzinfo=timezone.utc) - timedelta(minutes=30)
    publish_and_wait(reports, "on_ticket_created", [created(tenant_id, customer_id, sunday_late)])
    [(week, *_)] = counts(rpc, tenant_id)
    assert week == (monday - timedelta(weeks=1)).isoformat()  # UTC: still the week before

    t0 = datetime.now(timezone.utc)
    publish_and_wait(reports, "on_tenant_created", [tenant_zone(tenant_id, "Europe/Berlin", t0, 1)])
    assert rpc.call("reports", "get_settings", str(tenant_id)) == {"timezone": "Europe/Berlin"}
    [item] = rpc.call("reports", "ticket_volume", str(tenant_id))["items"]
    assert item["week_start"] == monday.isoformat()  # the tenant's week, history included
    assert (item["iso_year"], item["iso_week"]) == monday.isocalendar()[:2]

    # a later change applies; an older one arriving late does not undo it
    publish_and_wait(reports, "on_tenant_updated", [tenant_zone(tenant_id, "America/New_York", t0, 5, updated=True)])
    publish_and_wait(reports, "on_tenant_updated", [tenant_zone(tenant_id, "Asia/Tokyo", t0, 3, updated=True)])
    publish_and_wait(reports, "on_tenant_created", [tenant_zone(tenant_id, "UTC", t0 - timedelta(days=1), 1)])
    assert rpc.call("reports", "get_settings", str(tenant_id)) == {"timezone": "America/New_York"}
    [(week, *_)] = counts(rpc, tenant_id)
    assert week == (monday - timedelta(weeks=1)).isoformat()  # Sunday evening in New York


def test_tenants_never_see_each_others_volume(reports, rpc, tenant_id):
    customer_id = uuid.uuid4()
    publish_and_wait(reports, "on_ticket_created", [created(tenant_id, customer_id, this_week_at_noon_utc())])
    other = str(uuid.uuid4())
    assert rpc.call("reports", "ticket_volume", other) == {
        "items": [], "totals": {"created": 0, "resolved": 0, "closed": 0}}
    assert rpc.call("reports", "ticket_volume", other, str(customer_id))["items"] == []
    assert rpc.call("reports", "ticket_volume", str(tenant_id))["totals"]["created"] == 1


def test_bad_queries_are_refused(reports, rpc, tenant_id):
    for args in [(None, 0), (None, MAX_REPORT_WEEKS + 1), (None, "many"), ("not-a-customer",)]:
        with pytest.raises(InvalidInput):
            rpc.call("reports", "ticket_volume", str(tenant_id), *args)
    with pytest.raises(NotFound):
        rpc.call("reports", "ticket_volume", "not-a-tenant")
    assert not hasattr(ReportsService, "update_settings")  # the tenant's zone is the customers service's


def test_a_tenant_event_with_no_real_zone_is_dead_lettered_not_applied(reports, rpc, tenant_id):
    bad = tenant_zone(tenant_id, "Mars/Olympus_Mons", datetime.now(timezone.utc), 1)
    publisher = outbox.Publisher()
    try:
        with entrypoint_waiter(reports, "on_tenant_created", timeout=15,
                               callback=lambda ctx, result, exc_info: str(bad.id) in dict(handled_events(ctx))):
            publisher.publish_batch([bad.model_dump(mode="json")])
    finally:
        publisher.close()
    assert rpc.call("reports", "get_settings", str(tenant_id)) == {"timezone": "UTC"}
