"""The stopwatch against the real RabbitMQ and PostgreSQL: start, pause, resume, stop into an entry;
one timer per member, also under truly concurrent starts; the limit flag and the idle stop; a
restart of the service loses nothing. Time passing is simulated by moving a timer's instants back
in its row, as the clock would have."""
import threading
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from billing.models import timers, time_entries
from billing.service import BillingService
from custops import db, outbox
from custops.errors import Conflict, Forbidden, InvalidInput, NotFound
from custops.rpc import RpcClient


@pytest.fixture
def billing(container_factory, nameko_config):
    container = container_factory(BillingService, nameko_config)
    container.start()
    return container


@pytest.fixture
def team(new_tenant, rpc):
    """A tenant with two members and a customer whose time is billable by default."""
    tenant = new_tenant()
    tid = tenant["tenant_id"]

    def member():
        return rpc.call("customers", "create_member", tid, {"email": f"{uuid.uuid4().hex[:10]}@staff.example",
                                                            "name": "Worker", "role": "member"})["id"]

    customer = rpc.call("customers", "create_customer", tid, {"name": "Acme", "tier": "smb"})["id"]
    rpc.call("billing", "set_billing_default", tid, "customer", customer, {"billable": True})
    return {"tenant": tid, "alice": member(), "bob": member(), "customer": customer}


def _events(type_: str, key: str, value: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("billing").connect() as conn:
        rows = conn.execute(select(table.c.envelope).where(table.c.type == type_).order_by(table.c.seq)).scalars()
        return [e["data"] for e in rows if e["data"].get(key) == value]


def _age(timer_id: str, **by: timedelta) -> None:
    """Move the timer's instants back as if `by` had passed (started_at, resumed_at, last_activity_at)."""
    t = timers.c
    with db.engine_for("billing").begin() as conn:
        conn.execute(update(timers).where(t.id == uuid.UUID(timer_id)).values(
            **{column: getattr(t, column) - delta for column, delta in by.items()}))


def _entry(entry_id: str) -> dict:
    with db.engine_for("billing").connect() as conn:
        return dict(conn.execute(select(time_entries).where(time_entries.c.id == uuid.UUID(entry_id))).mappings().one())


def test_a_timer_runs_pauses_resumes_and_stops_into_a_billable_entry(billing, rpc, team):
    tid, alice = team["tenant"], team["alice"]
    timer = rpc.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"], "note": "call",
                                                            "tags": ["phone"]})
    assert (timer["state"], timer["member_id"], timer["elapsed_seconds"]) == ("running", alice, 0)
    # started 70 minutes ago; 50 minutes of work, then (below) a pause, then ten more minutes
    _age(timer["id"], started_at=timedelta(minutes=70), resumed_at=timedelta(minutes=50))
    paused = rpc.call("billing", "pause_timer", tid, alice, timer["id"], alice)
    assert paused["state"] == "paused" and 3000 <= paused["elapsed_seconds"] <= 3005
    with pytest.raises(Conflict):
        rpc.call("billing", "pause_timer", tid, alice, timer["id"], alice)
    resumed = rpc.call("billing", "resume_timer", tid, alice, timer["id"], alice)
    _age(timer["id"], resumed_at=timedelta(minutes=10))  # ten more minutes of work
    stopped = rpc.call("billing", "stop_timer", tid, alice, timer["id"], alice)

    assert resumed["state"] == "running" and stopped["state"] == "stopped" and stopped["stop_reason"] == "stopped"
    entry = rpc.call("billing", "get_time_entry", tid, stopped["entry_id"])
    assert (entry["minutes"], entry["member_id"], entry["customer_id"]) == (60, alice, team["customer"])
    assert (entry["billable"], entry["billable_source"], entry["timer_id"]) == (True, "customer", timer["id"])
    assert (entry["note"], entry["tags"], entry["needs_confirmation"]) == ("call", ["phone"], None)
    assert entry["started_at"] is None  # it paused: the minutes are the fact, not a span
    kinds = [(t, _events(t, "timer_id", timer["id"])) for t in ("timer.started", "timer.paused", "timer.resumed",
                                                                 "timer.stopped")]
    assert [len(found) for _t, found in kinds] == [1, 1, 1, 1]
    assert kinds[3][1][0]["entry_id"] == entry["id"] and kinds[3][1][0]["minutes"] == 60
    [logged] = _events("time.logged", "entry_id", entry["id"])
    work_date = date.fromisoformat(entry["work_date"])
    assert (logged["timer_id"], logged["billable_source"], logged["week_start"]) == (
        timer["id"], "customer", (work_date - timedelta(days=work_date.weekday())).isoformat())
    with pytest.raises(Conflict):
        rpc.call("billing", "stop_timer", tid, alice, timer["id"], alice)  # stopped once


