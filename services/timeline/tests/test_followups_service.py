"""Follow-ups against the real RabbitMQ and PostgreSQL: the commands, their events (the audit
records) in the outbox, the copies of members and the calendar, a member's groups, the analytics,
and the clock (on time, exactly once with two clocks racing, a due time missed while none ran).

The timeline service runs in-process with the real customers service (each test has a tenant and
customers of its own). Events are read from the timeline's outbox, where each command writes its
event in its own transaction.
"""
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import eventlet
import pytest
from sqlalchemy import select, text, update

from custops import db
from custops.contracts.customers import MemberCreated, MemberDeactivated, MemberUpdated
from custops.contracts.tickets import BusinessCalendarChanged
from custops.errors import Conflict, InvalidInput, NotFound
from custops.events import envelope_for
from custops.testing import publish_and_wait
from timeline import followup_clock
from timeline.followup_models import directory_members, followups
from timeline.service import TimelineService

UTC = timezone.utc


@pytest.fixture
def timeline(container_factory, nameko_config):
    container = container_factory(TimelineService, nameko_config)
    container.start()
    return container


@pytest.fixture
def tenant(new_tenant):
    return new_tenant()


@pytest.fixture
def tenant_id(tenant):
    return uuid.UUID(tenant["tenant_id"])


@pytest.fixture
def owner(tenant):
    return tenant["member_id"]


@pytest.fixture
def customer_id(rpc, tenant_id):
    return rpc.call("customers", "create_customer", str(tenant_id), {"name": "Acme Corp", "tier": "smb"})["id"]


def _soon(seconds=3600):
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def events(tenant_id, followup_id=None, type_prefix="followup."):
    with db.engine_for("timeline").connect() as conn:
        rows = conn.execute(text(
            "SELECT type, envelope FROM outbox WHERE tenant_id = :t AND type LIKE :p ORDER BY seq"),
            {"t": tenant_id, "p": type_prefix + "%"}).mappings().all()
    return [(r["type"], r["envelope"]) for r in rows
            if followup_id is None or r["envelope"]["data"]["followup_id"] == str(followup_id)]


def stored(followup_id):
    with db.engine_for("timeline").connect() as conn:
        return conn.execute(select(followups).where(followups.c.id == uuid.UUID(followup_id))).mappings().one()


def create(rpc, tenant_id, customer_id, assignee, **fields):
    payload = {"assignee_id": str(assignee), "due_at": _soon(), "note": "Call back about the renewal", **fields}
    return rpc.call("timeline", "create_followup", str(tenant_id), str(customer_id), payload)


def test_create_read_and_the_created_event(timeline, rpc, tenant_id, customer_id, owner):
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    made = create(rpc, tenant_id, customer_id, owner, due_at=due.isoformat(), overdue_after_minutes=30)
    assert made["status"] == "open" and made["assignee_id"] == owner and made["postponements"] == 0
    assert datetime.fromisoformat(made["due_at"]) == due
    assert datetime.fromisoformat(made["overdue_at"]) == due + timedelta(minutes=30)
    got = rpc.call("timeline", "get_followup", str(tenant_id), made["id"])
    assert got["note"] == "Call back about the renewal" and got["postponement_history"] == []
    [(kind, envelope)] = events(tenant_id, made["id"])
    assert kind == "followup.created"
    assert envelope["data"]["assignee_id"] == owner and envelope["data"]["customer_id"] == customer_id
    # the assignee was asked of the customers service once, then copied
    with db.engine_for("timeline").connect() as conn:
        assert conn.execute(select(directory_members.c.active).where(
            directory_members.c.member_id == uuid.UUID(owner))).scalar() is True


