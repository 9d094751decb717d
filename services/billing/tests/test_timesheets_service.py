"""Weekly timesheets against the real RabbitMQ and PostgreSQL: the member's week in their zone,
submit / approve / reject / reopen and who may, approved weeks lock their entries, an approval
racing an edit loses nothing (real row locks), reminders once per member-week."""
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text, update

from billing.models import time_entries
from billing.service import BillingService
from custops import db, outbox
from custops.contracts.customers import MemberCreated
from custops.errors import Conflict, Forbidden, InvalidInput
from custops.events import envelope_for
from custops.rpc import RpcClient
from custops.testing import publish_and_wait

MONDAY = "2026-03-02"  # a past week


@pytest.fixture
def billing(container_factory, nameko_config):
    container = container_factory(BillingService, nameko_config)
    container.start()
    return container


@pytest.fixture
def team(new_tenant, rpc):
    tenant = new_tenant()
    tid = tenant["tenant_id"]

    def member(tz=None):
        return rpc.call("customers", "create_member", tid, {"email": f"{uuid.uuid4().hex[:10]}@staff.example",
                                                            "name": "Worker", "role": "member",
                                                            **({"timezone": tz} if tz else {})})["id"]

    customer = rpc.call("customers", "create_customer", tid, {"name": "Acme", "tier": "smb"})["id"]
    rpc.call("billing", "set_billing_default", tid, "customer", customer, {"billable": True})
    return {"tenant": tid, "owner": tenant["member_id"], "alice": member(), "bob": member(),
            "kiwi": member("Pacific/Auckland"), "customer": customer}


def _log(rpc, team, member, **fields):
    return rpc.call("billing", "log_time", team["tenant"], member,
                    {"customer_id": team["customer"], "minutes": 30, "work_date": MONDAY, **fields})


