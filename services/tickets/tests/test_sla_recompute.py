"""The SLA recompute after a configuration change, as a background job (`tickets.sla_recompute`),
against the real PostgreSQL (and RabbitMQ where the service runs): the job is written with the change
and the change answers before the recompute; progress by batches; a newer change supersedes an older
job (never losing a recompute); a worker killed mid-batch leaves nothing half-done and the job is
finished by another; timers carry the versions they were computed with, and a ticket the job has not
reached says so; a defect fails one job, not the worker; the deadline clock fires what a recompute
made due.
"""
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import select, text

from custops import db, outbox
from custops.errors import InvalidInput
from tickets import directory_events, sla_recompute, sla_store
from tickets.models import sla_recompute_jobs, ticket_sla_timers, tickets
from tickets.service import TicketsService

ALWAYS_OPEN = {"timezone": "UTC", "always_open": True}


def _engine():
    return db.engine_for("tickets")


@pytest.fixture
def drained(custops_setup):
    """No job of an earlier test is active (the direct tests below claim 'the oldest active job')."""
    while True:
        with db.transaction(_engine(), "tickets") as session:
            if sla_recompute.run_batch(session) is None:
                return


_NUMBERS = itertools.count(1)


def _seed(tenant_id, count, customer_id=None, status="open", last=False) -> list[uuid.UUID]:
    """`count` tickets with first-response and resolution timers computed under calendar version 1,
    started an hour ago; their ids in id order (`last`: after any other ticket's)."""
    ids = sorted(uuid.UUID(f"ffffffff-ffff-4fff-bfff-{uuid.uuid4().hex[:12]}") if last else uuid.uuid4()
                 for _ in range(count))
    started = datetime.now(timezone.utc) - timedelta(hours=1)
    with _engine().begin() as conn:
        conn.execute(tickets.insert(), [
            {"id": i, "tenant_id": tenant_id, "number": n, "customer_id": customer_id or uuid.uuid4(),
             "customer_tier": "enterprise", "subject": "s", "priority": "normal", "status": status, "source": "api"}
            for n, i in zip(_NUMBERS, ids)])
        conn.execute(ticket_sla_timers.insert(), [
            {"ticket_id": i, "timer": timer, "tenant_id": tenant_id, "started_at": started, "target_minutes": 1,
             "deadline": started + timedelta(days=30), "policy_version": 1, "calendar_version": 1}
            for i in ids for timer in ("first_response", "resolution")])
    return ids


_CALENDARS = [sla_store.calendar_from_fields("UTC", {}, [], True),
              sla_store.calendar_from_fields("Europe/Berlin", {"0": [["08:00", "18:00"]], "1": [["08:00", "18:00"]]},
                                             [], False)]


def _change_calendar(tenant_id, which: int = 0) -> dict:
    """What `put_business_calendar` does: the new calendar and its job, in one transaction."""
    with db.transaction(_engine(), "tickets") as session:
        sla_store.lock_calendar(session, tenant_id)
        assert sla_store.save_calendar(session, tenant_id, _CALENDARS[which], datetime.now(timezone.utc))
        return sla_recompute.enqueue(session, tenant_id, "calendar")


def _batch(limit=2) -> dict | None:
    with db.transaction(_engine(), "tickets") as session:
        return sla_recompute.run_batch(session, limit)


def _job(job_id) -> dict:
    with db.transaction(_engine(), "tickets") as session:
        return sla_recompute.get(session, session.execute(select(sla_recompute_jobs.c.tenant_id).where(
            sla_recompute_jobs.c.id == uuid.UUID(job_id))).scalar(), uuid.UUID(job_id))


def _versions(ids) -> dict:
    """ticket id -> the calendar versions of its timers."""
    with _engine().connect() as conn:
        rows = conn.execute(select(ticket_sla_timers.c.ticket_id, ticket_sla_timers.c.calendar_version)
                            .where(ticket_sla_timers.c.ticket_id.in_(ids))).all()
    found: dict = {}
    for ticket_id, version in rows:
        found.setdefault(ticket_id, set()).add(version)
    return found


def _pending(tenant_id, ticket_id) -> dict | None:
    with db.transaction(_engine(), "tickets") as session:
        ticket = session.execute(select(tickets).where(tickets.c.id == ticket_id)).mappings().one()
        return sla_recompute.pending_for(session, dict(ticket))


# --- the job, its batches and its progress (the domain layer, no worker running) --------------------