def test_bad_input_is_refused_naming_the_field_and_stores_nothing(timeline, rpc, tenant_id, customer_id, owner):
    cases = [
        ({"assignee_id": str(uuid.uuid4())}, "assignee_id"),  # nobody of this tenant
        ({"due_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}, "due_at"),
        ({"note": "   "}, "note"),
        ({"subject_type": "activity", "subject_id": str(uuid.uuid4())}, "subject_id"),
        ({"subject_type": "ticket"}, "body"),
        ({"overdue_after_minutes": -1}, "overdue_after_minutes"),
    ]
    for fields, field in cases:
        with pytest.raises(InvalidInput) as refused:
            create(rpc, tenant_id, customer_id, owner, **fields)
        assert field in [e["field"] for e in refused.value.errors], (fields, refused.value.errors)
    with pytest.raises(NotFound):
        create(rpc, tenant_id, uuid.uuid4(), owner)  # no such customer
    with pytest.raises(NotFound):
        rpc.call("timeline", "get_followup", str(uuid.uuid4()), str(uuid.uuid4()))
    assert events(tenant_id) == []


def test_a_follow_up_on_an_activity_of_the_customer(timeline, rpc, tenant_id, customer_id, owner):
    activity = rpc.call("timeline", "log_interaction", str(tenant_id), customer_id,
                        {"kind": "call", "summary": "Discussed the renewal"})
    made = create(rpc, tenant_id, customer_id, owner, subject_type="activity", subject_id=activity["id"])
    assert (made["subject_type"], made["subject_id"]) == ("activity", activity["id"])
    other = rpc.call("customers", "create_customer", str(tenant_id), {"name": "Other", "tier": "smb"})["id"]
    with pytest.raises(InvalidInput):  # the activity is another customer's
        create(rpc, tenant_id, other, owner, subject_type="activity", subject_id=activity["id"])


def test_postpone_by_preset_and_to_a_date_each_recorded(timeline, rpc, tenant_id, customer_id, owner):
    made = create(rpc, tenant_id, customer_id, owner, due_at=_soon(60))
    moved = rpc.call("timeline", "postpone_followup", str(tenant_id), made["id"], {"preset": "1_week"})
    first_due = datetime.fromisoformat(made["due_at"])
    assert datetime.fromisoformat(moved["due_at"]).date() == (first_due + timedelta(days=7)).date()
    until = (datetime.fromisoformat(moved["due_at"]) + timedelta(days=3)).isoformat()
    moved = rpc.call("timeline", "postpone_followup", str(tenant_id), made["id"],
                     {"until": until, "reason": "on leave"})
    assert moved["postponements"] == 2 and datetime.fromisoformat(moved["due_at"]) == datetime.fromisoformat(until)
    history = rpc.call("timeline", "get_followup", str(tenant_id), made["id"])["postponement_history"]
    assert [(h["preset"], h["reason"]) for h in history] == [("1_week", None), (None, "on leave")]
    assert history[1]["previous_due_at"] == history[0]["due_at"]
    kinds = [k for k, _ in events(tenant_id, made["id"])]
    assert kinds == ["followup.created", "followup.postponed", "followup.postponed"]
    # earlier than the current due time: refused, nothing changes
    with pytest.raises(InvalidInput) as refused:
        rpc.call("timeline", "postpone_followup", str(tenant_id), made["id"], {"preset": "tomorrow"})
    assert refused.value.errors[0]["field"] == "preset"
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "postpone_followup", str(tenant_id), made["id"], {"preset": "tomorrow", "until": until})
    assert stored(made["id"])["postponements"] == 2


def test_complete_reassign_cancel_and_only_while_open(timeline, rpc, tenant_id, customer_id, owner):
    ada = rpc.call("customers", "create_member", str(tenant_id),
                   {"email": "ada@example.com", "name": "Ada", "role": "member"})["id"]
    made = create(rpc, tenant_id, customer_id, owner)
    moved = rpc.call("timeline", "reassign_followup", str(tenant_id), made["id"], {"assignee_id": ada})
    assert moved["assignee_id"] == ada
    done = rpc.call("timeline", "complete_followup", str(tenant_id), made["id"], {"resolution": "Renewed for 2 years"})
    assert done["status"] == "completed" and done["resolution"] == "Renewed for 2 years"
    for method, payload in (("complete_followup", {"resolution": "again"}), ("cancel_followup", {}),
                            ("postpone_followup", {"preset": "tomorrow"}), ("update_followup", {"note": "x"}),
                            ("reassign_followup", {"assignee_id": owner})):
        with pytest.raises(Conflict):
            rpc.call("timeline", method, str(tenant_id), made["id"], payload)
    kinds = [(k, e["data"].get("on_time")) for k, e in events(tenant_id, made["id"])]
    assert kinds == [("followup.created", None), ("followup.reassigned", None), ("followup.completed", True)]

    other = create(rpc, tenant_id, customer_id, owner)
    rpc.call("timeline", "update_followup", str(tenant_id), other["id"], {"note": "Call back about the upgrade"})
    cancelled = rpc.call("timeline", "cancel_followup", str(tenant_id), other["id"], {"reason": "they churned"})
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "they churned"
    [(_, updated)] = [(k, e) for k, e in events(tenant_id, other["id"]) if k == "followup.updated"]
    assert updated["data"]["previous"] == {"note": "Call back about the renewal"}
    # a deactivated member is no assignee (once the copy is told)
    publish_and_wait(timeline, "followups_on_member_deactivated", envelope_for(MemberDeactivated(
        member_id=ada, email="ada@example.com", role="member", deactivated_at=datetime.now(UTC)), tenant_id))
    third = create(rpc, tenant_id, customer_id, owner)
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "reassign_followup", str(tenant_id), third["id"], {"assignee_id": ada})


