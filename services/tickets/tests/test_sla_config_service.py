"""SLA configuration against the real RabbitMQ and PostgreSQL: input bounds refused with field
errors and nothing changed, writes that change nothing are no-ops (no version bump, no recompute),
iCalendar imports and public holidays by region, and the directory events the tickets service
consumes (a customer's tier, a tenant's timezone)."""
import contextlib
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import select, text

from custops import db, outbox
from custops.contracts.customers import CustomerUpdated, TenantCreated, TenantUpdated
from custops.entrypoints import handled_events
from custops.errors import InvalidInput
from custops.events import envelope_for
from tickets.business_hours import Calendar, add_business_minutes
from tickets.models import directory_customers, ticket_sla_timers, tickets

THIS_YEAR = datetime.now(timezone.utc).year
BERLIN_CALENDAR = {"timezone": "Europe/Berlin", "weekly_slots": {"0": [["09:00", "12:30"], ["13:30", "18:00"]],
                                                                 "2": [["09:00", "17:00"]]},
                   "holidays": [f"{THIS_YEAR}-12-25"]}
CHRISTMAS = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:xmas\r\nDTSTART;VALUE=DATE:{THIS_YEAR}1224\r\n"
             f"DTEND;VALUE=DATE:{THIS_YEAR}1227\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def _customer(rpc, tenant_id, tier="enterprise") -> str:
    return rpc.call("customers", "create_customer", str(tenant_id), {
        "name": "Acme", "tier": tier, "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]


def _ticket(rpc, tenant_id, customer_id, **fields) -> dict:
    return rpc.call("tickets", "create_ticket", str(tenant_id),
                    {"customer_id": customer_id, "subject": "Down", **fields})


def _timer_rows(ticket_id) -> dict:
    with db.engine_for("tickets").connect() as conn:
        return {r["timer"]: dict(r) for r in conn.execute(select(ticket_sla_timers).where(
            ticket_sla_timers.c.ticket_id == uuid.UUID(ticket_id))).mappings()}


def _calendar(rpc, tenant_id) -> dict:
    return rpc.call("tickets", "get_business_calendar", str(tenant_id))


def _stored(calendar: dict) -> dict:
    """A calendar answer without the recompute job a change queued (what GET answers)."""
    return {k: v for k, v in calendar.items() if k != "recompute"}


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


def _refused(call, *args) -> dict:
    """The single field error of an InvalidInput."""
    with pytest.raises(InvalidInput) as refused:
        call(*args)
    [error] = refused.value.errors
    return error


# --- bounds -------------------------------------------------------------------------------------------

def test_calendars_out_of_bounds_are_refused_naming_the_field_and_change_nothing(tickets_service, rpc, tenant_id):
    put = lambda calendar: rpc.call("tickets", "put_business_calendar", str(tenant_id), calendar)  # noqa: E731
    before = _stored(put(BERLIN_CALENDAR))
    one_minute = {"timezone": "UTC", "weekly_slots": {"0": [["09:00", "09:01"]]}}
    assert _refused(put, one_minute)["field"] == "weekly_slots"
    crowded = {"weekly_slots": {"0": [[f"{h:02d}:00", f"{h:02d}:30"] for h in range(13)]}}
    assert _refused(put, crowded)["field"] == "weekly_slots"
    far = {**BERLIN_CALENDAR, "holidays": [f"{THIS_YEAR + 11}-01-01"]}
    assert "must lie within" in _refused(put, far)["message"]
    assert _refused(put, {**BERLIN_CALENDAR, "holidays": ["2026-01-01"] * 2001})["field"] == "holidays"
    assert _calendar(rpc, tenant_id) == before

    with pytest.raises(InvalidInput):
        rpc.call("tickets", "put_sla_policy", str(tenant_id), {"first_response_minutes": 525_601})


def test_an_ics_event_spanning_too_many_days_or_a_daily_rule_is_refused(tickets_service, rpc, tenant_id):
    before = _stored(rpc.call("tickets", "put_business_calendar", str(tenant_id), BERLIN_CALENDAR))
    shutdown = CHRISTMAS.replace(f"DTEND;VALUE=DATE:{THIS_YEAR}1227", f"DTEND;VALUE=DATE:{THIS_YEAR + 1}0301")
    assert "at most 31" in _refused(rpc.call, "tickets", "import_holidays_ics", str(tenant_id), shutdown)["message"]
    daily = CHRISTMAS.replace("SUMMARY:Christmas", "RRULE:FREQ=DAILY")
    assert _refused(rpc.call, "tickets", "import_holidays_ics", str(tenant_id), daily)["field"] == "ics"
    assert _calendar(rpc, tenant_id) == before


# --- iCalendar and public holidays ------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "hello: this is no calendar\r\n",
    "Subject: holidays\n\nsee attached",
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",       # no event
    "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nEND:VEVENT\r\n",  # no VCALENDAR
])
def test_a_garbage_calendar_body_is_refused_and_changes_nothing(tickets_service, rpc, tenant_id, body):
    before = _stored(rpc.call("tickets", "put_business_calendar", str(tenant_id), BERLIN_CALENDAR))
    error = _refused(rpc.call, "tickets", "import_holidays_ics", str(tenant_id), body)
    assert error["field"] == "ics"
    assert _calendar(rpc, tenant_id) == before


