"""timeline against the real RabbitMQ and PostgreSQL.

Events are published into the broker as their producers would publish them; the timeline service
runs in-process (one container per test, so no other consumer splits its queues). `log_interaction`
asks the customers service whether the customer exists, so the real customers service runs
in-process too: each test gets a tenant of its own and real customers in it.
"""
import contextlib
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import delete, select

from custops import caller, db, inbox, outbox
from custops.contracts.billing import TimeDeleted, TimeLogged, TimeUpdated
from custops.contracts.customers import ContactArchived, ContactCreated, CustomerCreated, CustomerUpdated
from custops.contracts.tickets import (TicketCreated, TicketCustomerReplied, TicketNoteAdded, TicketReplied,
                                       TicketStatusChanged, TicketUpdated)
from custops.entrypoints import handled_events
from custops.errors import InvalidInput, NotFound
from custops.events import SYSTEM, Actor, envelope_for
from timeline.models import activities
from timeline.service import TimelineService


@pytest.fixture
def timeline(container_factory, nameko_config):
    container = container_factory(TimelineService, nameko_config)
    container.start()
    return container


@pytest.fixture
def tenant_id(new_tenant):
    """A tenant of this test's own, created in the customers service (which refuses unknown tenants)."""
    return uuid.UUID(new_tenant()["tenant_id"])


def _customer(rpc, tenant_id, name="Acme Corp") -> str:
    created = rpc.call("customers", "create_customer", str(tenant_id), {"name": name, "tier": "smb"})
    return created["id"]


@pytest.fixture
def customer_id(rpc, tenant_id) -> uuid.UUID:
    """A real customer of the test's tenant (the timeline answers only for customers that exist)."""
    return uuid.UUID(_customer(rpc, tenant_id))


def ticket_events(items):
    """The activities that are not the customer.created of the real customer (its relay may run)."""
    return [i for i in items if i["type"] != "customer.created"]


def publish(*envelopes):
    publisher = outbox.Publisher()
    try:
        assert publisher.publish_batch([e.model_dump(mode="json") for e in envelopes]) == set()
    finally:
        publisher.close()


def handled(container, method, envelope, times=1, timeout=15):
    """Waits until `method` has handled `envelope` `times` times (other events in the queue don't count)."""
    outcomes = []

    def callback(worker_ctx, result, exc_info):
        for event_id, failure in handled_events(worker_ctx):
            if event_id == str(envelope.id):
                outcomes.append(failure)
        return len(outcomes) >= times

    @contextlib.contextmanager
    def waiting():
        with entrypoint_waiter(container, method, callback=callback, timeout=timeout):
            yield
        assert outcomes == [None] * times, f"{method} failed: {outcomes}"

    return waiting()


def activity_rows(**where):
    with db.engine_for("timeline").connect() as conn:
        stmt = select(activities)
        for column, value in where.items():
            stmt = stmt.where(activities.c[column] == value)
        return conn.execute(stmt).mappings().all()


def interaction_rows(tenant_id):
    """The tenant's hand-logged activities (creating a real customer emits `customer.created`, which
    also lands on the timeline whenever a customers relay runs against the test broker)."""
    return [r for r in activity_rows(tenant_id=tenant_id) if r["type"].startswith("interaction.")]


def ticket_created(customer_id, number=12, subject="Printer on fire", created_at=None):
    return TicketCreated(ticket_id=uuid.uuid4(), number=number, customer_id=customer_id, subject=subject,
                         priority="high", status="new", source="email",
                         created_at=created_at or datetime.now(timezone.utc))