def test_the_job_is_written_with_the_change_and_targets_its_versions(drained):
    tenant = uuid.uuid4()
    _seed(tenant, 1)
    with pytest.raises(RuntimeError):
        with db.transaction(_engine(), "tickets") as session:
            sla_store.lock_calendar(session, tenant)
            sla_store.save_calendar(session, tenant, _CALENDARS[0], datetime.now(timezone.utc))
            sla_recompute.enqueue(session, tenant, "calendar")
            raise RuntimeError("the change fails after its job was written")
    with _engine().connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sla_recompute_jobs WHERE tenant_id = :t"),
                            {"t": tenant}).scalar() == 0  # rolled back together

    job = _change_calendar(tenant)
    with db.transaction(_engine(), "tickets") as session:
        assert job["calendar_version"] == sla_store.load_calendar(session, tenant).version == 2
        policies = {str(p.id): p.policy.version for p in sla_store.load_policies(session, tenant)}
    assert (job["status"], job["reason"], job["done"], job["total"], job["settings_version"]) == \
        ("queued", "calendar", 0, None, 1)
    assert job["policy_versions"] == policies and policies


def test_batches_advance_the_cursor_and_the_progress_each_committing_its_timers(drained):
    tenant = uuid.uuid4()
    ids = _seed(tenant, 5)
    closed = _seed(tenant, 1, status="closed", last=True)  # a done ticket's timers are not recomputed
    job = _change_calendar(tenant)
    assert all(_pending(tenant, i)["id"] == job["id"] for i in ids)

    first = _batch()
    assert (first["id"], first["status"], first["done"], first["total"]) == (job["id"], "running", 2, 6)
    assert first["started_at"] is not None and first["finished_at"] is None
    versions = _versions(ids)
    assert [versions[i] for i in ids] == [{2}, {2}, {1}, {1}, {1}]  # the first two (id order) only
    assert _pending(tenant, ids[1]) is None and _pending(tenant, ids[2])["id"] == job["id"]

    assert _batch()["done"] == 4
    last = _batch()
    assert (last["status"], last["done"], last["total"]) == ("done", 6, 6) and last["finished_at"]
    assert {v for i in ids for v in _versions(ids)[i]} == {2}
    assert _versions(closed)[closed[0]] == {1}  # closed: left as it ran
    assert _batch() is None  # nothing left
    assert _pending(tenant, ids[-1]) is None


def test_a_recompute_writes_what_the_configuration_says_and_notifies_the_clock_once_per_batch(drained):
    tenant = uuid.uuid4()
    [ticket] = _seed(tenant, 1)
    _change_calendar(tenant)  # 24/7, with the starter policies
    dsn = _engine().url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {sla_store.NOTIFY_CHANNEL}")
        _batch(limit=10)
        notices = list(listener.notifies(timeout=1, stop_after=10))
    assert len(notices) == 1
    with _engine().connect() as conn:
        rows = {r["timer"]: r for r in conn.execute(select(ticket_sla_timers).where(
            ticket_sla_timers.c.ticket_id == ticket)).mappings()}
    first, resolution = rows["first_response"], rows["resolution"]
    # the enterprise/normal starter policy: 60 min first response, 1,440 min resolution
    assert (first["target_minutes"], resolution["target_minutes"]) == (60, 1440)
    assert first["deadline"] == first["started_at"] + timedelta(minutes=60)
    assert (first["calendar_version"], first["policy_version"]) == (2, 1) and first["policy_id"] is not None


def test_a_ticket_opened_under_the_old_configuration_that_commits_after_the_scan_is_recomputed(drained):
    tenant = uuid.uuid4()
    ids = _seed(tenant, 3)
    opening = _engine().connect()  # a ticket being opened: it read the configuration before the change
    try:
        raced = uuid.uuid4()
        opening.execute(tickets.insert().values(
            id=raced, tenant_id=tenant, number=next(_NUMBERS), customer_id=uuid.uuid4(), customer_tier="enterprise",
            subject="s", priority="normal", status="new", source="api"))
        opening.execute(ticket_sla_timers.insert().values(
            ticket_id=raced, timer="first_response", tenant_id=tenant, started_at=datetime.now(timezone.utc),
            target_minutes=60, policy_version=1, calendar_version=1))
        job = _change_calendar(tenant)
        scanned = _batch(limit=10)
        assert (scanned["status"], scanned["done"]) == ("running", 3)  # through, waiting for the opening
        assert _batch(limit=10)["status"] == "running"
        opening.commit()  # after the scan: the job never saw it
    finally:
        opening.close()
    done = _batch(limit=10)
    assert (done["id"], done["status"]) == (job["id"], "done")
    assert {v for i in ids + [raced] for v in _versions(ids + [raced])[i]} == {2}


