"""SLA wiring against the real RabbitMQ and PostgreSQL: timers written in ticket transactions, the
deadline clock's warnings and breaches (once, within 5 s, across a restart and with two instances),
pauses, recomputation on configuration changes, escalation and the configuration RPCs.

Targets are minutes, too slow for a test, so tests move a timer's warn_at/deadline into the next
seconds with an UPDATE and a `NOTIFY custops_sla` (what a policy change does) and then watch the
outbox.
"""
import time
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from custops import db, outbox
from custops.errors import Conflict, InvalidInput
from tickets import sla_tracking
from tickets.models import tickets
from tickets.service import TicketsService

DUE_WITHIN = 5.0  # seconds: the promise


@pytest.fixture
def start_tickets(container_factory, nameko_config):
    def start():
        container = container_factory(TicketsService, nameko_config)
        container.start()
        return container

    return start


@pytest.fixture
def tickets_service(start_tickets):
    return start_tickets()


def _customer(rpc, tenant_id, tier="enterprise") -> str:
    return rpc.call("customers", "create_customer", str(tenant_id), {
        "name": "Acme", "tier": tier, "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]


def _ticket(rpc, tenant_id, customer_id, **fields) -> dict:
    return rpc.call("tickets", "create_ticket", str(tenant_id),
                    {"customer_id": customer_id, "subject": "Down", **fields})


def _recomputed(rpc, tenant_id, timeout=15.0) -> list[dict]:
    """Wait until the tenant's SLA recompute jobs (queued by configuration changes) have finished;
    returns the jobs, newest first."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = rpc.call("tickets", "list_sla_recompute_jobs", str(tenant_id))["items"]
        if all(j["status"] not in ("queued", "running") for j in jobs):
            return jobs
        assert time.monotonic() < deadline, f"recompute jobs still active: {jobs}"
        time.sleep(0.05)


def _timers(rpc, tenant_id, ticket_id) -> dict:
    return {t["timer"]: t for t in rpc.call("tickets", "get_ticket_sla", str(tenant_id), ticket_id)["timers"]}


def _execute(sql, **params):
    with db.engine_for("tickets").begin() as conn:
        return conn.execute(text(sql), params)


def _make_due(ticket_ids, timer="first_response", warn_in=1.0, due_in=2.0):
    """Move timers' warning and deadline `warn_in` / `due_in` seconds ahead; returns (warn_at, deadline)."""
    row = _execute("""UPDATE ticket_sla_timers SET warn_at = now() + make_interval(secs => :w),
                              deadline = now() + make_interval(secs => :d)
                       WHERE ticket_id = ANY(CAST(:ids AS uuid[])) AND timer = :timer
                       RETURNING warn_at, deadline""",
                   w=warn_in, d=due_in, ids=[str(i) for i in ticket_ids], timer=timer).first()
    _execute("NOTIFY custops_sla")
    return row


def _sla_events(tenant_id) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("tickets").connect() as conn:
        return [dict(r) for r in conn.execute(
            select(table).where(table.c.tenant_id == tenant_id,
                                table.c.type.in_(["ticket.sla_warning", "ticket.sla_breached"]))
            .order_by(table.c.seq)).mappings().all()]


def _met_events(tenant_id) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("tickets").connect() as conn:
        return [r.envelope["data"] for r in conn.execute(
            select(table.c.envelope).where(table.c.tenant_id == tenant_id, table.c.type == "ticket.sla_met")
            .order_by(table.c.seq))]


def _wait_for(tenant_id, count, timeout) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = _sla_events(tenant_id)
        if len(events) >= count:
            return events
        time.sleep(0.1)
    return _sla_events(tenant_id)


def _always_open(rpc, tenant_id):
    rpc.call("tickets", "put_business_calendar", str(tenant_id), {"timezone": "UTC", "always_open": True})
    _recomputed(rpc, tenant_id)  # before the test moves deadlines: a recompute would move them back


def _assert_once_each_on_time(events, ticket_ids, warn_at, deadline, timer="first_response"):
    seen = sorted((e["type"], e["envelope"]["data"]["ticket_id"], e["envelope"]["data"]["timer"]) for e in events)
    expected = sorted((t, str(i), timer) for i in ticket_ids for t in ("ticket.sla_warning", "ticket.sla_breached"))
    assert seen == expected
    for event in events:
        due = warn_at if event["type"] == "ticket.sla_warning" else deadline
        assert timedelta(0) <= event["created_at"] - due < timedelta(seconds=DUE_WITHIN), (event["type"], due)


# --- timers in ticket transactions ---

def test_a_new_ticket_gets_first_response_and_resolution_timers_from_the_starter_policies(
        tickets_service, rpc, tenant_id):
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id, "enterprise"), priority="urgent")

    timers = _timers(rpc, tenant_id, ticket["id"])
    assert set(timers) == {"first_response", "resolution"}
    assert (timers["first_response"]["target_minutes"], timers["resolution"]["target_minutes"]) == (60, 240)
    assert timers["first_response"]["calendar_version"] == 1  # the default Mon-Fri 09-17 UTC calendar
    policies = rpc.call("tickets", "list_sla_policies", str(tenant_id))
    assert len(policies) == 13  # 3 tiers x 4 priorities + the tenant default, seeded once
    assert len(rpc.call("tickets", "list_sla_policies", str(tenant_id))) == 13


