"""billing against the real RabbitMQ and PostgreSQL.

`log_time` asks the customers service whether the customer exists, so the real customers service
runs in-process too: each test gets a tenant of its own and real customers in it.
"""
import uuid

import pytest
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
def tickets_service(container_factory, nameko_config):
    """The real tickets service: billing asks it whose a ticket is."""
    from tickets.service import TicketsService

    container = container_factory(TicketsService, nameko_config)
    container.start()
    return container


@pytest.fixture
def tenant_id(new_tenant):
    """A tenant of this test's own, created in the customers service (which refuses unknown tenants)."""
    return uuid.UUID(new_tenant()["tenant_id"])


def _customer(rpc, tenant_id, name="Acme Corp", billable=True) -> str:
    """A customer whose time is billable by default (billing.billability: something must decide)."""
    created = rpc.call("customers", "create_customer", str(tenant_id), {"name": name, "tier": "smb"})
    if billable is not None:
        rpc.call("billing", "set_billing_default", str(tenant_id), "customer", created["id"], {"billable": billable})
    return created["id"]


def _ticket(rpc, tenant_id, customer_id) -> str:
    return rpc.call("tickets", "create_ticket", str(tenant_id),
                    {"customer_id": customer_id, "subject": "Printer on fire"})["id"]


def _member(rpc, tenant_id, role="member", customer_id=None) -> str:
    return rpc.call("customers", "create_member", str(tenant_id), {
        "email": f"{uuid.uuid4().hex[:10]}@staff.example", "name": "Colleague", "role": role,
        **({"customer_id": customer_id} if customer_id else {})})["id"]


def _outbox_rows_for(entry_id: str):
    table = outbox._TABLE
    with db.engine_for("billing").connect() as conn:
        rows = conn.execute(select(table).where(table.c.type == "time.logged")).mappings().all()
    return [r for r in rows if r["envelope"]["data"]["entry_id"] == entry_id]


def _entry_count(tenant_id) -> int:
    with db.engine_for("billing").connect() as conn:
        return conn.execute(select(func.count()).select_from(time_entries)
                            .where(time_entries.c.tenant_id == tenant_id)).scalar_one()


def test_log_time_stores_the_entry_and_its_event_together(billing, tickets_service, rpc, tenant_id):
    customer_id, member_id = _customer(rpc, tenant_id), str(uuid.uuid4())
    ticket_id = _ticket(rpc, tenant_id, customer_id)

    entry = rpc.call("billing", "log_time", str(tenant_id), member_id, {
        "customer_id": customer_id, "ticket_id": ticket_id, "minutes": 45,
        "billable": False, "billable_reason": "onboarding is on us", "work_date": "2026-03-02",
        "note": "migration call"})

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
        "note": "migration call", "entered_by_member_id": member_id, "revision": 1,
        # issue 10: what it is for, why it is (not) billable, its week (2026-03-02 is a Monday)
        "project_id": None, "task_id": None, "activity_id": None, "category": None, "billable_source": "entry",
        "tags": [], "week_start": "2026-03-02", "started_at": None, "ended_at": None, "timer_id": None,
        "needs_confirmation": None}


def test_log_time_takes_the_customers_default_and_today(billing, rpc, tenant_id):
    from billing.commands import utc_today

    entry = rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                     {"customer_id": _customer(rpc, tenant_id), "minutes": 15})
    assert (entry["billable"], entry["billable_source"]) == (True, "customer")
    assert entry["work_date"] == utc_today().isoformat()  # an unknown member's zone: the tenant's (UTC)
    assert entry["ticket_id"] is None


def test_time_nothing_decides_about_is_refused_naming_the_missing_levels(billing, rpc, tenant_id):
    customer = _customer(rpc, tenant_id, billable=None)
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()), {"customer_id": customer, "minutes": 15})
    [error] = exc_info.value.errors
    assert error["field"] == "billable" and "customer has no billing default" in error["message"]
    assert _entry_count(tenant_id) == 0


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


# --- references: every id a command receives exists in the tenant and belongs to the customer ---

def _refused_field(rpc, tenant_id, payload, member_id=None) -> list[str]:
    """The fields a refused `log_time` names (each error says what the reference is, not merely
    that the field is unknown to the input shape)."""
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("billing", "log_time", str(tenant_id), member_id or str(uuid.uuid4()), payload)
    assert all(e.get("type") != "extra_forbidden" for e in exc_info.value.errors), exc_info.value.errors
    return [e["field"] for e in exc_info.value.errors]