def test_a_newer_change_supersedes_the_older_job_and_recomputes_everything(drained):
    tenant = uuid.uuid4()
    ids = _seed(tenant, 5)
    old = _change_calendar(tenant, 0)
    assert _batch()["done"] == 2  # the old job is halfway

    newer = _change_calendar(tenant, 1)  # not mid-batch: superseded by the change's own transaction
    assert (_job(old["id"])["status"], _job(old["id"])["superseded_by"]) == ("superseded", newer["id"])
    while (job := _batch(limit=10)) is not None and job["id"] == newer["id"] and job["status"] != "done":
        pass
    assert (_job(newer["id"])["status"], _job(newer["id"])["done"]) == ("done", 5)  # all of them, once
    assert {v for i in ids for v in _versions(ids)[i]} == {3}

    # a job in the middle of a batch is not waited for: the worker supersedes it at its next claim
    running = _change_calendar(tenant, 0)
    with db.transaction(_engine(), "tickets") as busy:
        claimed = sla_recompute.claim(busy)
        assert str(claimed["id"]) == running["id"]
        began = time.monotonic()
        newest = _change_calendar(tenant, 1)  # another connection, while `running` is locked
        assert time.monotonic() - began < 2
        assert sla_recompute.advance(busy, claimed)["status"] == "superseded"
    assert _job(running["id"])["superseded_by"] == newest["id"]
    while _batch(limit=10) is not None:
        pass
    assert _job(newest["id"])["status"] == "done"
    assert {v for i in ids for v in _versions(ids)[i]} == {5}


def test_a_tenant_job_supersedes_a_tier_job_but_not_the_other_way(drained):
    tenant, customer = uuid.uuid4(), uuid.uuid4()
    mine = _seed(tenant, 2, customer_id=customer)
    others = _seed(tenant, 2)
    tenant_wide = _change_calendar(tenant)
    with db.transaction(_engine(), "tickets") as session:  # the consumer of customer.updated
        assert directory_events.apply_customer_tier(session, tenant, customer, "smb", datetime.now(timezone.utc)) == 2
    with db.transaction(_engine(), "tickets") as session:
        [tier_job] = [j for j in sla_recompute.list_page(session, tenant, 10, None)["items"] if j["reason"] == "tier"]
    assert (tier_job["customer_id"], tier_job["status"]) == (str(customer), "queued")
    assert _job(tenant_wide["id"])["status"] == "queued"  # a tier job covers one customer only
    while _batch(limit=10) is not None:
        pass
    assert _job(tier_job["id"])["done"] == 2 and _job(tenant_wide["id"])["done"] == 4
    with _engine().connect() as conn:
        targets = dict(conn.execute(select(ticket_sla_timers.c.ticket_id, ticket_sla_timers.c.target_minutes).where(
            ticket_sla_timers.c.ticket_id.in_(mine + others), ticket_sla_timers.c.timer == "first_response")).all())
    assert {targets[i] for i in mine} == {1440} and {targets[i] for i in others} == {60}  # smb/normal vs enterprise

    with db.transaction(_engine(), "tickets") as session:
        directory_events.apply_customer_tier(session, tenant, customer, "enterprise", datetime.now(timezone.utc))
    newer = _change_calendar(tenant, 1)
    with db.transaction(_engine(), "tickets") as session:
        jobs = sla_recompute.list_page(session, tenant, 10, None)["items"]
    assert [(j["reason"], j["status"]) for j in jobs[:2]] == [("calendar", "queued"), ("tier", "superseded")]
    assert jobs[1]["superseded_by"] == newer["id"]


CRASHING_WORKER = """
import os, sys, time
from custops import db
from tickets import sla_recompute
real, batches = sla_recompute.recompute_tickets, []
def mid_batch_then_hang(session, *args, **kwargs):
    written = real(session, *args, **kwargs)
    batches.append(written)
    if len(batches) == 2:  # the second batch's timers are written, not committed
        print("mid-batch", flush=True)
        time.sleep(600)
    return written
sla_recompute.recompute_tickets = mid_batch_then_hang
engine = db.engine_for("tickets")
while True:
    with db.transaction(engine, "tickets") as session:
        if sla_recompute.run_batch(session, 2) is None:
            break
"""


