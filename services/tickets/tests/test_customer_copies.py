"""The customers the tickets service copies from `customer.created` / `customer.updated` (issue 14):
a copied customer takes tickets without an RPC to the customers service; one not copied is asked
about and refused as before; another tenant's customer is never found; a late event cannot undo a
newer one. Real RabbitMQ and PostgreSQL; the events are published as the customers' relay would."""
import contextlib
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import select

from custops import db, outbox
from custops.contracts.customers import CustomerCreated, CustomerUpdated
from custops.entrypoints import handled_events
from custops.errors import InvalidInput
from custops.events import envelope_for
from custops.testing import publish_and_wait
from tickets.models import directory_customers, ticket_sla_timers, tickets


def _created(tenant_id, customer_id, tier, occurred_at=None):
    envelope = envelope_for(CustomerCreated(customer_id=customer_id, name="Acme", tier=tier, domains=[]), tenant_id)
    return envelope.model_copy(update={"occurred_at": occurred_at}) if occurred_at else envelope


def _create(rpc, tenant_id, customer_id, **fields) -> dict:
    return rpc.call("tickets", "create_ticket", str(tenant_id),
                    {"customer_id": str(customer_id), "subject": "Printer on fire", **fields})


def _stored(ticket_id) -> tuple[str, dict]:
    with db.engine_for("tickets").connect() as conn:
        tier = conn.execute(select(tickets.c.customer_tier).where(tickets.c.id == ticket_id)).scalar_one()
        targets = dict(conn.execute(select(ticket_sla_timers.c.timer, ticket_sla_timers.c.target_minutes)
                                    .where(ticket_sla_timers.c.ticket_id == ticket_id)).all())
    return tier, targets


def test_a_customer_told_by_its_event_takes_tickets_without_asking_the_customers_service(tickets_service, rpc):
    # no customers service runs here: an RPC to it would time out
    tenant_id, customer_id = uuid.uuid4(), uuid.uuid4()
    publish_and_wait(tickets_service, "on_customer_created", _created(tenant_id, customer_id, "mid_market"))

    ticket = _create(rpc, tenant_id, customer_id)

    assert ticket["customer_id"] == str(customer_id)
    assert _stored(ticket["id"]) == ("mid_market", {"first_response": 480, "resolution": 1440})