def test_a_ticket_event_becomes_one_public_activity_at_the_tickets_own_time(timeline, rpc, tenant_id, customer_id):
    created_at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    event = envelope_for(ticket_created(customer_id, created_at=created_at), tenant_id)
    with handled(timeline, "on_ticket_created", event):
        publish(event)

    page = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id))
    assert page["next_cursor"] is None
    [item] = ticket_events(page["items"])
    assert item["type"] == "ticket.created"
    assert item["summary"] == "Ticket #12 opened: Printer on fire (high)"
    assert item["internal"] is False
    assert (item["subject_type"], item["subject_id"]) == ("ticket", event.data["ticket_id"])
    assert datetime.fromisoformat(item["occurred_at"]) == created_at
    assert item["data"] == event.data
    [row] = activity_rows(source_event_id=event.id)
    assert row["tenant_id"] == tenant_id and row["customer_id"] == customer_id


def test_the_same_event_twice_yields_one_activity(timeline, tenant_id):
    event = envelope_for(ticket_created(uuid.uuid4()), tenant_id)
    with handled(timeline, "on_ticket_created", event, times=2):
        publish(event, event)
    assert len(activity_rows(source_event_id=event.id)) == 1


def _batch(tenant_id, envelopes):
    """Deliveries as the consumer hands them to `event_batches.handle` (parsed), and the number of
    INSERTs into activities the handling sent."""
    from sqlalchemy import event as sa_event

    from custops.db import DatabaseAccess
    from custops.event_batches import Delivery, handle
    from timeline.recorded_events import record

    engine = db.engine_for("timeline")
    inserts = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("INSERT INTO activities"):
            inserts.append(statement)

    deliveries = [Delivery(e.model_dump(mode="json"), None, envelope=e, data=e.payload()) for e in envelopes]
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        handle(DatabaseAccess(engine, "timeline", f"timeline.batch_{uuid.uuid4().hex[:8]}"), deliveries, record,
               is_transient=lambda exc: False)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    return [d.outcome for d in deliveries], len(inserts)


def test_a_batch_of_events_is_recorded_in_one_insert_each_once(tenant_id):
    customer_id = uuid.uuid4()
    events = [envelope_for(ticket_created(customer_id, number=n), tenant_id) for n in (1, 2, 3)]
    outcomes, inserts = _batch(tenant_id, [*events, events[0]])
    assert outcomes == ["new", "new", "new", "duplicate"]
    assert inserts == 1
    assert sorted(r["summary"][:9] for r in activity_rows(tenant_id=tenant_id)) == [
        "Ticket #1", "Ticket #2", "Ticket #3"]


def test_an_event_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_recorded(tenant_id):
    customer_id = uuid.uuid4()
    good = [envelope_for(ticket_created(customer_id, number=n), tenant_id) for n in (1, 2, 4)]
    refused = envelope_for(ticket_created(customer_id, number=3, subject="a NUL \x00 PostgreSQL refuses"), tenant_id)
    outcomes, _ = _batch(tenant_id, [good[0], good[1], refused, good[2], good[0]])
    assert outcomes == ["new", "new", "failed", "new", "duplicate"]
    assert sorted(r["summary"][:9] for r in activity_rows(tenant_id=tenant_id)) == [
        "Ticket #1", "Ticket #2", "Ticket #4"]


def test_the_unique_source_event_stops_a_duplicate_the_inbox_has_forgotten(timeline, tenant_id):
    event = envelope_for(ticket_created(uuid.uuid4()), tenant_id)
    with handled(timeline, "on_ticket_created", event):
        publish(event)
    with db.engine_for("timeline").begin() as conn:  # e.g. an inbox pruned by retention
        conn.execute(delete(inbox._TABLE).where(inbox._TABLE.c.event_id == event.id))
    with handled(timeline, "on_ticket_created", event):
        publish(event)
    assert len(activity_rows(source_event_id=event.id)) == 1


