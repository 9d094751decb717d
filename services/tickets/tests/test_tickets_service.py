"""tickets against the real RabbitMQ and PostgreSQL, with the real customers service in-process.

`create_ticket` asks the customers service whether the customer exists (and for its tier), so each
test gets a tenant of its own and real customers in it.
"""
import uuid
from datetime import datetime

import eventlet
import pytest
from sqlalchemy import select

from custops import db, outbox
from custops.errors import InvalidInput, NotFound
from custops.rpc import RpcClient
from tickets.models import tickets


def _customer(rpc, tenant_id, name="Acme Corp", tier="enterprise") -> str:
    created = rpc.call("customers", "create_customer", str(tenant_id), {
        "name": name, "tier": tier, "domains": [f"{uuid.uuid4().hex[:12]}.example"]})
    return created["id"]


def _create(rpc, tenant_id, customer_id, **fields) -> dict:
    return rpc.call("tickets", "create_ticket", str(tenant_id),
                    {"customer_id": customer_id, "subject": "Printer on fire", **fields})


def _outbox_rows(tenant_id, type_: str | None = None) -> list[dict]:
    table = outbox._TABLE
    stmt = select(table).where(table.c.tenant_id == tenant_id).order_by(table.c.seq)
    if type_:
        stmt = stmt.where(table.c.type == type_)
    with db.engine_for("tickets").connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings().all()]


def _ticket_rows(tenant_id) -> list[dict]:
    with db.engine_for("tickets").connect() as conn:
        return [dict(r) for r in conn.execute(select(tickets).where(tickets.c.tenant_id == tenant_id))
                .mappings().all()]


# --- create_ticket ---

def test_create_ticket_stores_the_ticket_and_its_event_together(tickets_service, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id, tier="mid_market")

    ticket = _create(rpc, tenant_id, customer_id, subject="  Printer on fire  ", description="Smoke.",
                     priority="urgent", source="email")

    assert (ticket["number"], ticket["customer_id"], ticket["status"]) == (1, customer_id, "new")
    assert (ticket["subject"], ticket["description"]) == ("Printer on fire", "Smoke.")
    assert (ticket["priority"], ticket["source"]) == ("urgent", "email")
    assert rpc.call("tickets", "get_ticket", str(tenant_id), ticket["id"]) == ticket
    [row] = _ticket_rows(tenant_id)
    assert row["customer_tier"] == "mid_market"  # as the customers service answered

    [event] = _outbox_rows(tenant_id)
    assert event["type"] == "ticket.created"
    envelope = event["envelope"]
    assert (envelope["producer"], envelope["type"], envelope["version"]) == ("tickets", "ticket.created", 1)
    assert envelope["tenant_id"] == str(tenant_id)
    assert envelope["data"] == {
        "ticket_id": ticket["id"], "number": 1, "customer_id": customer_id, "subject": "Printer on fire",
        "priority": "urgent", "status": "new", "source": "email", "created_at": envelope["data"]["created_at"],
        "contact_id": None, "category": "general", "assignee_id": None, "tags": [], "follows_ticket_id": None,
        "form_submission_id": None}
    assert datetime.fromisoformat(envelope["data"]["created_at"]) == datetime.fromisoformat(ticket["created_at"])


def test_defaults_are_normal_priority_from_the_api(tickets_service, rpc, tenant_id):
    ticket = _create(rpc, tenant_id, _customer(rpc, tenant_id))
    assert (ticket["priority"], ticket["source"], ticket["description"]) == ("normal", "api", "")


def test_numbers_are_sequential_per_tenant(tickets_service, rpc, tenant_id, new_tenant):
    other_tenant = new_tenant()["tenant_id"]
    ours, theirs = _customer(rpc, tenant_id), _customer(rpc, other_tenant)

    first, second = _create(rpc, tenant_id, ours), _create(rpc, tenant_id, ours)
    other_first = _create(rpc, other_tenant, theirs)

    assert (first["number"], second["number"]) == (1, 2)
    assert other_first["number"] == 1
    numbers = [e["envelope"]["data"]["number"] for e in _outbox_rows(tenant_id, "ticket.created")]
    assert numbers == [1, 2]


