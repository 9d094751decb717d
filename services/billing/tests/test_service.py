"""billing against the real RabbitMQ and PostgreSQL.

`log_time` asks the customers service whether the customer exists, so the real customers service
runs in-process too: each test gets a tenant of its own and real customers in it.
"""
import uuid

import pytest
from nameko.exceptions import RemoteError
from sqlalchemy import func, select

from billing.models import time_entries
from billing.service import BillingService
from custops import db, outbox
from custops.errors import InvalidInput


@pytest.fixture
def billing(container_factory, nameko_config):
    container = container_factory(BillingService, nameko_config)
    container.start()
    return container


@pytest.fixture
def tenant_id(new_tenant):
    """A tenant of this test's own, created in the customers service (which refuses unknown tenants)."""
    return uuid.UUID(new_tenant()["tenant_id"])


def _customer(rpc, tenant_id, name="Acme Corp") -> str:
    created = rpc.call("customers", "create_customer", str(tenant_id), {"name": name, "tier": "smb"})
    return created["id"]


def _outbox_rows_for(entry_id: str):
    table = outbox._TABLE
    with db.engine_for("billing").connect() as conn:
        rows = conn.execute(select(table).where(table.c.type == "time.logged")).mappings().all()
    return [r for r in rows if r["envelope"]["data"]["entry_id"] == entry_id]


def _entry_count(tenant_id) -> int:
    with db.engine_for("billing").connect() as conn:
        return conn.execute(select(func.count()).select_from(time_entries)
                            .where(time_entries.c.tenant_id == tenant_id)).scalar_one()


def test_log_time_stores_the_entry_and_its_event_together(billing, rpc, tenant_id):
    customer_id, member_id, ticket_id = _customer(rpc, tenant_id), str(uuid.uuid4()), str(uuid.uuid4())

    entry = rpc.call("billing", "log_time", str(tenant_id), member_id, {
        "customer_id": customer_id, "ticket_id": ticket_id, "minutes": 45,
        "billable": False, "work_date": "2026-03-02", "note": "migration call"})

    assert entry["customer_id"] == customer_id and entry["member_id"] == member_id
    assert (entry["ticket_id"], entry["minutes"], entry["billable"]) == (ticket_id, 45, False)
    assert (entry["work_date"], entry["note"]) == ("2026-03-02", "migration call")
    [row] = _outbox_rows_for(entry["id"])
    assert row["tenant_id"] == tenant_id
    envelope = row["envelope"]
    assert (envelope["producer"], envelope["version"]) == ("billing", 1)
    assert envelope["data"] == {
        "entry_id": entry["id"], "member_id": member_id, "customer_id": customer_id,
        "ticket_id": ticket_id, "minutes": 45, "billable": False, "work_date": "2026-03-02",
        "note": "migration call"}


def test_log_time_defaults_to_billable_today(billing, rpc, tenant_id):
    from billing.commands import utc_today

    entry = rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                     {"customer_id": _customer(rpc, tenant_id), "minutes": 15})
    assert entry["billable"] is True
    assert entry["work_date"] == utc_today().isoformat()
    assert entry["ticket_id"] is None


@pytest.mark.parametrize("minutes", [0, 1441])
def test_minutes_out_of_range_is_a_field_error_and_stores_nothing(billing, rpc, tenant_id,
                                                                    minutes):
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                 {"customer_id": _customer(rpc, tenant_id), "minutes": minutes})
    assert [e["field"] for e in exc_info.value.errors] == ["minutes"]
    assert _entry_count(tenant_id) == 0


def test_unknown_customer_is_invalid_input(billing, rpc, tenant_id):
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                 {"customer_id": str(uuid.uuid4()), "minutes": 30})
    assert [e["field"] for e in exc_info.value.errors] == ["customer_id"]
    assert _entry_count(tenant_id) == 0


def test_another_tenants_customer_is_unknown_here(billing, rpc, tenant_id, new_tenant):
    foreign_customer = _customer(rpc, new_tenant()["tenant_id"])
    with pytest.raises(InvalidInput):
        rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                 {"customer_id": foreign_customer, "minutes": 30})