def test_member_events_keep_the_copy_and_the_groups_follow_the_members_timezone(timeline, rpc, tenant_id,
                                                                                 customer_id):
    member_id = uuid.uuid4()
    created = envelope_for(MemberCreated(member_id=member_id, email="kai@example.com", name="Kai", role="member",
                                         timezone="Asia/Tokyo"), tenant_id)
    publish_and_wait(timeline, "followups_on_member_created", created)
    # a follow-up due at 23:00 UTC today is "today" in UTC but tomorrow in Tokyo
    now = datetime.now(UTC)
    tokyo_tomorrow = (now.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")) + timedelta(days=1)).replace(
        hour=12, minute=0, second=0, microsecond=0)
    later = create(rpc, tenant_id, customer_id, member_id, due_at=tokyo_tomorrow.isoformat())
    soon = create(rpc, tenant_id, customer_id, member_id, due_at=_soon(30))
    mine = rpc.call("timeline", "member_followups", str(tenant_id), str(member_id))
    assert mine["timezone"] == "Asia/Tokyo"
    assert [f["id"] for f in mine["groups"]["due_today"]["items"]] == [soon["id"]]
    assert [f["id"] for f in mine["groups"]["upcoming"]["items"]] == [later["id"]]
    # scoped to customers the caller does not see: nothing
    hidden = rpc.call("timeline", "member_followups", str(tenant_id), str(member_id), [str(uuid.uuid4())])
    assert all(g["count"] == 0 for g in hidden["groups"].values())
    # a later move of the member's timezone wins; an older event arriving late does not undo it
    moved = envelope_for(MemberUpdated(member_id=member_id, email="kai@example.com",
                                       changes={"timezone": "Europe/Berlin"}), tenant_id)
    publish_and_wait(timeline, "followups_on_member_updated", moved)
    stale = envelope_for(MemberUpdated(member_id=member_id, email="kai@example.com", changes={"timezone": "UTC"}),
                         tenant_id, occurred_at=now - timedelta(days=1))
    publish_and_wait(timeline, "followups_on_member_updated", stale)
    assert rpc.call("timeline", "member_followups", str(tenant_id), str(member_id))["timezone"] == "Europe/Berlin"


def test_the_calendar_copy_merges_fields_by_version_and_drives_next_business_day(timeline, rpc, tenant_id,
                                                                                  customer_id, owner):
    now = datetime.now(UTC)
    every_day_off_but_sunday = {"weekly_slots": {"6": [["09:00", "17:00"]]}}
    newer = envelope_for(BusinessCalendarChanged(version=3, source="edit", changes=every_day_off_but_sunday,
                                                 previous={}, changed_at=now), tenant_id)
    older = envelope_for(BusinessCalendarChanged(version=2, source="edit",
                                                 changes={"weekly_slots": {"0": [["09:00", "17:00"]]},
                                                          "timezone": "UTC"}, previous={}, changed_at=now), tenant_id)
    publish_and_wait(timeline, "followups_on_business_calendar_changed", newer)
    publish_and_wait(timeline, "followups_on_business_calendar_changed", older)  # late: only its timezone counts
    made = create(rpc, tenant_id, customer_id, owner, due_at=_soon(60))
    moved = rpc.call("timeline", "postpone_followup", str(tenant_id), made["id"], {"preset": "next_business_day"})
    due = datetime.fromisoformat(moved["due_at"]).astimezone(UTC)
    assert due.weekday() == 6 and 0 < (due.date() - now.date()).days <= 7