def test_concurrent_creates_get_distinct_consecutive_numbers(tickets_service, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    concurrent_client = RpcClient(timeout=20, size=10)
    pool = eventlet.GreenPool(10)
    try:
        created = list(pool.imap(lambda n: _create(concurrent_client, tenant_id, customer_id, subject=f"#{n}"),
                                 range(10)))
    finally:
        concurrent_client.close()

    numbers = sorted(t["number"] for t in created)
    assert numbers == list(range(numbers[0], numbers[0] + 10))
    assert numbers[0] == 1  # a fresh tenant starts at #1
    assert sorted(r["number"] for r in _ticket_rows(tenant_id)) == numbers
    assert len(_outbox_rows(tenant_id, "ticket.created")) == 10


def test_an_unknown_customer_is_a_field_error_and_stores_nothing(tickets_service, rpc, tenant_id):
    with pytest.raises(InvalidInput) as exc_info:
        _create(rpc, tenant_id, str(uuid.uuid4()))
    assert [e["field"] for e in exc_info.value.errors] == ["customer_id"]
    assert _ticket_rows(tenant_id) == [] and _outbox_rows(tenant_id) == []


def test_another_tenants_customer_is_unknown_here(tickets_service, rpc, tenant_id, new_tenant):
    foreign_customer = _customer(rpc, new_tenant()["tenant_id"])
    with pytest.raises(InvalidInput) as exc_info:
        _create(rpc, tenant_id, foreign_customer)
    assert [e["field"] for e in exc_info.value.errors] == ["customer_id"]
    assert _ticket_rows(tenant_id) == [] and _outbox_rows(tenant_id) == []


@pytest.mark.parametrize("fields,bad_field", [
    ({"subject": "   "}, "subject"),
    ({"colour": "red"}, "colour"),
    ({"priority": "whenever"}, "priority"),
])
def test_invalid_input_names_the_field_and_stores_nothing(tickets_service, rpc, tenant_id, fields, bad_field):
    customer_id = _customer(rpc, tenant_id)
    with pytest.raises(InvalidInput) as exc_info:
        _create(rpc, tenant_id, customer_id, **fields)
    assert [e["field"] for e in exc_info.value.errors] == [bad_field]
    assert _ticket_rows(tenant_id) == [] and _outbox_rows(tenant_id) == []


# --- get_ticket, list_tickets ---

def test_another_tenants_ticket_and_a_malformed_id_are_not_found(tickets_service, rpc, tenant_id, new_tenant):
    ticket = _create(rpc, tenant_id, _customer(rpc, tenant_id))
    other_tenant = new_tenant()["tenant_id"]
    with pytest.raises(NotFound):
        rpc.call("tickets", "get_ticket", other_tenant, ticket["id"])
    with pytest.raises(NotFound):
        rpc.call("tickets", "get_ticket", str(tenant_id), "not-an-id")
    with pytest.raises(NotFound):
        rpc.call("tickets", "get_ticket", str(tenant_id), str(uuid.uuid4()))
    assert rpc.call("tickets", "list_tickets", other_tenant) == {"items": [], "next_cursor": None, "total": 0}


def test_list_filters_by_status_priority_and_customer(tickets_service, rpc, tenant_id):
    acme, globex = _customer(rpc, tenant_id, "Acme"), _customer(rpc, tenant_id, "Globex")
    acme_high = _create(rpc, tenant_id, acme, priority="high")
    acme_low = _create(rpc, tenant_id, acme, priority="low")
    globex_high = _create(rpc, tenant_id, globex, priority="high")
    rpc.call("tickets", "change_status", str(tenant_id), acme_low["id"], "open")

    def listed(filters):
        return {t["id"] for t in rpc.call("tickets", "list_tickets", str(tenant_id), filters)["items"]}

    assert listed({}) == {acme_high["id"], acme_low["id"], globex_high["id"]}
    assert listed({"status": "open"}) == {acme_low["id"]}
    assert listed({"priority": "high"}) == {acme_high["id"], globex_high["id"]}
    assert listed({"customer_id": acme}) == {acme_high["id"], acme_low["id"]}
    assert listed({"status": "new", "priority": "high", "customer_id": acme}) == {acme_high["id"]}
    with pytest.raises(InvalidInput):
        rpc.call("tickets", "list_tickets", str(tenant_id), {"priority": "whenever"})


def test_the_cursor_walks_every_page_newest_first_without_overlap(tickets_service, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    created = [_create(rpc, tenant_id, customer_id, subject=f"ticket {n}") for n in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        page = rpc.call("tickets", "list_tickets", str(tenant_id), {}, 2, cursor)
        pages += 1
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [t["id"] for t in seen] == [t["id"] for t in reversed(created)]
    assert [t["number"] for t in seen] == [5, 4, 3, 2, 1]


# --- change_status ---

def test_change_status_writes_the_old_and_new_status(tickets_service, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    ticket = _create(rpc, tenant_id, customer_id)

    changed = rpc.call("tickets", "change_status", str(tenant_id), ticket["id"], "in_progress")

    assert changed["status"] == "in_progress"
    assert datetime.fromisoformat(changed["updated_at"]) > datetime.fromisoformat(ticket["updated_at"])
    assert rpc.call("tickets", "get_ticket", str(tenant_id), ticket["id"])["status"] == "in_progress"
    [event] = _outbox_rows(tenant_id, "ticket.status_changed")
    assert event["envelope"]["tenant_id"] == str(tenant_id)
    data = event["envelope"]["data"]
    assert (data["ticket_id"], data["number"], data["customer_id"]) == (ticket["id"], 1, customer_id)
    assert (data["old_status"], data["new_status"]) == ("new", "in_progress")


def test_a_refused_transition_changes_nothing(tickets_service, rpc, tenant_id):
    ticket = _create(rpc, tenant_id, _customer(rpc, tenant_id))
    rpc.call("tickets", "change_status", str(tenant_id), ticket["id"], "closed")
    # ids, not whole rows: a relay may mark the rows published meanwhile
    events_before = [e["id"] for e in _outbox_rows(tenant_id)]

    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("tickets", "change_status", str(tenant_id), ticket["id"], "open")

    assert [e["field"] for e in exc_info.value.errors] == ["status"]
    assert rpc.call("tickets", "get_ticket", str(tenant_id), ticket["id"])["status"] == "closed"
    assert [e["id"] for e in _outbox_rows(tenant_id)] == events_before


def test_an_unknown_status_or_another_tenants_ticket_is_refused(tickets_service, rpc, tenant_id, new_tenant):
    ticket = _create(rpc, tenant_id, _customer(rpc, tenant_id))
    with pytest.raises(InvalidInput):
        rpc.call("tickets", "change_status", str(tenant_id), ticket["id"], "frozen")
    with pytest.raises(NotFound):
        rpc.call("tickets", "change_status", new_tenant()["tenant_id"], ticket["id"], "open")
    assert rpc.call("tickets", "get_ticket", str(tenant_id), ticket["id"])["status"] == "new"
    assert _outbox_rows(tenant_id, "ticket.status_changed") == []


def test_the_same_status_again_is_a_no_op_without_an_event(tickets_service, rpc, tenant_id):
    ticket = _create(rpc, tenant_id, _customer(rpc, tenant_id))
    opened = rpc.call("tickets", "change_status", str(tenant_id), ticket["id"], "open")

    again = rpc.call("tickets", "change_status", str(tenant_id), ticket["id"], "open")

    assert again == opened
    assert len(_outbox_rows(tenant_id, "ticket.status_changed")) == 1