def test_a_ticket_of_another_customer_is_refused(billing, tickets_service, rpc, tenant_id):
    acme, globex = _customer(rpc, tenant_id, "Acme"), _customer(rpc, tenant_id, "Globex")
    globex_ticket = _ticket(rpc, tenant_id, globex)
    assert _refused_field(rpc, tenant_id, {"customer_id": acme, "ticket_id": globex_ticket,
                                           "minutes": 30}) == ["ticket_id"]
    assert _entry_count(tenant_id) == 0


def test_a_ticket_of_another_tenant_is_refused(billing, tickets_service, rpc, tenant_id, new_tenant):
    other = new_tenant()["tenant_id"]
    foreign_ticket = _ticket(rpc, other, _customer(rpc, other))
    assert _refused_field(rpc, tenant_id, {"customer_id": _customer(rpc, tenant_id),
                                           "ticket_id": foreign_ticket, "minutes": 30}) == ["ticket_id"]
    assert _entry_count(tenant_id) == 0


def test_an_unknown_ticket_is_refused(billing, tickets_service, rpc, tenant_id):
    assert _refused_field(rpc, tenant_id, {"customer_id": _customer(rpc, tenant_id),
                                           "ticket_id": str(uuid.uuid4()), "minutes": 30}) == ["ticket_id"]
    assert _entry_count(tenant_id) == 0


def test_time_for_a_colleague_is_theirs_and_records_who_entered_it(billing, rpc, tenant_id, new_tenant):
    customer_id, colleague = _customer(rpc, tenant_id), _member(rpc, tenant_id)
    manager = str(uuid.uuid4())
    entry = rpc.call("billing", "log_time", str(tenant_id), manager,
                     {"customer_id": customer_id, "member_id": colleague, "minutes": 20})
    assert (entry["member_id"], entry["entered_by_member_id"]) == (colleague, manager)
    [row] = _outbox_rows_for(entry["id"])
    assert row["envelope"]["data"]["member_id"] == colleague
    assert row["envelope"]["data"]["entered_by_member_id"] == manager
    assert [e["member_id"] for e in rpc.call("billing", "list_time_entries", str(tenant_id),
                                               {"member_id": colleague})["items"]] == [colleague]


def test_an_unknown_or_foreign_member_is_refused(billing, rpc, tenant_id, new_tenant):
    customer_id = _customer(rpc, tenant_id)
    other = new_tenant()
    for member_id in (str(uuid.uuid4()), other["member_id"]):
        assert _refused_field(rpc, tenant_id, {"customer_id": customer_id, "member_id": member_id,
                                               "minutes": 30}) == ["member_id"]
    assert _entry_count(tenant_id) == 0


def test_a_portal_user_logs_no_time(billing, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    portal_user = _member(rpc, tenant_id, role="portal", customer_id=customer_id)
    assert _refused_field(rpc, tenant_id, {"customer_id": customer_id, "member_id": portal_user,
                                           "minutes": 30}) == ["member_id"]
    assert _entry_count(tenant_id) == 0


def test_customers_down_propagates_and_stores_nothing(container_factory, nameko_config, rpc, monkeypatch):
    tenant_id = uuid.uuid4()  # no customers service runs here to create one
    monkeypatch.setenv("CUSTOPS_RPC_TIMEOUT", "1")  # billing's own rpc, read at container setup
    container_factory(BillingService, nameko_config).start()
    from custops.errors import ServiceTimeout, ServiceUnavailable

    # registered with nameko (issue 13): the caller gets them as themselves, the gateway's 503/504
    with pytest.raises((ServiceUnavailable, ServiceTimeout)):
        rpc.call("billing", "log_time", str(tenant_id), str(uuid.uuid4()),
                 {"customer_id": str(uuid.uuid4()), "minutes": 30})
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
                 {"customer_id": customer, "minutes": minutes, "billable": billable, "work_date": day,
                  **({} if billable else {"billable_reason": "internal"})})

    assert rpc.call("billing", "time_summary", str(tenant_id), acme, "2026-03-01", "2026-03-31") == {
        "billable_minutes": 90, "non_billable_minutes": 20, "total_minutes": 110}
    with pytest.raises(InvalidInput):
        rpc.call("billing", "time_summary", str(tenant_id), acme, "2026-03-31", "2026-03-01")


# --- get, correct, delete ---