def test_another_tenants_copied_customer_is_refused(tickets_service, customers_service, rpc, new_tenant):
    tenant_id, other_tenant = new_tenant()["tenant_id"], new_tenant()["tenant_id"]
    foreign = rpc.call("customers", "create_customer", other_tenant, {
        "name": "Elsewhere", "tier": "smb", "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]
    publish_and_wait(tickets_service, "on_customer_created", _created(uuid.UUID(other_tenant), uuid.UUID(foreign),
                                                                       "smb"))

    with pytest.raises(InvalidInput) as refused:
        _create(rpc, tenant_id, foreign)

    assert [e["field"] for e in refused.value.errors] == ["customer_id"]
    with db.engine_for("tickets").connect() as conn:
        assert conn.execute(select(tickets.c.id).where(tickets.c.tenant_id == uuid.UUID(tenant_id))).all() == []


def test_an_unknown_customer_named_with_a_contact_is_refused_as_an_unknown_customer(
        tickets_service, customers_service, rpc, new_tenant):
    tenant_id = new_tenant()["tenant_id"]
    with pytest.raises(InvalidInput) as refused:
        _create(rpc, tenant_id, uuid.uuid4(), contact_id=str(uuid.uuid4()))
    assert [e["field"] for e in refused.value.errors] == ["customer_id"]


def test_a_customer_not_copied_is_asked_about_and_copied(tickets_service, customers_service, rpc, new_tenant):
    tenant_id = new_tenant()["tenant_id"]
    customer_id = rpc.call("customers", "create_customer", tenant_id, {
        "name": "Acme", "tier": "enterprise", "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]

    ticket = _create(rpc, tenant_id, customer_id)

    assert _stored(ticket["id"])[0] == "enterprise"
    with db.engine_for("tickets").connect() as conn:
        assert conn.execute(select(directory_customers.c.tier).where(
            directory_customers.c.tenant_id == uuid.UUID(tenant_id),
            directory_customers.c.customer_id == uuid.UUID(customer_id))).scalar_one() == "enterprise"


def test_a_late_customer_created_does_not_undo_a_newer_tier_change(tickets_service, rpc):
    tenant_id, customer_id = uuid.uuid4(), uuid.uuid4()
    created_at = datetime.now(timezone.utc) - timedelta(minutes=5)
    changed = envelope_for(CustomerUpdated(customer_id=customer_id, changes={"tier": "smb"}), tenant_id)
    publish_and_wait(tickets_service, "on_customer_updated", changed)
    publish_and_wait(tickets_service, "on_customer_created", _created(tenant_id, customer_id, "enterprise",
                                                                       created_at))

    ticket = _create(rpc, tenant_id, customer_id, priority="urgent")

    assert _stored(ticket["id"]) == ("smb", {"first_response": 1440, "resolution": 240})


def test_a_created_event_without_a_tenant_is_dead_lettered_not_copied(tickets_service):
    customer_id = uuid.uuid4()
    envelope = _created(uuid.uuid4(), customer_id, "smb").model_copy(update={"tenant_id": None})
    publisher = outbox.Publisher()
    outcomes = []

    def callback(worker_ctx, result, exc_info):
        outcomes.extend(f for e, f in handled_events(worker_ctx) if e == str(envelope.id))
        return bool(outcomes)

    with contextlib.ExitStack() as stack:
        stack.enter_context(entrypoint_waiter(tickets_service, "on_customer_created", callback=callback, timeout=15))
        try:
            assert publisher.publish_batch([envelope.model_dump(mode="json")]) == set()
        finally:
            publisher.close()
    assert type(outcomes[0]).__name__ == "PoisonMessage"
    with db.engine_for("tickets").connect() as conn:
        assert conn.execute(select(directory_customers).where(
            directory_customers.c.customer_id == customer_id)).all() == []


def test_a_follow_up_of_a_copied_customer_takes_the_copys_tier_without_asking(tickets_service, rpc):
    # no customers service runs here
    tenant_id, customer_id = uuid.uuid4(), uuid.uuid4()
    publish_and_wait(tickets_service, "on_customer_created", _created(tenant_id, customer_id, "mid_market"))
    old = _create(rpc, tenant_id, customer_id)
    rpc.call("tickets", "change_status", str(tenant_id), old["id"], "closed")

    new = rpc.call("tickets", "add_message", str(tenant_id), old["id"], {"kind": "inbound", "body": "Again"})["ticket"]

    assert new["follows_ticket_id"] == old["id"]
    assert _stored(new["id"]) == ("mid_market", {"first_response": 480, "resolution": 1440})


def test_a_follow_up_of_a_customer_not_copied_asks_its_tier(tickets_service, customers_service, rpc, new_tenant):
    tenant_id = new_tenant()["tenant_id"]
    customer_id = rpc.call("customers", "create_customer", tenant_id, {
        "name": "Acme", "tier": "enterprise", "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]
    old = _create(rpc, tenant_id, customer_id)
    rpc.call("tickets", "change_status", tenant_id, old["id"], "closed")
    with db.engine_for("tickets").begin() as conn:  # as for a ticket opened before the copy existed
        conn.execute(directory_customers.delete().where(directory_customers.c.customer_id == uuid.UUID(customer_id)))

    new = rpc.call("tickets", "add_message", tenant_id, old["id"], {"kind": "inbound", "body": "Again"})["ticket"]

    assert new["follows_ticket_id"] == old["id"]
    assert _stored(new["id"])[0] == "enterprise"
    with db.engine_for("tickets").connect() as conn:
        assert len(conn.execute(select(tickets.c.id).where(tickets.c.follows_ticket_id == uuid.UUID(old["id"])))
                   .all()) == 1  # the attempt without a tier wrote nothing