def test_pausing_status_moves_the_deadline_by_the_paused_time_and_pending_does_not(
        tickets_service, rpc, tenant_id):
    _always_open(rpc, tenant_id)
    customer = _customer(rpc, tenant_id)
    paused, pending = _ticket(rpc, tenant_id, customer), _ticket(rpc, tenant_id, customer)
    before = {t["id"]: datetime.fromisoformat(_timers(rpc, tenant_id, t["id"])["resolution"]["deadline"])
              for t in (paused, pending)}

    rpc.call("tickets", "change_status", str(tenant_id), paused["id"], "waiting_on_customer")
    rpc.call("tickets", "change_status", str(tenant_id), pending["id"], "pending")
    assert _timers(rpc, tenant_id, paused["id"])["resolution"]["deadline"] is None  # clock stopped
    time.sleep(1.0)
    rpc.call("tickets", "change_status", str(tenant_id), paused["id"], "open")
    rpc.call("tickets", "change_status", str(tenant_id), pending["id"], "open")

    sla = rpc.call("tickets", "get_ticket_sla", str(tenant_id), paused["id"])
    [pause] = sla["pauses"]
    paused_for = datetime.fromisoformat(pause["ended_at"]) - datetime.fromisoformat(pause["started_at"])
    assert pause["status"] == "waiting_on_customer" and paused_for >= timedelta(seconds=1)
    after = {t["timer"]: datetime.fromisoformat(t["deadline"]) for t in sla["timers"]}
    assert after["resolution"] - before[paused["id"]] == paused_for  # 24/7: paused time = business time
    assert datetime.fromisoformat(_timers(rpc, tenant_id, pending["id"])["resolution"]["deadline"]) \
        == before[pending["id"]]
    assert rpc.call("tickets", "get_ticket_sla", str(tenant_id), pending["id"])["pauses"] == []


def test_policy_change_recomputes_open_tickets_and_bumps_the_policy_version(tickets_service, rpc, tenant_id):
    _always_open(rpc, tenant_id)
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id, "enterprise"), priority="normal")
    first = _timers(rpc, tenant_id, ticket["id"])["first_response"]
    assert (first["target_minutes"], first["policy_version"]) == (60, 1)

    policy = rpc.call("tickets", "put_sla_policy", str(tenant_id), {
        "tier": "enterprise", "priority": "normal", "first_response_minutes": 15, "resolution_minutes": 600})

    assert policy["version"] == 2
    _recomputed(rpc, tenant_id)
    timers = _timers(rpc, tenant_id, ticket["id"])
    started = datetime.fromisoformat(timers["first_response"]["started_at"])
    assert timers["first_response"]["policy_version"] == 2
    assert datetime.fromisoformat(timers["first_response"]["deadline"]) == started + timedelta(minutes=15)
    assert timers["resolution"]["target_minutes"] == 600
    assert timers["first_response"]["calendar_version"] == 2  # the 24/7 calendar replaced the default