def test_reimporting_the_same_holidays_bumps_nothing_and_recomputes_nothing(tickets_service, rpc, tenant_id):
    rpc.call("tickets", "put_business_calendar", str(tenant_id), BERLIN_CALENDAR)
    first = rpc.call("tickets", "import_holidays_ics", str(tenant_id), CHRISTMAS)
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id))
    _recomputed(rpc, tenant_id)
    timers = _timer_rows(ticket["id"])

    again = rpc.call("tickets", "import_holidays_ics", str(tenant_id), CHRISTMAS)
    assert again["recompute"] is None and first["recompute"]["reason"] == "holidays"

    assert (again["version"], again["holidays"]) == (first["version"], first["holidays"])
    assert _timer_rows(ticket["id"]) == timers  # not recomputed (updated_at unchanged)
    assert (first["imported"], first["added"], again["added"]) == (3, 2, 0)  # the 25th was there already


def test_yearly_rules_are_imported_for_this_year_and_the_next_five(tickets_service, rpc, tenant_id):
    rpc.call("tickets", "put_business_calendar", str(tenant_id), BERLIN_CALENDAR)
    yearly = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:may\r\nDTSTART;VALUE=DATE:20200501\r\nRRULE:FREQ=YEARLY\r\n"
              "SUMMARY:Labour Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    imported = rpc.call("tickets", "import_holidays_ics", str(tenant_id), yearly)
    assert [d for d in imported["holidays"] if d.endswith("-05-01")] == [
        f"{year}-05-01" for year in range(THIS_YEAR, THIS_YEAR + 6)]


def test_public_holidays_by_region_code_are_merged_once(tickets_service, rpc, tenant_id):
    before = rpc.call("tickets", "put_business_calendar", str(tenant_id), BERLIN_CALENDAR)
    loaded = rpc.call("tickets", "load_public_holidays", str(tenant_id), {"region": "DE-BY", "years": [THIS_YEAR]})
    assert loaded["region"] == "DE-BY" and f"{THIS_YEAR}-01-06" in loaded["holidays"]  # Epiphany, Bavaria
    assert loaded["version"] == before["version"] + 1
    assert {"date": f"{THIS_YEAR}-12-25", "name": "Christmas Day"} in loaded["public_holidays"]
    assert loaded["added"] == len(loaded["public_holidays"]) - 1  # the 25th was there already

    again = rpc.call("tickets", "load_public_holidays", str(tenant_id), {"region": "de-by", "years": [THIS_YEAR]})
    assert (again["added"], again["version"]) == (0, loaded["version"])

    load = lambda body: rpc.call("tickets", "load_public_holidays", str(tenant_id), body)  # noqa: E731
    assert _refused(load, {"region": "XX", "years": [THIS_YEAR]})["field"] == "region"
    assert _refused(load, {"region": "DE-ZZ", "years": [THIS_YEAR]})["field"] == "region"
    assert _refused(load, {"region": "FR", "years": [THIS_YEAR + 50]})["field"] == "years"
    assert _calendar(rpc, tenant_id)["version"] == loaded["version"]


# --- writes that change nothing ---------------------------------------------------------------------

def test_identical_calendar_policy_and_settings_writes_are_no_ops(tickets_service, rpc, tenant_id):
    stored = rpc.call("tickets", "put_business_calendar", str(tenant_id), BERLIN_CALENDAR)
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id), priority="normal")
    policy = {"tier": "enterprise", "priority": "normal", "first_response_minutes": 30, "resolution_minutes": 600}
    changed = rpc.call("tickets", "put_sla_policy", str(tenant_id), policy)
    settings = rpc.call("tickets", "put_sla_settings", str(tenant_id), {"warning_fraction": 0.5})
    jobs = _recomputed(rpc, tenant_id)
    timers = _timer_rows(ticket["id"])

    # the same answers, with no recompute job queued
    assert rpc.call("tickets", "put_business_calendar", str(tenant_id), BERLIN_CALENDAR) == \
        {**stored, "recompute": None}
    assert rpc.call("tickets", "put_sla_policy", str(tenant_id), policy) == {**changed, "recompute": None}
    assert rpc.call("tickets", "put_sla_settings", str(tenant_id), {"warning_fraction": 0.5}) == \
        {**settings, "recompute": None}
    assert rpc.call("tickets", "put_sla_settings", str(tenant_id), {}) == {**settings, "recompute": None}
    assert _recomputed(rpc, tenant_id) == jobs
    assert _timer_rows(ticket["id"]) == timers  # nothing was recomputed

    # a real change still is one
    assert rpc.call("tickets", "put_sla_policy", str(tenant_id), {**policy, "resolution_minutes": 601})["version"] \
        == changed["version"] + 1