def test_a_worker_killed_mid_batch_leaves_no_half_batch_and_another_finishes_the_job(drained):
    tenant = uuid.uuid4()
    ids = _seed(tenant, 5)
    job = _change_calendar(tenant)
    worker = subprocess.Popen([sys.executable, "-c", CRASHING_WORKER], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PSYCOPG_WAIT_FUNC": "wait_select"})
    try:
        assert worker.stdout.readline().strip() == "mid-batch"
        with _engine().connect() as conn:  # its uncommitted batch is invisible; the first one is there
            assert conn.execute(text("SELECT done FROM sla_recompute_jobs WHERE id = :j"),
                                {"j": uuid.UUID(job["id"])}).scalar() == 2
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert [_versions(ids)[i] for i in ids] == [{2}, {2}, {1}, {1}, {1}]  # the killed batch rolled back

    began = time.monotonic()
    while (state := _job(job["id"]))["status"] != "done":  # the dead session's locks go with it
        assert time.monotonic() - began < 15, state
        sla_recompute.RecomputeWorker("tickets", batch=2).work()
        time.sleep(0.1)
    assert (state["done"], state["total"]) == (5, 5)
    assert {v for i in ids for v in _versions(ids)[i]} == {2}  # no timer left stale


def test_a_defect_fails_its_job_with_the_error_and_the_worker_goes_on(drained, monkeypatch):
    broken, fine = uuid.uuid4(), uuid.uuid4()
    broken_ids = _seed(broken, 2)
    fine_ids = _seed(fine, 2)
    failing = _change_calendar(broken)
    working = _change_calendar(fine)
    real = sla_recompute.recompute_tickets

    def defect(session, tenant_id, *args, **kwargs):
        written = real(session, tenant_id, *args, **kwargs)  # writes, then fails: rolled back
        if tenant_id == broken:
            raise ZeroDivisionError("a bug")
        return written

    monkeypatch.setattr(sla_recompute, "recompute_tickets", defect)
    assert sla_recompute.RecomputeWorker("tickets", batch=10).work() == 2
    assert (_job(failing["id"])["status"], _job(failing["id"])["error"]) == ("failed", "ZeroDivisionError: a bug")
    assert _job(working["id"])["status"] == "done"
    assert {v for i in fine_ids for v in _versions(fine_ids)[i]} == {2}
    assert {v for i in broken_ids for v in _versions(broken_ids)[i]} == {1}  # the failed batch left nothing


# --- through the running service ------------------------------------------------------------------

@pytest.fixture
def tickets_service(container_factory, nameko_config, drained):
    container = container_factory(TicketsService, nameko_config)
    container.start()
    return container


def _customer(rpc, tenant_id, tier="enterprise") -> str:
    return rpc.call("customers", "create_customer", str(tenant_id), {
        "name": "Acme", "tier": tier, "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]


def _wait_done(rpc, tenant_id, job_id, timeout=15.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := rpc.call("tickets", "get_sla_recompute_job", str(tenant_id), job_id))["status"] != "done":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def test_the_change_answers_with_its_job_before_the_recompute_and_tickets_say_what_they_ran_under(
        tickets_service, rpc, tenant_id):
    customer = _customer(rpc, tenant_id)
    created = [rpc.call("tickets", "create_ticket", str(tenant_id), {"customer_id": customer, "subject": "Down"})
               for _ in range(3)]
    ids = sorted(uuid.UUID(t["id"]) for t in created)
    blocker = _engine().connect()  # holds a ticket the job's first batch needs: the job cannot finish
    try:
        blocker.execute(select(tickets.c.id).where(tickets.c.id == ids[0]).with_for_update())
        began = time.monotonic()
        answer = rpc.call("tickets", "put_business_calendar", str(tenant_id), ALWAYS_OPEN)
        assert time.monotonic() - began < 2  # not waiting for the recompute
        job = answer["recompute"]
        assert (answer["version"], answer["always_open"]) == (2, True)
        assert (job["status"], job["reason"], job["calendar_version"]) == ("queued", "calendar", 2)
        time.sleep(0.3)  # the worker is at it, blocked
        assert rpc.call("tickets", "get_sla_recompute_job", str(tenant_id), job["id"])["status"] == "queued"
        for ticket_id in ids:
            sla = rpc.call("tickets", "get_ticket_sla", str(tenant_id), str(ticket_id))
            assert (sla["recompute_pending"], sla["recompute_job_id"]) == (True, job["id"])
            assert {t["calendar_version"] for t in sla["timers"]} == {1}  # still the default calendar's
        listed = rpc.call("tickets", "list_sla_recompute_jobs", str(tenant_id))
        assert [j["id"] for j in listed["items"]] == [job["id"]]
    finally:
        blocker.rollback()
        blocker.close()

    done = _wait_done(rpc, tenant_id, job["id"])
    assert (done["done"], done["total"]) == (3, 3)
    for ticket_id in ids:
        sla = rpc.call("tickets", "get_ticket_sla", str(tenant_id), str(ticket_id))
        assert (sla["recompute_pending"], sla["recompute_job_id"]) == (False, None)
        assert {(t["calendar_version"], t["policy_version"]) for t in sla["timers"]} == {(2, 1)}
    assert rpc.call("tickets", "list_sla_recompute_jobs", str(tenant_id), "queued")["items"] == []


def test_policy_and_settings_changes_queue_jobs_and_bad_input_queues_none(tickets_service, rpc, tenant_id):
    ticket = rpc.call("tickets", "create_ticket", str(tenant_id), {"customer_id": _customer(rpc, tenant_id),
                                                                    "subject": "Down", "priority": "normal"})
    with pytest.raises(InvalidInput):
        rpc.call("tickets", "put_business_calendar", str(tenant_id), {"timezone": "Mars/Olympus"})
    with pytest.raises(InvalidInput):
        rpc.call("tickets", "list_sla_recompute_jobs", str(tenant_id), "paused")
    assert rpc.call("tickets", "list_sla_recompute_jobs", str(tenant_id))["items"] == []

    policy = rpc.call("tickets", "put_sla_policy", str(tenant_id), {
        "tier": "enterprise", "priority": "normal", "first_response_minutes": 15, "resolution_minutes": 600})
    assert policy["recompute"]["policy_versions"][policy["id"]] == policy["version"] == 2
    _wait_done(rpc, tenant_id, policy["recompute"]["id"])
    timers = {t["timer"]: t for t in rpc.call("tickets", "get_ticket_sla", str(tenant_id), ticket["id"])["timers"]}
    assert (timers["first_response"]["target_minutes"], timers["first_response"]["policy_version"]) == (15, 2)

    settings = rpc.call("tickets", "put_sla_settings", str(tenant_id), {"warning_fraction": 0.5})
    assert (settings["version"], settings["recompute"]["settings_version"]) == (2, 2)
    _wait_done(rpc, tenant_id, settings["recompute"]["id"])
    deleted = rpc.call("tickets", "delete_sla_policy", str(tenant_id), policy["id"])
    assert deleted["recompute"]["reason"] == "policy"
    _wait_done(rpc, tenant_id, deleted["recompute"]["id"])
    timers = {t["timer"]: t for t in rpc.call("tickets", "get_ticket_sla", str(tenant_id), ticket["id"])["timers"]}
    assert timers["first_response"]["target_minutes"] == 1440  # the tenant default's


def test_a_recompute_that_makes_a_deadline_past_is_breached_by_the_clock_once(tickets_service, rpc, tenant_id):
    answer = rpc.call("tickets", "put_business_calendar", str(tenant_id), ALWAYS_OPEN)
    _wait_done(rpc, tenant_id, answer["recompute"]["id"])
    ticket = rpc.call("tickets", "create_ticket", str(tenant_id), {"customer_id": _customer(rpc, tenant_id),
                                                                    "subject": "Down", "priority": "normal"})
    with _engine().begin() as conn:  # opened two hours ago (an hour more than its first response allows)
        conn.execute(text("UPDATE ticket_sla_timers SET started_at = started_at - interval '2 hours', "
                          "deadline = deadline + interval '10 days', warn_at = NULL WHERE ticket_id = :t"),
                     {"t": uuid.UUID(ticket["id"])})
    job = rpc.call("tickets", "put_sla_settings", str(tenant_id), {"warning_fraction": 0.9})["recompute"]
    _wait_done(rpc, tenant_id, job["id"])
    table = outbox._TABLE
    deadline = time.monotonic() + 10
    while True:
        with _engine().connect() as conn:
            breaches = conn.execute(select(table.c.envelope).where(
                table.c.tenant_id == tenant_id, table.c.type == "ticket.sla_breached")).scalars().all()
        if breaches or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [b["data"]["timer"] for b in breaches] == ["first_response"]
    assert breaches[0]["data"]["calendar_version"] == 2