def test_every_subscribed_event_lands_on_the_customers_timeline(timeline, rpc, tenant_id, customer_id):
    ticket = ticket_created(customer_id, number=3)
    events = {
        "on_customer_created": CustomerCreated(customer_id=customer_id, name="Acme", tier="smb", domains=[]),
        "on_customer_updated": CustomerUpdated(customer_id=customer_id, changes={"tier": "enterprise"}),
        "on_contact_created": ContactCreated(contact_id=uuid.uuid4(), customer_id=customer_id, name="Jo",
                                             email="jo@acme.example"),
        "on_contact_archived": ContactArchived(contact_id=uuid.uuid4(), customer_id=customer_id, name="Al",
                                               email="al@acme.example", archived_at=datetime.now(timezone.utc)),
        "on_ticket_created": ticket,
        "on_ticket_updated": TicketUpdated(ticket_id=ticket.ticket_id, number=3, customer_id=customer_id,
                                           changes={"priority": "urgent"}, previous={"priority": "high"},
                                           updated_at=datetime.now(timezone.utc)),
        "on_ticket_status_changed": TicketStatusChanged(
            ticket_id=ticket.ticket_id, number=3, customer_id=customer_id, old_status="new",
            new_status="resolved", changed_at=datetime.now(timezone.utc)),
        "on_time_logged": TimeLogged(entry_id=uuid.uuid4(), member_id=uuid.uuid4(), customer_id=customer_id,
                                     minutes=30, billable=True, work_date=date(2026, 3, 4)),
        "on_time_updated": TimeUpdated(entry_id=uuid.uuid4(), member_id=uuid.uuid4(), customer_id=customer_id,
                                       minutes=45, billable=True, work_date=date(2026, 3, 4), revision=2,
                                       changes={"minutes": {"old": 30, "new": 45}},
                                       updated_at=datetime.now(timezone.utc)),
        "on_time_deleted": TimeDeleted(entry_id=uuid.uuid4(), member_id=uuid.uuid4(), customer_id=customer_id,
                                       minutes=45, billable=True, work_date=date(2026, 3, 4), revision=2,
                                       deleted_at=datetime.now(timezone.utc)),
    }
    envelopes = {method: envelope_for(data, tenant_id) for method, data in events.items()}
    with contextlib.ExitStack() as stack:
        for method, envelope in envelopes.items():
            stack.enter_context(handled(timeline, method, envelope))
        publish(*envelopes.values())

    items = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id))["items"]
    # (the real customer's own customer.created may be there twice: ours and its relay's)
    assert sorted({i["type"] for i in items}) == sorted(data.TYPE for data in events.values())
    summaries = {i["type"]: i["summary"] for i in items}
    assert summaries["ticket.status_changed"] == "Ticket #3 status: new → resolved"
    assert summaries["ticket.updated"] == "Ticket #3 priority: high → urgent"
    assert summaries["time.logged"] == "30m logged (billable)"
    assert summaries["time.updated"] == "Time entry corrected: 30m → 45m"
    assert summaries["time.deleted"] == "Time entry deleted: 45m (billable)"

    public = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id),
                      {"include_internal": False})["items"]
    assert sorted(i["type"] for i in public) == ["ticket.created", "ticket.status_changed"]
    only = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id),
                    {"types": ["contact.created", "time.logged"]})["items"]
    assert sorted(i["type"] for i in only) == ["contact.created", "time.logged"]


def test_a_note_is_internal_a_reply_public_and_repeats_of_either_are_ignored(timeline, rpc, tenant_id,
                                                                             customer_id):
    ticket_id, agent = uuid.uuid4(), uuid.uuid4()
    noted_at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    replied_at = noted_at + timedelta(minutes=10)
    on_ticket = {"ticket_id": ticket_id, "number": 12, "customer_id": customer_id}
    note = envelope_for(TicketNoteAdded(**on_ticket, message_id=uuid.uuid4(), author_member_id=agent,
                                        added_at=noted_at), tenant_id)
    reply = envelope_for(TicketReplied(**on_ticket, message_id=uuid.uuid4(), author_member_id=agent,
                                       subject="Re: Printer on fire", body="Unplug it first.",
                                       replied_at=replied_at), tenant_id)
    with handled(timeline, "on_ticket_note_added", note, times=2), \
            handled(timeline, "on_ticket_replied", reply, times=2):
        publish(note, reply, note, reply)

    items = ticket_events(rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id))["items"])
    assert [(i["type"], i["summary"], i["internal"]) for i in items] == [
        ("ticket.replied", "Reply sent on ticket #12", False),
        ("ticket.note_added", "Internal note on ticket #12", True),
    ]
    assert {(i["subject_type"], i["subject_id"], i["actor"], i["actor_type"]) for i in items} == {
        ("ticket", str(ticket_id), str(agent), "member")}
    assert [datetime.fromisoformat(i["occurred_at"]) for i in items] == [replied_at, noted_at]

    public = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id),
                      {"include_internal": False})["items"]
    assert [i["type"] for i in public] == ["ticket.replied"]