def _events(type_: str, key: str, value: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("billing").connect() as conn:
        rows = conn.execute(select(table.c.envelope).where(table.c.type == type_).order_by(table.c.seq)).scalars()
        return [e["data"] for e in rows if e["data"].get(key) == value]


def test_the_week_is_the_members_own_in_their_timezone(billing, rpc, team):
    # Sunday 20:00 UTC is already Monday morning in Auckland
    at = {"started_at": "2026-03-01T20:00:00Z", "ended_at": "2026-03-01T21:00:00Z"}

    def log(member):
        return rpc.call("billing", "log_time", team["tenant"], member, {"customer_id": team["customer"], **at})

    kiwi, alice = log(team["kiwi"]), log(team["alice"])
    assert (kiwi["work_date"], alice["work_date"]) == ("2026-03-02", "2026-03-01")
    assert kiwi["minutes"] == 60
    sheet = rpc.call("billing", "get_timesheet", team["tenant"], team["kiwi"], "2026-03-04")
    assert (sheet["week_start"], sheet["week_end"], sheet["timezone"]) == ("2026-03-02", "2026-03-08",
                                                                          "Pacific/Auckland")
    assert (sheet["total_minutes"], sheet["billable_minutes"], sheet["days"]) == (
        60, 60, {"2026-03-02": {"total_minutes": 60, "billable_minutes": 60}})
    assert rpc.call("billing", "get_timesheet", team["tenant"], team["alice"], "2026-03-01")["week_start"] == \
        "2026-02-23"
    [logged] = _events("time.logged", "entry_id", kiwi["id"])
    assert logged["week_start"] == "2026-03-02"


def test_submit_approve_locks_the_week_and_reopen_unlocks_it(billing, rpc, team):
    tid, alice, owner = team["tenant"], team["alice"], team["owner"]
    entry = _log(rpc, team, alice)
    submitted = rpc.call("billing", "submit_timesheet", tid, alice, alice, MONDAY)
    assert submitted["status"] == "submitted" and submitted["submitted_by"] == alice
    with pytest.raises(Forbidden):  # a member is no approver of their own or anyone's week
        rpc.call("billing", "approve_timesheet", tid, team["bob"], alice, MONDAY)
    approved = rpc.call("billing", "approve_timesheet", tid, owner, alice, MONDAY, {"comment": "ok"}, True)
    assert (approved["status"], approved["decided_by"], approved["total_minutes"]) == ("approved", owner, 30)
    locked = rpc.call("billing", "get_time_entry", tid, entry["id"])
    assert locked["approved_at"] and locked["locked"]
    [told] = _events("timesheet.approved", "member_id", alice)
    assert (told["entry_ids"], told["billable_minutes"], told["week_start"]) == ([entry["id"]], 30, MONDAY)

    for call in (("correct_time_entry", tid, alice, entry["id"], {"minutes": 40}, alice),
                 ("delete_time_entry", tid, alice, entry["id"], alice),
                 ("log_time", tid, alice, {"customer_id": team["customer"], "minutes": 5, "work_date": "2026-03-04"})):
        with pytest.raises(Conflict):
            rpc.call("billing", *call)
    # moving another week's entry into the approved week is refused too
    other = _log(rpc, team, alice, work_date="2026-03-10")
    with pytest.raises(Conflict):
        rpc.call("billing", "correct_time_entry", tid, alice, other["id"], {"work_date": "2026-03-03"}, alice)

    reopened = rpc.call("billing", "reopen_timesheet", tid, owner, alice, MONDAY, {"comment": "fix it"}, True)
    assert reopened["status"] == "open"
    [back] = _events("timesheet.reopened", "member_id", alice)
    assert back["previous_status"] == "approved" and back["entry_ids"] == [entry["id"]]
    fixed = rpc.call("billing", "correct_time_entry", tid, alice, entry["id"], {"minutes": 40}, alice)
    assert fixed["minutes"] == 40 and fixed["approved_at"] is None


def test_rejection_needs_a_comment_and_a_named_approver_decides(billing, rpc, team):
    tid, alice, bob = team["tenant"], team["alice"], team["bob"]
    _log(rpc, team, alice)
    rpc.call("billing", "submit_timesheet", tid, alice, alice, MONDAY)
    rpc.call("billing", "set_timesheet_approvers", tid, alice, {"approver_ids": [bob]})
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("billing", "reject_timesheet", tid, bob, alice, MONDAY, {})
    assert [e["field"] for e in exc_info.value.errors] == ["comment"]
    rejected = rpc.call("billing", "reject_timesheet", tid, bob, alice, MONDAY, {"comment": "Tuesday is missing"})
    assert (rejected["status"], rejected["comment"]) == ("rejected", "Tuesday is missing")
    [told] = _events("timesheet.rejected", "member_id", alice)
    assert told["rejected_by_member_id"] == bob
    rpc.call("billing", "submit_timesheet", tid, alice, alice, MONDAY)
    assert rpc.call("billing", "approve_timesheet", tid, bob, alice, MONDAY)["status"] == "approved"
    # bob may see alice's sheets; alice sees only her own
    assert {s["member_id"] for s in rpc.call("billing", "list_timesheets", tid, {}, 50, None, bob)["items"]} == {alice}
    assert rpc.call("billing", "list_timesheets", tid, {"member_id": bob}, 50, None, alice)["items"] == []


def test_a_week_with_invoiced_time_is_never_reopened(billing, rpc, team):
    tid, alice, owner = team["tenant"], team["alice"], team["owner"]
    entry = _log(rpc, team, alice)
    rpc.call("billing", "submit_timesheet", tid, alice, alice, MONDAY)
    rpc.call("billing", "approve_timesheet", tid, owner, alice, MONDAY, None, True)
    with db.engine_for("billing").begin() as conn:  # as issuing an invoice does
        conn.execute(update(time_entries).where(time_entries.c.id == uuid.UUID(entry["id"]))
                     .values(invoice_id=uuid.uuid4(), invoiced_at=func.now()))
    with pytest.raises(Conflict, match="credit note"):
        rpc.call("billing", "reopen_timesheet", tid, owner, alice, MONDAY, None, True)
    assert rpc.call("billing", "get_timesheet", tid, alice, MONDAY)["status"] == "approved"


def _waiting_on_locks() -> int:
    with db.engine_for("billing").connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar_one()


def _until(condition, what: str, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_week_approved_while_an_entry_is_being_edited_loses_no_update(billing, rpc, team):
    """The edit holds the week (FOR SHARE) and then waits for its entry's row lock (held here, as a
    slow edit would); the approval comes meanwhile and must wait for the edit, then approve what
    the edit wrote. Without the week lock the approval would lock the old row and approve 30."""
    tid, alice, owner = team["tenant"], team["alice"], team["owner"]
    entry = _log(rpc, team, alice)
    rpc.call("billing", "submit_timesheet", tid, alice, alice, MONDAY)
    results = {}

    def call(name, *args):
        client = RpcClient(timeout=30)
        try:
            results[name] = client.call("billing", *args)
        except Exception as exc:  # noqa: BLE001 - asserted below
            results[name] = exc
        finally:
            client.close()

    holder = db.engine_for("billing").connect()
    tx = holder.begin()
    holder.execute(select(time_entries.c.id).where(time_entries.c.id == uuid.UUID(entry["id"])).with_for_update())
    before = _waiting_on_locks()
    edit = threading.Thread(target=call, args=("edit", "correct_time_entry", tid, alice, entry["id"],
                                               {"minutes": 45}, alice))
    edit.start()
    _until(lambda: _waiting_on_locks() >= before + 1, "the edit to wait on its entry")
    approve = threading.Thread(target=call, args=("approve", "approve_timesheet", tid, owner, alice, MONDAY,
                                                  None, True))
    approve.start()
    _until(lambda: _waiting_on_locks() >= before + 2, "the approval to wait on the week")
    tx.rollback()
    holder.close()
    edit.join(30)
    approve.join(30)

    assert results["edit"]["minutes"] == 45, results
    assert results["approve"]["status"] == "approved" and results["approve"]["total_minutes"] == 45, results
    stored = rpc.call("billing", "get_time_entry", tid, entry["id"])
    assert stored["minutes"] == 45 and stored["approved_at"]
    [told] = _events("timesheet.approved", "member_id", alice)
    assert told["total_minutes"] == 45


def test_reminders_go_once_per_member_and_unsubmitted_week(billing, rpc, team):
    tid = team["tenant"]
    # the copy of the members is what the customers service told (here: published as its relay would)
    for member in (team["alice"], team["bob"]):
        event = MemberCreated(member_id=member, email=f"{member}@staff.example", name="Worker", role="member")
        publish_and_wait(billing, "on_member_created", envelope_for(event, uuid.UUID(tid)))
    now = datetime.now(timezone.utc)
    last_week = date.fromisoformat(rpc.call("billing", "get_timesheet", tid, team["bob"], now.date().isoformat())
                                   ["week_start"]) - timedelta(days=7)
    _log(rpc, team, team["bob"], work_date=last_week.isoformat())
    rpc.call("billing", "submit_timesheet", tid, team["bob"], team["bob"], last_week.isoformat())

    assert rpc.call("billing", "send_timesheet_reminders", tid) == {"sent": 1}  # alice's; bob submitted
    assert rpc.call("billing", "send_timesheet_reminders", tid) == {"sent": 0}  # once per member-week
    [reminder] = _events("timesheet.reminder", "member_id", team["alice"])
    assert (reminder["week_start"], reminder["status"]) == (last_week.isoformat(), "open")
    assert _events("timesheet.reminder", "member_id", team["bob"]) == []


def test_the_zones_are_what_the_customers_service_told_last(billing, rpc):
    from custops.contracts.customers import MemberUpdated, TenantUpdated

    tid = uuid.uuid4()  # a tenant billing knows only from events
    member = uuid.uuid4()
    now = datetime.now(timezone.utc)
    publish_and_wait(billing, "on_member_created", envelope_for(MemberCreated(
        member_id=member, email="a@staff.example", name="A", role="member", timezone="Asia/Tokyo"), tid,
        occurred_at=now))
    # told late: an older profile change does not undo the newer one
    publish_and_wait(billing, "on_member_updated", envelope_for(MemberUpdated(
        member_id=member, email="a@staff.example", changes={"timezone": "Europe/Paris"}), tid,
        occurred_at=now - timedelta(hours=1)))
    publish_and_wait(billing, "on_tenant_updated", envelope_for(TenantUpdated(
        tenant_id=tid, name="T", timezone="UTC", week_start="sunday"), tid, occurred_at=now))
    sheet = rpc.call("billing", "get_timesheet", str(tid), str(member), "2026-03-04")
    assert (sheet["timezone"], sheet["week_start"]) == ("Asia/Tokyo", "2026-03-01")  # a Sunday
    publish_and_wait(billing, "on_member_updated", envelope_for(MemberUpdated(
        member_id=member, email="a@staff.example", changes={"timezone": "Europe/Paris"}), tid,
        occurred_at=now + timedelta(seconds=1)))
    assert rpc.call("billing", "get_timesheet", str(tid), str(member), "2026-03-04")["timezone"] == "Europe/Paris"