# --- directory events -------------------------------------------------------------------------------

def publish(*envelopes):
    publisher = outbox.Publisher()
    try:
        assert publisher.publish_batch([e.model_dump(mode="json") for e in envelopes]) == set()
    finally:
        publisher.close()


@contextlib.contextmanager
def handled(container, method, *envelopes, timeout=15):
    """Waits until `method` has handled each of `envelopes` (other events in the queue don't count)."""
    wanted, outcomes = {str(e.id) for e in envelopes}, {}

    def callback(worker_ctx, result, exc_info):
        # an event worker handles a batch of messages (issue 14): each message's own outcome
        for event_id, failure in handled_events(worker_ctx):
            if event_id in wanted:
                outcomes[event_id] = failure
        return set(outcomes) == wanted

    with entrypoint_waiter(container, method, callback=callback, timeout=timeout):
        yield
    assert list(outcomes.values()) == [None] * len(wanted), f"{method} failed: {outcomes}"


def test_a_tier_change_moves_the_customers_open_tickets_to_the_new_tiers_policy(tickets_service, rpc, tenant_id):
    customer = _customer(rpc, tenant_id, "enterprise")
    open_ticket = _ticket(rpc, tenant_id, customer, priority="urgent")
    done = _ticket(rpc, tenant_id, customer, priority="urgent")
    rpc.call("tickets", "change_status", str(tenant_id), done["id"], "resolved")
    before = _timer_rows(open_ticket["id"])
    assert (before["first_response"]["target_minutes"], before["resolution"]["target_minutes"]) == (60, 240)
    done_timers = _timer_rows(done["id"])

    changed = envelope_for(CustomerUpdated(customer_id=uuid.UUID(customer), changes={"tier": "smb"}), tenant_id)
    with handled(tickets_service, "on_customer_updated", changed):
        publish(changed)

    [job] = _recomputed(rpc, tenant_id)
    assert (job["reason"], job["customer_id"], job["status"], job["done"]) == ("tier", customer, "done", 1)
    after = _timer_rows(open_ticket["id"])
    assert (after["first_response"]["target_minutes"], after["resolution"]["target_minutes"]) == (1440, 240)
    assert after["first_response"]["policy_id"] != before["first_response"]["policy_id"]  # smb/urgent
    assert after["first_response"]["deadline"] > before["first_response"]["deadline"]
    with db.engine_for("tickets").connect() as conn:
        tiers = dict(conn.execute(select(tickets.c.id, tickets.c.customer_tier).where(
            tickets.c.customer_id == uuid.UUID(customer))).all())
    assert set(tiers.values()) == {"smb"}
    assert _timer_rows(done["id"]) == done_timers  # met timers keep the policy they ran under

    # the same event again, and an older change arriving late, change nothing
    late = envelope_for(CustomerUpdated(customer_id=uuid.UUID(customer), changes={"tier": "mid_market"}),
                        tenant_id, occurred_at=changed.occurred_at - timedelta(minutes=1))
    unrelated = envelope_for(CustomerUpdated(customer_id=uuid.UUID(customer), changes={"name": "Acme 2"}),
                             tenant_id)
    with handled(tickets_service, "on_customer_updated", changed, late, unrelated):
        publish(changed, late, unrelated)
    assert _recomputed(rpc, tenant_id) == [job]  # no new job
    assert _timer_rows(open_ticket["id"]) == after


def test_a_ticket_opened_while_the_tier_changes_takes_the_new_tier(tickets_service, rpc, tenant_id):
    # the consumer told "smb" a moment ago; the customers service still answered "enterprise" to the
    # ticket's creation (it asked before the change committed there)
    customer = _customer(rpc, tenant_id, "enterprise")
    with db.engine_for("tickets").begin() as conn:
        conn.execute(directory_customers.insert().values(tenant_id=tenant_id, customer_id=uuid.UUID(customer),
                                                         tier="smb", as_of=datetime.now(timezone.utc)))
    ticket = _ticket(rpc, tenant_id, customer, priority="urgent")
    assert _timer_rows(ticket["id"])["first_response"]["target_minutes"] == 1440
    with db.engine_for("tickets").connect() as conn:
        assert conn.execute(select(tickets.c.customer_tier).where(
            tickets.c.id == uuid.UUID(ticket["id"]))).scalar() == "smb"