def test_tenants_never_see_each_others_activities(timeline, rpc, tenant_id, customer_id, new_tenant):
    other_tenant = new_tenant()["tenant_id"]
    event = envelope_for(ticket_created(customer_id), tenant_id)
    with handled(timeline, "on_ticket_created", event):
        publish(event)
    assert len(ticket_events(rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id))["items"])) == 1
    with pytest.raises(NotFound):  # not this tenant's customer
        rpc.call("timeline", "list_activities", other_tenant, str(customer_id))
    # an event wrongly filed under the other tenant stays there
    stray = envelope_for(ticket_created(customer_id), uuid.UUID(other_tenant))
    with handled(timeline, "on_ticket_created", stray):
        publish(stray)
    assert len(ticket_events(rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id))["items"])) == 1


def test_the_timeline_of_an_unknown_customer_is_not_found_not_empty(timeline, rpc, tenant_id, new_tenant):
    someone_elses = _customer(rpc, new_tenant()["tenant_id"])
    for customer in (str(uuid.uuid4()), someone_elses):
        with pytest.raises(NotFound):
            rpc.call("timeline", "list_activities", str(tenant_id), customer)
        with pytest.raises(NotFound):
            rpc.call("timeline", "list_activities", str(tenant_id), customer, {"include_internal": False}, 10)


def test_log_interaction_stores_the_activity_and_its_event_together(timeline, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    item = rpc.call("timeline", "log_interaction", str(tenant_id), customer_id,
                    {"kind": "call", "summary": "  Renewal call with the CFO ", "occurred_at": at.isoformat()})
    assert item["type"] == "interaction.call"
    assert item["summary"] == "Renewal call with the CFO"
    assert item["internal"] is True  # internal unless the caller says otherwise
    assert datetime.fromisoformat(item["occurred_at"]) == at

    [row] = activity_rows(id=uuid.UUID(item["id"]))
    with db.engine_for("timeline").connect() as conn:
        [event] = conn.execute(select(outbox._TABLE).where(outbox._TABLE.c.id == row["source_event_id"])
                               ).mappings().all()
    assert event["type"] == "interaction.logged"
    assert event["envelope"]["tenant_id"] == str(tenant_id)
    assert event["envelope"]["data"]["activity_id"] == item["id"]
    assert event["envelope"]["data"]["customer_id"] == customer_id
    assert event["envelope"]["data"]["internal"] is True

    shared = rpc.call("timeline", "log_interaction", str(tenant_id), customer_id,
                      {"kind": "email", "summary": "Sent the onboarding guide", "internal": False})
    public = rpc.call("timeline", "list_activities", str(tenant_id), customer_id, {"include_internal": False})
    assert [i["id"] for i in public["items"]] == [shared["id"]]


@pytest.mark.parametrize("payload", [
    {"kind": "fax", "summary": "x"},
    {"kind": "call", "summary": "   "},
    {"kind": "call", "summary": "x", "occurred_at": "2026-03-04T10:00:00"},  # naive
    {"kind": "call", "summary": "x", "occurred_at": "2999-01-01T00:00:00Z"},
    {"kind": "call", "summary": "x", "colour": "red"},
])
def test_invalid_interactions_are_refused_and_store_nothing(timeline, rpc, tenant_id, payload):
    customer_id = _customer(rpc, tenant_id)
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "log_interaction", str(tenant_id), customer_id, payload)
    assert interaction_rows(tenant_id) == []