def test_reply_meets_the_first_response_and_resolving_stops_the_clocks(tickets_service, rpc, tenant_id):
    ticket_id = _ticket(rpc, tenant_id, _customer(rpc, tenant_id))["id"]
    with db.transaction(db.engine_for("tickets"), "tickets") as session:
        row = dict(session.execute(select(tickets).where(tickets.c.id == uuid.UUID(ticket_id))).mappings().one())
        sla_tracking.on_public_reply(session, row, row["created_at"])
        sla_tracking.on_customer_message(session, row, row["created_at"] + timedelta(minutes=1))
    timers = _timers(rpc, tenant_id, ticket_id)
    assert timers["first_response"]["met_at"] is not None and not timers["first_response"]["breached"]
    assert timers["next_response"]["met_at"] is None and timers["next_response"]["target_minutes"] == 60

    rpc.call("tickets", "change_status", str(tenant_id), ticket_id, "resolved")
    assert all(t["met_at"] is not None for t in _timers(rpc, tenant_id, ticket_id).values())
    # each stop is told once, with the business minutes it ran (reports' medians, issue 12)
    met = {e["timer"]: e for e in _met_events(tenant_id)}
    assert sorted(met) == ["first_response", "next_response", "resolution"]
    assert met["first_response"]["business_minutes"] == 0 and met["first_response"]["breached"] is False
    assert met["first_response"]["met_at"] == met["first_response"]["started_at"]
    assert (met["resolution"]["ticket_id"], met["resolution"]["tier"]) == (ticket_id, "enterprise")
    assert (met["resolution"]["priority"], met["resolution"]["target_minutes"]) == ("normal", 1440)
    rpc.call("tickets", "change_status", str(tenant_id), ticket_id, "open")  # reopened
    reopened = _timers(rpc, tenant_id, ticket_id)["resolution"]
    assert reopened["met_at"] is None and reopened["deadline"] is not None


# --- the deadline clock ---

def test_warning_and_breach_are_emitted_once_each_within_five_seconds(tickets_service, rpc, tenant_id):
    _always_open(rpc, tenant_id)
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id))
    warn_at, deadline = _make_due([ticket["id"]])

    events = _wait_for(tenant_id, 2, timeout=2 + DUE_WITHIN)
    time.sleep(1.0)  # nothing more comes
    events = _sla_events(tenant_id)
    _assert_once_each_on_time(events, [ticket["id"]], warn_at, deadline)
    breach = next(e for e in events if e["type"] == "ticket.sla_breached")["envelope"]["data"]
    assert (breach["number"], breach["target_minutes"]) == (ticket["number"], 60)
    first = _timers(rpc, tenant_id, ticket["id"])["first_response"]
    assert first["breached"] and first["breach_minutes"] == 0


def test_two_instances_emit_each_event_once_in_total(start_tickets, rpc, tenant_id):
    start_tickets(), start_tickets()
    _always_open(rpc, tenant_id)
    customer = _customer(rpc, tenant_id)
    ids = [_ticket(rpc, tenant_id, customer)["id"] for _ in range(5)]
    warn_at, deadline = _make_due(ids)

    _wait_for(tenant_id, 10, timeout=2 + DUE_WITHIN)
    time.sleep(1.0)
    _assert_once_each_on_time(_sla_events(tenant_id), ids, warn_at, deadline)


def test_what_fell_due_while_the_service_was_down_is_emitted_promptly_on_start(start_tickets, rpc, tenant_id):
    first = start_tickets()
    _always_open(rpc, tenant_id)
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id))
    first.stop()
    _make_due([ticket["id"]], warn_in=0.2, due_in=0.5)
    time.sleep(1.5)
    assert _sla_events(tenant_id) == []  # nobody was running

    started = datetime.now().astimezone()
    start_tickets()
    events = _wait_for(tenant_id, 2, timeout=DUE_WITHIN)
    time.sleep(1.0)
    events = _sla_events(tenant_id)
    assert sorted(e["type"] for e in events) == ["ticket.sla_breached", "ticket.sla_warning"]
    assert all(e["created_at"] - started < timedelta(seconds=DUE_WITHIN) for e in events)