def test_starting_another_stops_the_first_and_concurrent_starts_leave_exactly_one(billing, rpc, team):
    tid, alice = team["tenant"], team["alice"]
    first = rpc.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"]})
    second = rpc.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"]})
    replaced = rpc.call("billing", "get_timer", tid, first["id"])
    assert (replaced["state"], replaced["stop_reason"]) == ("stopped", "replaced") and replaced["entry_id"]
    [started] = _events("timer.started", "timer_id", second["id"])
    assert started["replaced_timer_id"] == first["id"]

    # eight starts by the same member at once, each on its own connection: one runs, the rest stop
    results, errors, gate = [], [], threading.Barrier(8)

    def start():
        client = RpcClient(timeout=20)
        try:
            gate.wait()
            results.append(client.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"]}))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 8
    live = rpc.call("billing", "list_timers", tid, {"member_id": alice})["items"]
    assert len(live) == 1 and live[0]["state"] == "running"
    everyone = rpc.call("billing", "list_timers", tid, {"member_id": alice, "live": False})["items"]
    assert len(everyone) == 10
    assert sorted(t["stop_reason"] or "" for t in everyone) == [""] + ["replaced"] * 9
    # each replaced timer made exactly one entry
    assert len({t["entry_id"] for t in everyone if t["entry_id"]}) == 9


def test_timers_are_the_members_own_and_visible_to_approvers_and_managers(billing, rpc, team):
    tid, alice, bob = team["tenant"], team["alice"], team["bob"]
    timer = rpc.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"]})
    with pytest.raises(Forbidden):
        rpc.call("billing", "stop_timer", tid, bob, timer["id"], bob)
    with pytest.raises(NotFound):
        rpc.call("billing", "get_timer", tid, timer["id"], bob)
    assert rpc.call("billing", "list_timers", tid, {}, 50, None, bob)["items"] == []
    rpc.call("billing", "set_timesheet_approvers", tid, alice, {"approver_ids": [bob]})
    assert rpc.call("billing", "get_timer", tid, timer["id"], bob)["id"] == timer["id"]
    assert [t["id"] for t in rpc.call("billing", "list_timers", tid, {}, 50, None, bob)["items"]] == [timer["id"]]
    # a manager (no scope) stops anyone's
    assert rpc.call("billing", "stop_timer", tid, bob, timer["id"])["state"] == "stopped"


def test_a_timer_nothing_decides_about_never_starts(billing, rpc, team, new_tenant):
    tid = team["tenant"]
    undecided = rpc.call("customers", "create_customer", tid, {"name": "Initech", "tier": "smb"})["id"]
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("billing", "start_timer", tid, team["alice"], {"customer_id": undecided})
    assert [e["field"] for e in exc_info.value.errors] == ["billable"]
    assert rpc.call("billing", "list_timers", tid, {"member_id": team["alice"]})["items"] == []


def test_past_the_limit_a_timer_is_flagged_and_its_entry_needs_confirmation(billing, rpc, team):
    tid, alice = team["tenant"], team["alice"]
    rpc.call("billing", "update_time_settings", tid, {"timer_limit_minutes": 60})
    timer = rpc.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"]})
    _age(timer["id"], started_at=timedelta(minutes=61), resumed_at=timedelta(minutes=61),
         last_activity_at=timedelta(minutes=61))
    assert rpc.call("billing", "sweep_timers", tid) == {"flagged": 1, "stopped": 0}
    assert rpc.call("billing", "sweep_timers", tid) == {"flagged": 0, "stopped": 0}  # told once
    [flag] = _events("timer.flagged", "timer_id", timer["id"])
    assert flag["limit_minutes"] == 60 and flag["elapsed_seconds"] > 3600
    assert rpc.call("billing", "get_timer", tid, timer["id"])["over_limit"] is True

    stopped = rpc.call("billing", "stop_timer", tid, alice, timer["id"], alice)
    entry = rpc.call("billing", "get_time_entry", tid, stopped["entry_id"])
    assert entry["needs_confirmation"] == "over_limit" and entry["minutes"] == 61
    [told] = _events("timer.stopped", "timer_id", timer["id"])
    assert told["flagged"] is True
    # not billed silently: the week cannot be submitted until someone confirms the entry
    with pytest.raises(Conflict) as refused:
        rpc.call("billing", "submit_timesheet", tid, alice, alice, entry["work_date"])
    assert entry["id"] in str(refused.value)
    confirmed = rpc.call("billing", "correct_time_entry", tid, alice, entry["id"], {"confirmed": True}, alice)
    assert confirmed["needs_confirmation"] is None and confirmed["confirmed_at"]
    assert rpc.call("billing", "submit_timesheet", tid, alice, alice, entry["work_date"])["status"] == "submitted"


def test_an_idle_timer_is_stopped_at_its_last_activity(billing, rpc, team):
    tid, alice = team["tenant"], team["alice"]
    rpc.call("billing", "update_time_settings", tid, {"idle_stop_minutes": 15})
    timer = rpc.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"]})
    _age(timer["id"], started_at=timedelta(minutes=40), resumed_at=timedelta(minutes=40),
         last_activity_at=timedelta(minutes=40))
    rpc.call("billing", "touch_timer", tid, alice, timer["id"], alice)  # active now: not idle
    assert rpc.call("billing", "sweep_timers", tid) == {"flagged": 0, "stopped": 0}
    _age(timer["id"], last_activity_at=timedelta(minutes=20))  # last sign of life 20 min ago
    assert rpc.call("billing", "sweep_timers", tid) == {"flagged": 0, "stopped": 1}
    idle = rpc.call("billing", "get_timer", tid, timer["id"])
    assert (idle["state"], idle["stop_reason"]) == ("stopped", "idle")
    assert rpc.call("billing", "get_time_entry", tid, idle["entry_id"])["minutes"] == 20  # up to the activity


def test_a_running_timer_survives_a_restart_of_the_service(billing, container_factory, nameko_config, rpc, team):
    tid, alice = team["tenant"], team["alice"]
    timer = rpc.call("billing", "start_timer", tid, alice, {"customer_id": team["customer"]})
    billing.stop()
    second = container_factory(BillingService, nameko_config)
    second.start()
    again = rpc.call("billing", "get_timer", tid, timer["id"])
    assert again["state"] == "running" and again["started_at"] == timer["started_at"]
    assert rpc.call("billing", "stop_timer", tid, alice, timer["id"], alice)["entry_id"]