def test_interaction_for_an_unknown_customer_is_not_found(timeline, rpc, tenant_id, new_tenant):
    someone_elses = _customer(rpc, new_tenant()["tenant_id"])
    with pytest.raises(NotFound):
        rpc.call("timeline", "log_interaction", str(tenant_id), someone_elses, {"kind": "note", "summary": "x"})
    with pytest.raises(NotFound):
        rpc.call("timeline", "log_interaction", str(tenant_id), "not-an-id", {"kind": "note", "summary": "x"})
    assert interaction_rows(tenant_id) == []


def test_the_list_is_newest_first_and_the_cursor_walks_every_page_once(timeline, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    # two entries share a timestamp: the order they were logged in breaks the tie (the later one
    # first), so neither is skipped nor repeated
    times = [base - timedelta(minutes=m) for m in (0, 5, 5, 10, 20, 30, 40)]
    for n, at in enumerate(times):
        rpc.call("timeline", "log_interaction", str(tenant_id), customer_id,
                 {"kind": "note", "summary": f"note {n}", "occurred_at": at.isoformat()})

    seen, cursor, pages = [], None, 0
    while True:
        page = rpc.call("timeline", "list_activities", str(tenant_id), customer_id,
                        {"types": ["interaction.note"]}, 3, cursor)
        pages += 1
        assert len(page["items"]) <= 3
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len({i["id"] for i in seen}) == len(times)
    keys = [(datetime.fromisoformat(i["occurred_at"]), int(i["summary"].split()[1])) for i in seen]
    assert keys == sorted(zip(times, range(len(times))), reverse=True)


def test_bad_queries_are_refused(timeline, rpc, tenant_id):
    customer_id = str(uuid.uuid4())
    for args in [({"types": []},), ({"private": True},), ({}, 0), ({}, 500), ({}, 50, "garbage!")]:
        with pytest.raises(InvalidInput):
            rpc.call("timeline", "list_activities", str(tenant_id), customer_id, *args)
    with pytest.raises(NotFound):
        rpc.call("timeline", "list_activities", str(tenant_id), "nope")


def test_an_event_without_a_tenant_is_dead_lettered_not_logged(timeline, tenant_id):
    event = envelope_for(ticket_created(uuid.uuid4()), None)
    with entrypoint_waiter(timeline, "on_ticket_created", timeout=15,
                           callback=lambda ctx, result, exc_info: str(event.id) in dict(handled_events(ctx))):
        publish(event)
    assert activity_rows(source_event_id=event.id) == []


def test_each_activity_records_who_made_the_change(timeline, rpc, tenant_id, customer_id):
    agent, contact_id, writer = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    by_member = Actor(type="member", id=agent)
    ticket = ticket_created(customer_id)
    on_ticket = {"ticket_id": ticket.ticket_id, "number": 12, "customer_id": customer_id}
    now = datetime.now(timezone.utc)
    created = envelope_for(ticket, tenant_id, actor=by_member)
    moved = envelope_for(TicketStatusChanged(**on_ticket, old_status="new", new_status="open", changed_at=now),
                         tenant_id, actor=by_member)
    warned_by_clock = envelope_for(TicketUpdated(**on_ticket, changes={"priority": "urgent"}, reason="escalation",
                                                 updated_at=now), tenant_id, actor=SYSTEM)
    # entered by an agent, written by the contact: the contact is the author
    customer_wrote = envelope_for(TicketCustomerReplied(**on_ticket, message_id=uuid.uuid4(), contact_id=contact_id,
                                                        received_at=now), tenant_id, actor=by_member)
    # the reply names its author, who wins over the envelope's actor
    replied = envelope_for(TicketReplied(**on_ticket, message_id=uuid.uuid4(), author_member_id=writer, subject="Re",
                                         body="b", replied_at=now), tenant_id, actor=by_member)
    before_actors = envelope_for(TicketStatusChanged(**on_ticket, old_status="open", new_status="pending",
                                                     changed_at=now), tenant_id)  # an older event: no actor
    with handled(timeline, "on_ticket_created", created), \
            handled(timeline, "on_ticket_status_changed", moved), \
            handled(timeline, "on_ticket_updated", warned_by_clock), \
            handled(timeline, "on_ticket_customer_replied", customer_wrote), \
            handled(timeline, "on_ticket_replied", replied), \
            handled(timeline, "on_ticket_status_changed", before_actors):
        publish(created, moved, warned_by_clock, customer_wrote, replied, before_actors)

    with caller.using(caller.member(agent)):
        logged = rpc.call("timeline", "log_interaction", str(tenant_id), str(customer_id),
                          {"kind": "call", "summary": "Called them"})
    assert (logged["actor"], logged["actor_type"]) == (str(agent), "member")

    items = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id))["items"]
    actors = {i["data"].get("new_status") or i["type"]: (i["actor_type"], i["actor"]) for i in ticket_events(items)}
    assert actors == {
        "ticket.created": ("member", str(agent)),
        "open": ("member", str(agent)),
        "ticket.updated": ("system", None),
        "ticket.customer_replied": ("contact", str(contact_id)),
        "ticket.replied": ("member", str(writer)),
        "pending": (None, None),
        "interaction.call": ("member", str(agent)),
    }
    [row] = activity_rows(id=uuid.UUID(logged["id"]))
    with db.engine_for("timeline").connect() as conn:
        stored = conn.execute(select(outbox._TABLE.c.envelope).where(outbox._TABLE.c.id == row["source_event_id"])
                              ).scalar_one()
    assert stored["actor"] == {"type": "member", "id": str(agent)}  # the interaction.logged event says so too