def test_breach_escalation_raises_the_priority_and_reassigns(tickets_service, rpc, tenant_id):
    _always_open(rpc, tenant_id)
    member = str(uuid.uuid4())
    rpc.call("tickets", "put_sla_settings", str(tenant_id),
             {"escalation": {"raise_priority": True, "reassign_to": member}})
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id), priority="normal")
    _make_due([ticket["id"]], warn_in=0.5, due_in=1.0)

    _wait_for(tenant_id, 2, timeout=1 + DUE_WITHIN)
    assert rpc.call("tickets", "get_ticket", str(tenant_id), ticket["id"])["priority"] == "high"
    with db.engine_for("tickets").connect() as conn:
        assert str(conn.execute(select(tickets.c.assignee_id).where(
            tickets.c.id == uuid.UUID(ticket["id"]))).scalar()) == member
        assigned = conn.execute(text("SELECT envelope FROM outbox WHERE tenant_id = :t AND type = 'ticket.assigned'"),
                                {"t": tenant_id}).scalars().all()
    assert [(a["data"]["method"], a["data"]["assignee_id"]) for a in assigned] == [("escalation", member)]
    with db.engine_for("tickets").connect() as conn:
        updated = conn.execute(text("SELECT envelope FROM outbox WHERE tenant_id = :t AND type = 'ticket.updated'"),
                               {"t": tenant_id}).scalars().all()
    assert [(u["data"]["changes"], u["data"]["reason"]) for u in updated] == [({"priority": "high"}, "escalation")]
    # the higher priority selected the enterprise/high policy (resolution 480 min)
    assert _timers(rpc, tenant_id, ticket["id"])["resolution"]["target_minutes"] == 480


# --- configuration RPCs ---

def test_calendar_validation_errors_name_the_field(tickets_service, rpc, tenant_id):
    with pytest.raises(InvalidInput) as bad_zone:
        rpc.call("tickets", "put_business_calendar", str(tenant_id),
                 {"timezone": "Mars/Olympus", "weekly_slots": {"0": [["09:00", "17:00"]]}})
    assert bad_zone.value.errors[0]["field"] == "timezone"
    with pytest.raises(InvalidInput) as overlap:
        rpc.call("tickets", "put_business_calendar", str(tenant_id),
                 {"timezone": "Europe/Berlin", "weekly_slots": {"0": [["09:00", "12:30"], ["12:00", "18:00"]]}})
    assert overlap.value.errors[0]["field"] == "weekly_slots"
    assert rpc.call("tickets", "get_business_calendar", str(tenant_id))["version"] == 1  # untouched


def test_calendar_holidays_import_and_settings(tickets_service, rpc, tenant_id):
    stored = rpc.call("tickets", "put_business_calendar", str(tenant_id), {
        "timezone": "Europe/Berlin", "weekly_slots": {"0": [["09:00", "12:30"], ["13:30", "18:00"]]},
        "holidays": ["2026-12-25"]})
    assert stored["version"] == 2 and stored["weekly_slots"] == {"0": [["09:00", "12:30"], ["13:30", "18:00"]]}
    ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261231\r\nDTEND;VALUE=DATE:20270102\r\n" \
          "SUMMARY:New Year\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    imported = rpc.call("tickets", "import_holidays_ics", str(tenant_id), ics)
    assert imported["holidays"] == ["2026-12-25", "2026-12-31", "2027-01-01"] and imported["version"] == 3
    with pytest.raises(InvalidInput):
        rpc.call("tickets", "import_holidays_ics", str(tenant_id), "BEGIN:VEVENT\nRRULE:FREQ=YEARLY\n")

    assert rpc.call("tickets", "get_sla_settings", str(tenant_id)) == {
        "pause_statuses": ["waiting_on_customer"], "warning_fraction": 0.8, "escalation": {}, "version": 1}
    changed = rpc.call("tickets", "put_sla_settings", str(tenant_id), {"warning_fraction": 0.5})
    assert (changed["warning_fraction"], changed["version"], changed["recompute"]["reason"]) == (0.5, 2, "settings")
    with pytest.raises(InvalidInput):
        rpc.call("tickets", "put_sla_settings", str(tenant_id), {"pause_statuses": ["lunch"]})
    default = next(p for p in rpc.call("tickets", "list_sla_policies", str(tenant_id))
                   if p["tier"] is None and p["priority"] is None)
    with pytest.raises(Conflict):
        rpc.call("tickets", "delete_sla_policy", str(tenant_id), default["id"])