def test_list_filters_pages_and_analytics(timeline, rpc, tenant_id, customer_id, owner):
    made = [create(rpc, tenant_id, customer_id, owner, due_at=_soon(3600 * (i + 1))) for i in range(3)]
    rpc.call("timeline", "complete_followup", str(tenant_id), made[0]["id"], {"resolution": "done"})
    rpc.call("timeline", "cancel_followup", str(tenant_id), made[2]["id"], {})
    first = rpc.call("timeline", "list_followups", str(tenant_id), {"assignee_id": owner}, 2)
    assert [f["id"] for f in first["items"]] == [made[0]["id"], made[1]["id"]] and first["total"] == 3
    rest = rpc.call("timeline", "list_followups", str(tenant_id), {"assignee_id": owner}, 2, first["next_cursor"])
    assert [f["id"] for f in rest["items"]] == [made[2]["id"]] and rest["next_cursor"] is None
    opened = rpc.call("timeline", "list_followups", str(tenant_id), {"status": ["open"]})
    assert [f["id"] for f in opened["items"]] == [made[1]["id"]]
    assert rpc.call("timeline", "list_followups", str(tenant_id), {"customer_ids": []})["items"] == []
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "list_followups", str(tenant_id), {"status": ["done"]})
    now = datetime.now(UTC)
    out = rpc.call("timeline", "followup_analytics", str(tenant_id),
                   {"due_from": now.isoformat(), "due_to": (now + timedelta(days=1)).isoformat()})
    assert out["overall"]["total"] == 2 and out["overall"]["completion_rate"] == 0.5
    assert out["overall"]["on_time_rate"] == 1.0
    assert [m["member_id"] for m in out["by_member"]] == [owner]
    assert [c["customer_id"] for c in out["by_customer"]] == [customer_id]
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "followup_analytics", str(tenant_id),
                 {"due_from": now.isoformat(), "due_to": now.isoformat()})


# --- the clock ---

def _raised(followup_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = stored(followup_id)
        if row["due_raised_at"] is not None and row["overdue_raised_at"] is not None:
            return row
        eventlet.sleep(0.05)
    raise AssertionError(f"follow-up {followup_id} not raised within {timeout}s: {dict(stored(followup_id))}")


def test_due_and_overdue_are_raised_on_time_once_each(timeline, rpc, tenant_id, customer_id, owner):
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    made = create(rpc, tenant_id, customer_id, owner, due_at=due.isoformat(), overdue_after_minutes=0)
    row = _raised(made["id"])
    assert timedelta(0) <= row["due_raised_at"] - row["due_at"] < timedelta(seconds=1)
    assert timedelta(0) <= row["overdue_raised_at"] - row["overdue_at"] < timedelta(seconds=1)
    kinds = [k for k, _ in events(tenant_id, made["id"])]
    assert kinds == ["followup.created", "followup.due", "followup.overdue"]
    # completed before its due time: neither is raised (by the time one due after it was)
    early = create(rpc, tenant_id, customer_id, owner, due_at=_soon(0.5), overdue_after_minutes=0)
    marker = create(rpc, tenant_id, customer_id, owner, due_at=_soon(0.8), overdue_after_minutes=0)
    rpc.call("timeline", "complete_followup", str(tenant_id), early["id"], {"resolution": "done early"})
    _raised(marker["id"])
    assert [k for k, _ in events(tenant_id, early["id"])] == ["followup.created", "followup.completed"]
    # a postponement is a new promise: due again at the new time
    rpc.call("timeline", "postpone_followup", str(tenant_id), made["id"],
             {"until": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()})
    _raised(made["id"])
    assert [k for k, _ in events(tenant_id, made["id"])][-3:] == ["followup.postponed", "followup.due",
                                                                  "followup.overdue"]


def test_two_clocks_raise_each_once_and_a_missed_due_time_on_start(custops_setup):
    """Two clocks (as two instances run them) race over follow-ups all due at once, then over ones
    that fell due while no clock ran: each event is in the outbox exactly once."""
    engine, tenant_id = db.engine_for("timeline"), uuid.uuid4()
    past = datetime.now(UTC) - timedelta(minutes=5)
    ids = [uuid.uuid4() for _ in range(100)]
    with engine.begin() as conn:
        conn.execute(followups.insert(), [
            {"id": i, "tenant_id": tenant_id, "customer_id": uuid.uuid4(), "assignee_id": uuid.uuid4(), "note": "n",
             "due_at": past, "grace_minutes": 0, "overdue_at": past, "status": "open"} for i in ids])
    clocks = [followup_clock.FollowupClock("timeline") for _ in range(2)]
    threads = [threading.Thread(target=clock.run, daemon=True) for clock in clocks]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(select(followups.c.id).where(
                    followups.c.tenant_id == tenant_id, followups.c.overdue_raised_at.is_(None))).all()
            if not left:
                break
            time.sleep(0.05)
        assert not left
    finally:
        for clock in clocks:
            clock.stop()
        with engine.connect() as conn:  # wake them from their wait
            conn.execute(text("SELECT pg_notify('custops_followups', '')"))
            conn.commit()
        for thread in threads:
            thread.join(timeout=35)
        for clock in clocks:
            clock.close()
    counts = {}
    for kind, envelope in events(tenant_id):
        key = (kind, envelope["data"]["followup_id"])
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 2 * len(ids) and set(counts.values()) == {1}
    with engine.begin() as conn:
        conn.execute(update(followups).where(followups.c.tenant_id == tenant_id).values(status="cancelled"))
