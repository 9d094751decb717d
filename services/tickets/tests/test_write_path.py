"""The tickets write path at rate (issue 14): how many statements a command costs, the per-process
cache of a tenant's SLA configuration (never stale after a change, whoever made it), and the
deadline clock waking for a new ticket only when it is due before the clock's next wake-up.

Real PostgreSQL (and RabbitMQ with the real customers service for the RPC paths); "another process"
is a real second Python process writing the rows.
"""
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import eventlet
import pytest
from sqlalchemy import event, select

from custops import config, db
from custops.notified_loop import wake_time
from tickets import sla_clock, sla_store, ticket_store
from tickets.models import ticket_sla_timers

# Statements per command in the steady state (the tenant's configuration cached), BEGIN/COMMIT aside.
# Before issue 14: create 17, a customer message 7, a status change 8, a public reply 21.
CREATE_STATEMENTS = 5  # customer lock, number + copied tier + config fingerprint, ticket + timers, outbox (2)
INBOUND_MESSAGE_STATEMENTS = 7
STATUS_CHANGE_STATEMENTS = 5
# moving a new ticket on and meeting its first response (was 21, then 14 plus a customers `get_member`
# RPC): now one SELECT of the member copy, in the read that loads the ticket, and no RPC; + 2 since the
# stop of the first-response timer is told (ticket.sla_met's outbox row and its NOTIFY, issue 12)
PUBLIC_REPLY_STATEMENTS = 17


@contextmanager
def statements_of_worker(marker: str):
    """The statements of the one green thread (a worker) that ran a statement containing `marker`:
    not those of the deadline clock or other workers running beside it."""
    by_thread: dict = defaultdict(list)

    def record(conn, cursor, statement, parameters, context, executemany):
        by_thread[id(eventlet.getcurrent())].append(statement)

    engine = db.engine_for("tickets")
    event.listen(engine, "before_cursor_execute", record)
    found: list[str] = []
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", record)
    [worker] = [s for s in by_thread.values() if any(marker in x for x in s)]
    found.extend(worker)