def test_customers_down_propagates_and_stores_nothing(container_factory, nameko_config, rpc, monkeypatch):
    tenant_id = uuid.uuid4()  # no customers service runs here to create one
    monkeypatch.setenv("CUSTOPS_RPC_TIMEOUT", "1")  # billing's own rpc, read at container setup
    container_factory(BillingService, nameko_config).start()
    with pytest.raises(RemoteError) as exc_info:
        rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                 {"customer_id": str(uuid.uuid4()), "minutes": 30})
    assert exc_info.value.exc_type in ("ServiceUnavailable", "ServiceTimeout")
    assert _entry_count(tenant_id) == 0


def test_entries_and_sums_are_tenant_isolated(billing, rpc, tenant_id, new_tenant):
    customer_id = _customer(rpc, tenant_id)
    rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
             {"customer_id": customer_id, "minutes": 30, "work_date": "2026-03-02"})
    other_tenant = new_tenant()["tenant_id"]

    assert rpc.call("billing", "list_time_entries", other_tenant) == {"items": [], "next_cursor": None}
    assert rpc.call("billing", "list_time_entries", other_tenant, {"customer_id": customer_id}) == {
        "items": [], "next_cursor": None}
    assert rpc.call("billing", "time_summary", other_tenant, customer_id, "2026-03-01", "2026-03-31") == {
        "billable_minutes": 0, "non_billable_minutes": 0, "total_minutes": 0}
    assert len(rpc.call("billing", "list_time_entries", str(tenant_id))["items"]) == 1


def test_list_is_newest_first_and_paginates_by_cursor(billing, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    logged = [rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                       {"customer_id": customer_id, "minutes": m}) for m in (10, 20, 30)]

    first = rpc.call("billing", "list_time_entries", str(tenant_id), {}, 2)
    assert [e["minutes"] for e in first["items"]] == [30, 20]
    assert first["next_cursor"]
    second = rpc.call("billing", "list_time_entries", str(tenant_id), {}, 2, first["next_cursor"])
    assert [e["id"] for e in second["items"]] == [logged[0]["id"]]
    assert second["next_cursor"] is None


def test_list_filters_by_member_customer_and_dates(billing, rpc, tenant_id):
    acme, globex = _customer(rpc, tenant_id, "Acme"), _customer(rpc, tenant_id, "Globex")
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    for member, customer, day in [(alice, acme, "2026-03-01"), (alice, globex, "2026-03-10"),
                                  (bob, acme, "2026-03-10"), (bob, acme, "2026-04-01")]:
        rpc.call("billing", "log_time", str(tenant_id), member,
                 {"customer_id": customer, "minutes": 10, "work_date": day})

    def listed(filters):
        items = rpc.call("billing", "list_time_entries", str(tenant_id), filters)["items"]
        return sorted((e["member_id"], e["customer_id"], e["work_date"]) for e in items)

    assert listed({"member_id": alice}) == sorted([(alice, acme, "2026-03-01"), (alice, globex, "2026-03-10")])
    assert listed({"customer_id": acme, "from": "2026-03-10", "to": "2026-03-31"}) == [
        (bob, acme, "2026-03-10")]
    with pytest.raises(InvalidInput):
        rpc.call("billing", "list_time_entries", str(tenant_id), {"from": "2026-04-01", "to": "2026-03-01"})


def test_time_summary_sums_the_customer_in_the_inclusive_range(billing, rpc, tenant_id):
    acme, globex = _customer(rpc, tenant_id, "Acme"), _customer(rpc, tenant_id, "Globex")
    for customer, minutes, billable, day in [
        # both ends of the range count
        (acme, 60, True, "2026-03-01"), (acme, 30, True, "2026-03-31"), (acme, 20, False, "2026-03-15"),
        (acme, 99, True, "2026-04-01"),  # outside the range
        (globex, 77, True, "2026-03-15"),  # another customer
    ]:
        rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                 {"customer_id": customer, "minutes": minutes, "billable": billable, "work_date": day})

    assert rpc.call("billing", "time_summary", str(tenant_id), acme, "2026-03-01", "2026-03-31") == {
        "billable_minutes": 90, "non_billable_minutes": 20, "total_minutes": 110}
    with pytest.raises(InvalidInput):
        rpc.call("billing", "time_summary", str(tenant_id), acme, "2026-03-31", "2026-03-01")