def _outbox_events(type_: str, entry_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("billing").connect() as conn:
        rows = conn.execute(select(table).where(table.c.type == type_).order_by(table.c.seq)).mappings().all()
    return [r["envelope"] for r in rows if r["envelope"]["data"]["entry_id"] == entry_id]


def _log(rpc, tenant_id, member_id, customer_id, **fields) -> dict:
    return rpc.call("billing", "log_time", str(tenant_id), member_id,
                    {"customer_id": customer_id, "minutes": 30, "work_date": "2026-03-02", **fields})


def _invoice(entry_id: str) -> None:
    """Nothing invoices yet (issue 10): mark the entry as an invoice run will."""
    with db.engine_for("billing").begin() as conn:
        conn.execute(time_entries.update().where(time_entries.c.id == uuid.UUID(entry_id))
                     .values(invoiced_at=func.now()))


def test_get_time_entry_is_tenant_scoped(billing, rpc, tenant_id, new_tenant):
    from custops.errors import NotFound

    entry = _log(rpc, tenant_id, str(uuid.uuid4()), _customer(rpc, tenant_id))
    assert rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"]) == entry
    for tenant, entry_id in [(new_tenant()["tenant_id"], entry["id"]), (str(tenant_id), str(uuid.uuid4())),
                             (str(tenant_id), "not-an-id")]:
        with pytest.raises(NotFound):
            rpc.call("billing", "get_time_entry", tenant, entry_id)


def test_a_correction_changes_the_given_fields_and_tells_old_and_new(billing, rpc, tenant_id):
    member = str(uuid.uuid4())
    entry = _log(rpc, tenant_id, member, _customer(rpc, tenant_id), note="call")

    fixed = rpc.call("billing", "correct_time_entry", str(tenant_id), member, entry["id"],
                     {"minutes": 45, "work_date": "2026-03-03"}, member)

    assert (fixed["minutes"], fixed["work_date"], fixed["note"]) == (45, "2026-03-03", "call")
    assert fixed["revision"] == 2 and fixed["updated_at"] is not None
    assert rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"]) == fixed
    [event] = _outbox_events("time.updated", entry["id"])
    assert event["data"]["changes"] == {"minutes": {"old": 30, "new": 45},
                                        "work_date": {"old": "2026-03-02", "new": "2026-03-03"}}
    assert (event["data"]["minutes"], event["data"]["revision"]) == (45, 2)
    assert event["data"]["updated_by_member_id"] == member


def test_a_correction_that_changes_nothing_tells_nothing(billing, rpc, tenant_id):
    member = str(uuid.uuid4())
    entry = _log(rpc, tenant_id, member, _customer(rpc, tenant_id))
    assert rpc.call("billing", "correct_time_entry", str(tenant_id), member, entry["id"],
                    {"minutes": 30}, member) == entry
    assert _outbox_events("time.updated", entry["id"]) == []


def test_null_for_a_required_field_is_a_field_error(billing, rpc, tenant_id):
    member = str(uuid.uuid4())
    entry = _log(rpc, tenant_id, member, _customer(rpc, tenant_id))
    for field in ("minutes", "customer_id", "billable", "work_date", "note", "member_id"):
        with pytest.raises(InvalidInput) as exc_info:
            rpc.call("billing", "correct_time_entry", str(tenant_id), member, entry["id"], {field: None}, member)
        assert [e["field"] for e in exc_info.value.errors] == [field]
    assert rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"]) == entry


def test_a_member_corrects_and_deletes_only_their_own_entries(billing, rpc, tenant_id):
    from custops.errors import Forbidden

    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    entry = _log(rpc, tenant_id, alice, _customer(rpc, tenant_id))
    with pytest.raises(Forbidden):
        rpc.call("billing", "correct_time_entry", str(tenant_id), bob, entry["id"], {"minutes": 5}, bob)
    with pytest.raises(Forbidden):
        rpc.call("billing", "delete_time_entry", str(tenant_id), bob, entry["id"], bob)
    assert rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"]) == entry
    # a manager (no scope) may
    manager = str(uuid.uuid4())
    assert rpc.call("billing", "correct_time_entry", str(tenant_id), manager, entry["id"],
                    {"minutes": 5})["minutes"] == 5


def test_moving_an_entry_to_a_colleague_needs_a_manager_and_a_real_member(billing, rpc, tenant_id):
    from custops.errors import Forbidden

    alice, colleague = str(uuid.uuid4()), _member(rpc, tenant_id)
    entry = _log(rpc, tenant_id, alice, _customer(rpc, tenant_id))
    with pytest.raises(Forbidden):
        rpc.call("billing", "correct_time_entry", str(tenant_id), alice, entry["id"], {"member_id": colleague}, alice)
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("billing", "correct_time_entry", str(tenant_id), alice, entry["id"], {"member_id": str(uuid.uuid4())})
    assert [e["field"] for e in exc_info.value.errors] == ["member_id"]
    moved = rpc.call("billing", "correct_time_entry", str(tenant_id), alice, entry["id"], {"member_id": colleague})
    assert moved["member_id"] == colleague


def test_a_corrected_customer_must_own_the_entrys_ticket(billing, tickets_service, rpc, tenant_id):
    member = str(uuid.uuid4())
    acme, globex = _customer(rpc, tenant_id, "Acme"), _customer(rpc, tenant_id, "Globex")
    entry = _log(rpc, tenant_id, member, acme, ticket_id=_ticket(rpc, tenant_id, acme))

    def refused(payload) -> list[str]:
        with pytest.raises(InvalidInput) as exc_info:
            rpc.call("billing", "correct_time_entry", str(tenant_id), member, entry["id"], payload, member)
        return [e["field"] for e in exc_info.value.errors]

    assert refused({"customer_id": globex}) == ["ticket_id"]  # keeps Acme's ticket
    assert refused({"ticket_id": _ticket(rpc, tenant_id, globex)}) == ["ticket_id"]  # not Acme's
    assert refused({"customer_id": str(uuid.uuid4()), "ticket_id": None}) == ["customer_id"]
    assert rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"]) == entry

    globex_ticket = _ticket(rpc, tenant_id, globex)
    moved = rpc.call("billing", "correct_time_entry", str(tenant_id), member, entry["id"],
                     {"customer_id": globex, "ticket_id": globex_ticket}, member)
    assert (moved["customer_id"], moved["ticket_id"]) == (globex, globex_ticket)
    detached = rpc.call("billing", "correct_time_entry", str(tenant_id), member, entry["id"],
                        {"ticket_id": None}, member)
    assert detached["ticket_id"] is None


def test_an_invoiced_entry_can_no_longer_change(billing, rpc, tenant_id):
    from custops.errors import Conflict

    member = str(uuid.uuid4())
    entry = _log(rpc, tenant_id, member, _customer(rpc, tenant_id))
    _invoice(entry["id"])
    locked = rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"])
    assert locked["locked"] is True and locked["invoiced_at"]
    for call in (("correct_time_entry", str(tenant_id), member, entry["id"], {"minutes": 10}),
                 ("correct_time_entry", str(tenant_id), member, entry["id"], {"minutes": 10}, member),
                 ("delete_time_entry", str(tenant_id), member, entry["id"])):
        with pytest.raises(Conflict):
            rpc.call("billing", *call)
    assert rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"]) == locked
    assert _outbox_events("time.updated", entry["id"]) == _outbox_events("time.deleted", entry["id"]) == []


def test_delete_removes_the_entry_and_tells_what_it_was(billing, rpc, tenant_id):
    from custops.errors import NotFound

    member, manager = str(uuid.uuid4()), str(uuid.uuid4())
    customer_id = _customer(rpc, tenant_id)
    entry = _log(rpc, tenant_id, member, customer_id, minutes=45, billable=False, billable_reason="a favour")

    assert rpc.call("billing", "delete_time_entry", str(tenant_id), manager, entry["id"]) == {
        "id": entry["id"], "deleted": True}

    with pytest.raises(NotFound):
        rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"])
    with pytest.raises(NotFound):
        rpc.call("billing", "delete_time_entry", str(tenant_id), manager, entry["id"])
    assert _entry_count(tenant_id) == 0
    assert rpc.call("billing", "time_summary", str(tenant_id), customer_id, "2026-03-01", "2026-03-31")[
        "total_minutes"] == 0
    [event] = _outbox_events("time.deleted", entry["id"])
    assert {k: event["data"][k] for k in ("member_id", "customer_id", "minutes", "billable", "work_date",
                                          "revision", "deleted_by_member_id")} == {
        "member_id": member, "customer_id": customer_id, "minutes": 45, "billable": False,
        "work_date": "2026-03-02", "revision": 1, "deleted_by_member_id": manager}


def test_another_tenants_entry_cannot_be_corrected_or_deleted(billing, rpc, tenant_id, new_tenant):
    from custops.errors import NotFound

    member = str(uuid.uuid4())
    entry = _log(rpc, tenant_id, member, _customer(rpc, tenant_id))
    other = new_tenant()["tenant_id"]
    with pytest.raises(NotFound):
        rpc.call("billing", "correct_time_entry", other, member, entry["id"], {"minutes": 5})
    with pytest.raises(NotFound):
        rpc.call("billing", "delete_time_entry", other, member, entry["id"])
    assert rpc.call("billing", "get_time_entry", str(tenant_id), entry["id"]) == entry