def test_activities_at_the_same_instant_come_back_in_the_order_they_happened(timeline, rpc, tenant_id,
                                                                               customer_id):
    """A ticket opened, assigned, replied to and resolved within one transaction's instant: newest
    first means the reverse of the producer's sequence, on every page of the cursor."""
    at = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    ticket = ticket_created(customer_id, created_at=at)
    on_ticket = {"ticket_id": ticket.ticket_id, "number": 12, "customer_id": customer_id}
    facts = [ticket] + [TicketStatusChanged(**on_ticket, old_status=a, new_status=b, changed_at=at)
                        for a, b in [("new", "open"), ("open", "in_progress"), ("in_progress", "pending"),
                                     ("pending", "open"), ("open", "resolved")]] + [
        TicketReplied(**on_ticket, message_id=uuid.uuid4(), author_member_id=None, subject="Re", body="b",
                      replied_at=at)]
    # sequences as the tickets relay sets them (its outbox order), ids as random as ever
    envelopes = [envelope_for(f, tenant_id, sequence=1000 + n) for n, f in enumerate(facts)]
    with contextlib.ExitStack() as stack:
        for env in envelopes:
            method = {"ticket.created": "on_ticket_created", "ticket.status_changed": "on_ticket_status_changed",
                      "ticket.replied": "on_ticket_replied"}[env.type]
            stack.enter_context(handled(timeline, method, env))
        publish(*reversed(envelopes))  # arrival order must not matter either

    expected = [str(e.id) for e in reversed(envelopes)]
    whole = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id),
                     {"types": ["ticket.created", "ticket.status_changed", "ticket.replied"]})["items"]
    assert [i["data"] for i in whole] == [e.data for e in reversed(envelopes)]
    seen, cursor = [], None
    while True:
        page = rpc.call("timeline", "list_activities", str(tenant_id), str(customer_id),
                        {"types": ["ticket.created", "ticket.status_changed", "ticket.replied"]}, 2, cursor)
        seen += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert [row["source_event_id"] for row in (activity_rows(id=uuid.UUID(i["id"]))[0] for i in seen)] == [
        uuid.UUID(e) for e in expected]