def test_the_default_calendar_follows_the_tenants_timezone(tickets_service, rpc, tenant_id):
    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id))
    assert (_calendar(rpc, tenant_id)["timezone"], _calendar(rpc, tenant_id)["version"]) == ("UTC", 1)
    before = _timer_rows(ticket["id"])["resolution"]

    created = envelope_for(TenantCreated(tenant_id=tenant_id, name="T", timezone="UTC"), tenant_id,
                           occurred_at=datetime.now(timezone.utc) - timedelta(hours=1))
    moved = envelope_for(TenantUpdated(tenant_id=tenant_id, name="T", timezone="Europe/Berlin",
                                       changes={"timezone": "Europe/Berlin"}), tenant_id)
    with handled(tickets_service, "on_tenant_created", created), handled(tickets_service, "on_tenant_updated", moved):
        publish(created, moved)

    assert [j["reason"] for j in _recomputed(rpc, tenant_id)] == ["timezone"]
    calendar = _calendar(rpc, tenant_id)
    assert (calendar["timezone"], calendar["version"], calendar["weekly_slots"]["0"]) == \
        ("Europe/Berlin", 2, [["09:00", "17:00"]])
    after = _timer_rows(ticket["id"])["resolution"]
    assert (before["calendar_version"], after["calendar_version"]) == (1, 2)
    for timer, zone in ((before, "UTC"), (after, "Europe/Berlin")):
        assert timer["deadline"] == add_business_minutes(
            Calendar.workweek(zone, ["09:00-17:00"]), timer["started_at"], timer["target_minutes"])

    # a calendar the tenant stores names its own zone (or takes the tenant's); the tenant's later moves
    # leave it alone
    stored = _stored(rpc.call("tickets", "put_business_calendar", str(tenant_id),
                              {"weekly_slots": {"0": [["08:00", "16:00"]]}}))
    assert (stored["timezone"], stored["version"]) == ("Europe/Berlin", 3)
    later = envelope_for(TenantUpdated(tenant_id=tenant_id, name="T", timezone="America/New_York",
                                       changes={"timezone": "America/New_York"}), tenant_id)
    with handled(tickets_service, "on_tenant_updated", later):
        publish(later)
    assert _calendar(rpc, tenant_id) == stored


def test_a_directory_event_with_an_unknown_zone_or_tier_is_dead_lettered_not_applied(tickets_service, tenant_id):
    bad_zone = envelope_for(TenantUpdated(tenant_id=tenant_id, name="T", timezone="Mars/Olympus"), tenant_id)
    bad_tier = envelope_for(CustomerUpdated(customer_id=uuid.uuid4(), changes={"tier": "platinum"}), tenant_id)
    with pytest.raises(AssertionError, match="PoisonMessage"):
        with handled(tickets_service, "on_tenant_updated", bad_zone):
            publish(bad_zone)
    with pytest.raises(AssertionError, match="PoisonMessage"):
        with handled(tickets_service, "on_customer_updated", bad_tier):
            publish(bad_tier)
    with db.engine_for("tickets").connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM directory_tenants WHERE tenant_id = :t"),
                            {"t": tenant_id}).scalar() == 0


def test_a_warning_lead_of_almost_nothing_is_refused(tickets_service, rpc, tenant_id):
    for fraction in (5e-324, 1e-9, 0.009):
        assert _refused(rpc.call, "tickets", "put_sla_settings", str(tenant_id),
                        {"warning_fraction": fraction})["field"] == "warning_fraction"


def test_the_clock_claims_no_warning_without_a_deadline_and_keeps_running(tickets_service, rpc, tenant_id):
    from tickets import sla_clock

    ticket = _ticket(rpc, tenant_id, _customer(rpc, tenant_id))
    with db.engine_for("tickets").begin() as conn:  # what a tiny lead on a paused timer stored before
        conn.execute(text("UPDATE ticket_sla_timers SET warn_at = now() - interval '1 minute', deadline = NULL "
                          "WHERE ticket_id = :t"), {"t": uuid.UUID(ticket["id"])})
        conn.execute(text("NOTIFY custops_sla"))
    with db.transaction(db.engine_for("tickets"), "tickets") as session:
        sla_clock.fire_due(session)  # raised (a warning event needs its deadline) and killed the clock
    time.sleep(1.0)  # the service's own clock has looked too
    assert all(r["warned_at"] is None for r in _timer_rows(ticket["id"]).values())
    clock = next(e for e in tickets_service.extensions if type(e).__name__ == "SlaClockProvider")
    assert not clock.thread.dead