@contextmanager
def counted_statements():
    found: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        found.append(statement)

    engine = db.engine_for("tickets")
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _customer(rpc, tenant_id, tier="enterprise") -> str:
    return rpc.call("customers", "create_customer", str(tenant_id), {
        "name": "Acme", "tier": tier, "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]


def _create(rpc, tenant_id, customer_id, **fields) -> dict:
    return rpc.call("tickets", "create_ticket", str(tenant_id),
                    {"customer_id": customer_id, "subject": "Printer on fire", **fields})


def _timers(rpc, tenant_id, ticket_id) -> dict:
    return {t["timer"]: t for t in rpc.call("tickets", "get_ticket_sla", str(tenant_id), ticket_id)["timers"]}


# --- statements per command ---

def test_a_create_a_customer_message_and_a_status_change_cost_a_bounded_number_of_statements(
        tickets_service, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    for _ in range(2):  # the first seeds the starter policies, the second caches them
        _create(rpc, tenant_id, customer_id)

    with statements_of_worker("INSERT INTO tickets") as create:
        ticket = _create(rpc, tenant_id, customer_id, priority="urgent")
    with statements_of_worker("INSERT INTO ticket_messages") as message:
        rpc.call("tickets", "add_message", str(tenant_id), ticket["id"], {"kind": "inbound", "body": "hello?"})
    with statements_of_worker("UPDATE tickets SET status") as status:
        rpc.call("tickets", "change_status", str(tenant_id), ticket["id"], "open")

    assert len(create) <= CREATE_STATEMENTS, create
    assert len(message) <= INBOUND_MESSAGE_STATEMENTS, message
    assert len(status) <= STATUS_CHANGE_STATEMENTS, status
    # and what they wrote is whole: both timers with the enterprise/urgent starter targets
    timers = _timers(rpc, tenant_id, ticket["id"])
    assert {k: t["target_minutes"] for k, t in timers.items()} == {"first_response": 60, "resolution": 240}
    assert all(t["deadline"] and t["warn_at"] and t["policy_id"] for t in timers.values())


def test_a_public_reply_costs_a_bounded_number_of_statements_and_no_rpc(tickets_service, customers_service, rpc,
                                                                         new_tenant):
    tenant = new_tenant()
    tenant_id = uuid.UUID(tenant["tenant_id"])
    customer_id = _customer(rpc, tenant_id)
    for _ in range(2):
        _create(rpc, tenant_id, customer_id)
    warm_up = _create(rpc, tenant_id, customer_id)  # its reply copies the author (asked: no relay runs here)
    rpc.call("tickets", "add_message", str(tenant_id), warm_up["id"],
             {"kind": "reply", "body": "Hello.", "author_member_id": tenant["member_id"]})
    ticket = _create(rpc, tenant_id, customer_id)
    customers_service.stop()  # from here an RPC to the customers service would time out

    with statements_of_worker("INSERT INTO ticket_messages") as reply:
        rpc.call("tickets", "add_message", str(tenant_id), ticket["id"],
                 {"kind": "reply", "body": "On it.", "author_member_id": tenant["member_id"]})

    assert len(reply) <= PUBLIC_REPLY_STATEMENTS, reply
    assert _timers(rpc, tenant_id, ticket["id"])["first_response"]["met_at"] is not None


def test_a_ticket_created_after_a_policy_change_through_the_api_runs_under_the_new_targets(
        tickets_service, rpc, tenant_id):
    customer_id = _customer(rpc, tenant_id)
    for _ in range(2):
        _create(rpc, tenant_id, customer_id)
    rpc.call("tickets", "put_sla_policy", str(tenant_id), {
        "tier": "enterprise", "priority": "normal", "first_response_minutes": 17, "resolution_minutes": 170})

    ticket = _create(rpc, tenant_id, customer_id)

    timers = _timers(rpc, tenant_id, ticket["id"])
    assert {k: t["target_minutes"] for k, t in timers.items()} == {"first_response": 17, "resolution": 170}
    assert {t["policy_version"] for t in timers.values()} == {2}


# --- the configuration cache ---

def _load(tenant_id) -> sla_store.TenantSla:
    with db.transaction(db.engine_for("tickets"), "tickets") as session:
        return sla_store.load_tenant(session, tenant_id)


def _in_another_process(sql: str, **params) -> None:
    """Run `sql` from a separate Python process (as another tickets instance, or an operator, would)."""
    dsn = config.database_url("tickets").replace("postgresql+psycopg://", "postgresql://", 1)
    script = ("import sys, json, psycopg\n"
              "with psycopg.connect(sys.argv[1]) as conn:\n"
              "    conn.execute(sys.argv[2], json.loads(sys.argv[3]))\n")
    import json

    subprocess.run([sys.executable, "-c", script, dsn, sql, json.dumps({k: str(v) for k, v in params.items()})],
                   check=True, timeout=60)


def _default_policy(sla: sla_store.TenantSla):
    return sla.policy_for(None, None).policy


def test_the_cached_configuration_is_checked_with_one_statement(custops_setup):
    tenant_id = uuid.uuid4()
    _load(tenant_id)  # seeds the starter policies
    first = _load(tenant_id)

    with counted_statements() as statements:
        again = _load(tenant_id)

    assert again is first  # the same objects: nothing parsed again
    assert len(statements) == 1, statements


def test_a_change_made_by_another_process_is_seen_by_the_next_load(custops_setup):
    tenant_id = uuid.uuid4()
    _load(tenant_id)
    assert _default_policy(_load(tenant_id)).targets.first_response == 1440

    # a policy edited without a version bump: the cache compares the rows' content, not a version
    _in_another_process("UPDATE sla_policies SET first_response_minutes = 7 "
                        "WHERE tenant_id = %(t)s AND tier IS NULL AND priority IS NULL", t=tenant_id)
    assert _default_policy(_load(tenant_id)).targets.first_response == 7

    _in_another_process("DELETE FROM sla_policies WHERE tenant_id = %(t)s AND tier = 'smb' AND priority = 'low'",
                        t=tenant_id)
    assert ("smb", "low") not in {p.policy.key for p in _load(tenant_id).policies}

    _in_another_process("INSERT INTO sla_settings (tenant_id, pause_statuses, warning_fraction) "
                        "VALUES (%(t)s, ARRAY['pending'], 0.5)", t=tenant_id)
    settings = _load(tenant_id).settings
    assert (settings.warning_fraction, settings.pause_rules.statuses) == (0.5, frozenset({"pending"}))
    _in_another_process("UPDATE sla_settings SET warning_fraction = 0.6 WHERE tenant_id = %(t)s", t=tenant_id)
    assert _load(tenant_id).settings.warning_fraction == 0.6

    # the tenant's timezone moves the default calendar (told by the customers service's events)
    _in_another_process("INSERT INTO directory_tenants (tenant_id, timezone, calendar_version, as_of) "
                        "VALUES (%(t)s, 'Europe/Berlin', 2, now())", t=tenant_id)
    calendar = _load(tenant_id).calendar
    assert (calendar.timezone, calendar.version) == ("Europe/Berlin", 2)

    _in_another_process("INSERT INTO business_calendars (tenant_id, timezone, always_open, version) "
                        "VALUES (%(t)s, 'Asia/Tokyo', true, 3)", t=tenant_id)
    calendar = _load(tenant_id).calendar
    assert (calendar.timezone, calendar.always_open, calendar.version) == ("Asia/Tokyo", True, 3)
    _in_another_process("UPDATE business_calendars SET always_open = false, weekly_slots = '{\"0\": [[\"08:00\", "
                        "\"12:00\"]]}', version = version + 1, updated_at = now() WHERE tenant_id = %(t)s",
                        t=tenant_id)
    calendar = _load(tenant_id).calendar
    assert (calendar.always_open, calendar.version) == (False, 4)


def test_a_change_rolled_back_leaves_the_committed_configuration_in_the_cache(custops_setup):
    tenant_id = uuid.uuid4()
    _load(tenant_id)
    _load(tenant_id)
    engine = db.engine_for("tickets")

    with pytest.raises(RuntimeError):
        with db.transaction(engine, "tickets") as session:
            session.execute(sla_store.sla_policies.update().where(
                sla_store.sla_policies.c.tenant_id == tenant_id, sla_store.sla_policies.c.tier.is_(None),
                sla_store.sla_policies.c.priority.is_(None)).values(first_response_minutes=99))
            assert _default_policy(sla_store.load_tenant(session, tenant_id)).targets.first_response == 99
            raise RuntimeError("the change fails later in its transaction")

    assert _default_policy(_load(tenant_id)).targets.first_response == 1440


# --- the deadline clock's wake-up ---

def test_the_clock_wakes_earlier_only_for_an_earlier_instant():
    utc_now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    later, earlier = utc_now + timedelta(hours=3), utc_now + timedelta(seconds=5)
    now, wake_at = 1000.0, 1030.0  # monotonic seconds: asleep for another 30 s

    assert wake_time(wake_at, [later.isoformat()] * 50, now, utc_now) == wake_at
    assert wake_time(wake_at, [later.isoformat(), earlier.isoformat()], now, utc_now) == now + 5
    # what is due already: at once
    assert wake_time(wake_at, [(utc_now - timedelta(seconds=1)).isoformat()], now, utc_now) == now - 1
    # no instant told (a NOTIFY of a change that knows none): look now
    assert wake_time(wake_at, [later.isoformat(), ""], now, utc_now) == now
    assert wake_time(wake_at, ["2026-12-01T12:00:05"], now, utc_now) == now  # naive: unreadable


def test_new_tickets_due_later_cost_the_clock_no_look_and_an_earlier_instant_wakes_it_then(custops_setup):
    clock = sla_clock.DeadlineClock("tickets")
    looks: list[float] = []
    tick = clock.tick

    def counted_tick():
        looks.append(time.monotonic())
        return tick()

    clock.tick = counted_tick
    thread = eventlet.spawn(clock.run)
    try:
        _wait_for(lambda: len(looks) >= 1)
        eventlet.sleep(0.5)
        settled = len(looks)
        engine, tenant_id = db.engine_for("tickets"), uuid.uuid4()
        created = []
        for _ in range(20):  # each NOTIFYs its first due instant, hours away
            with db.transaction(engine, "tickets") as session:
                created.append(ticket_store.open_ticket(session, tenant_id, {
                    "customer_id": uuid.uuid4(), "customer_tier": "enterprise", "subject": "s",
                    "priority": "urgent", "source": "api"}, datetime.now(timezone.utc)))
        eventlet.sleep(1.0)
        assert len(looks) == settled, "a NOTIFY due later than the clock's next wake-up made it look"
        with db.engine_for("tickets").connect() as conn:
            assert conn.execute(select(ticket_sla_timers.c.warn_at).where(
                ticket_sla_timers.c.ticket_id == created[0]["id"])).scalars().all()  # their timers are there

        told_at = time.monotonic()
        with db.transaction(engine, "tickets") as session:
            sla_store.notify(session, datetime.now(timezone.utc) + timedelta(seconds=1.5))
        _wait_for(lambda: len(looks) > settled)
        assert looks[settled] - told_at >= 1.2  # it slept until then, not looked at once
        assert len(looks) == settled + 1

        with db.transaction(engine, "tickets") as session:
            sla_store.notify(session)  # no instant: look now
        _wait_for(lambda: len(looks) > settled + 1, timeout=1.0)
    finally:
        clock.stop()
        thread.kill()
        clock.close()


def _wait_for(condition, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        eventlet.sleep(0.02)
