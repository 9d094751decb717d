"""The activity log against the real RabbitMQ and PostgreSQL: interactions with fields, corrections
as versions, the queries and their keyset walk, heatmaps in the tenant's calendar, saved views.

The timeline and the customers service run in-process (each test has a tenant of its own)."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy
from sqlalchemy import select, text

from custops import caller, db, outbox
from custops.contracts.customers import TenantUpdated
from custops.contracts.tickets import TicketCreated
from custops.errors import Conflict, Forbidden, InvalidInput, NotFound
from custops.events import envelope_for
from custops.testing import publish_and_wait
from timeline.models import activities
from timeline.service import TimelineService


@pytest.fixture
def timeline(container_factory, nameko_config):
    container = container_factory(TimelineService, nameko_config)
    container.start()
    return container


@pytest.fixture
def tenant_id(new_tenant):
    return uuid.UUID(new_tenant()["tenant_id"])


def customer(rpc, tenant_id, name="Acme") -> str:
    return rpc.call("customers", "create_customer", str(tenant_id), {"name": name, "tier": "smb"})["id"]


def ago(**delta) -> str:
    return (datetime.now(timezone.utc) - timedelta(**delta)).isoformat()


def log(rpc, tenant_id, customer_id, by=None, **payload):
    payload.setdefault("kind", "note")
    payload.setdefault("summary", "a note")
    if by is None:
        return rpc.call("timeline", "log_interaction", str(tenant_id), customer_id, payload)
    with caller.using(caller.member(by)):
        return rpc.call("timeline", "log_interaction", str(tenant_id), customer_id, payload)


def outbox_types(tenant_id) -> list[str]:
    with db.engine_for("timeline").connect() as conn:
        return list(conn.execute(select(outbox._TABLE.c.type).where(outbox._TABLE.c.tenant_id == tenant_id)
                                 .order_by(outbox._TABLE.c.seq)).scalars())


def interactions(rpc, tenant_id, customer_id, **filters):
    filters.setdefault("type_prefix", "interaction.")
    return rpc.call("timeline", "list_activities", str(tenant_id), customer_id, filters, 200)


def test_a_call_with_its_fields_links_and_visibility(timeline, rpc, tenant_id):
    acme = customer(rpc, tenant_id)
    ticket = str(uuid.uuid4())
    item = log(rpc, tenant_id, acme, kind="call", summary="Renewal call", visibility="customer",
               occurred_at=ago(hours=3), fields={"direction": "outbound", "duration_minutes": 25},
               links={"ticket_id": ticket})
    assert (item["type"], item["visibility"], item["internal"]) == ("interaction.call", "customer", False)
    assert item["fields"] == {"direction": "outbound", "duration_minutes": 25}
    assert item["links"] == {"ticket_id": ticket} and item["activity_id"] == item["id"] and item["revision"] == 1
    assert item["recorded_at"] > item["occurred_at"]
    [found] = interactions(rpc, tenant_id, acme, links={"ticket_id": ticket})["items"]
    assert found["fields"] == item["fields"]
    assert outbox_types(tenant_id) == ["interaction.logged"]

    for bad, field in [({"kind": "call", "fields": {"direction": "up"}}, "fields.direction"),
                       ({"kind": "meeting", "fields": {"attendees": "all"}}, "fields.attendees"),
                       ({"kind": "fax"}, "kind"), ({"occurred_at": ago(days=-1)}, "occurred_at"),
                       ({"internal": True, "visibility": "customer"}, "body"),
                       ({"links": {"invoice_id": ticket}}, "links.invoice_id")]:
        with pytest.raises(InvalidInput) as caught:
            log(rpc, tenant_id, acme, **bad)
        assert field in {e["field"] for e in caught.value.errors} or field == "body", caught.value.errors
    assert interactions(rpc, tenant_id, acme)["total"] == 1 and outbox_types(tenant_id) == ["interaction.logged"]


def test_a_tenant_defines_its_own_kind_and_logs_it(timeline, rpc, tenant_id, new_tenant):
    acme = customer(rpc, tenant_id)
    definition = {"label": "Quarterly review", "fields": [
        {"name": "quarter", "kind": "select", "choices": ["Q1", "Q2"], "required": True}]}
    rpc.call("timeline", "define_interaction_type", str(tenant_id), "qbr", definition)
    rpc.call("timeline", "define_interaction_type", str(tenant_id), "qbr", definition)  # a no-op tells nothing
    kinds = {t["kind"]: t for t in rpc.call("timeline", "list_interaction_types", str(tenant_id))["items"]}
    assert len(kinds) == 11 and kinds["qbr"]["built_in"] is False and kinds["call"]["built_in"] is True
    assert log(rpc, tenant_id, acme, kind="qbr", fields={"quarter": "Q2"})["type"] == "interaction.qbr"
    with pytest.raises(InvalidInput):
        log(rpc, tenant_id, acme, kind="qbr", fields={})  # quarter is required
    other = new_tenant()["tenant_id"]
    with pytest.raises(InvalidInput):  # another tenant's kind does not exist here
        log(rpc, other, customer(rpc, other), kind="qbr", fields={"quarter": "Q2"})
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "define_interaction_type", str(tenant_id), "call", {"label": "Mine"})
    assert outbox_types(tenant_id) == ["interaction_type.defined", "interaction.logged"]


def test_corrections_are_versions_and_history_is_one_call_away(timeline, rpc, tenant_id):
    acme = customer(rpc, tenant_id)
    first = log(rpc, tenant_id, acme, kind="call", summary="Called Jo", occurred_at=ago(days=2),
                fields={"duration_minutes": 10})
    edited = rpc.call("timeline", "correct_interaction", str(tenant_id), acme, first["id"],
                      {"summary": "Called Jo and Al", "fields": {"duration_minutes": 15}, "reason": "typo"})
    assert (edited["activity_id"], edited["revision"], edited["summary"]) == (first["id"], 2, "Called Jo and Al")
    assert edited["occurred_at"] == first["occurred_at"]  # it keeps its place on the timeline
    [shown] = interactions(rpc, tenant_id, acme)["items"]
    assert shown["id"] == edited["id"] and shown["fields"] == {"duration_minutes": 15}
    with pytest.raises(Conflict):  # the edit was based on revision 1
        rpc.call("timeline", "correct_interaction", str(tenant_id), acme, first["id"],
                 {"summary": "x", "expected_revision": 1})
    # a no-op makes no version
    same = rpc.call("timeline", "correct_interaction", str(tenant_id), acme, first["id"],
                    {"summary": "Called Jo and Al"})
    assert same["revision"] == 2

    retracted = rpc.call("timeline", "retract_interaction", str(tenant_id), acme, edited["id"],
                         {"reason": "wrong customer"})
    assert retracted["retracted"] is True and retracted["revision"] == 3
    assert interactions(rpc, tenant_id, acme)["items"] == []
    assert [i["revision"] for i in interactions(rpc, tenant_id, acme, include_retracted=True)["items"]] == [3]
    history = rpc.call("timeline", "activity_history", str(tenant_id), acme, first["id"])
    assert [(v["revision"], v["summary"], v["retracted"]) for v in history["items"]] == [
        (1, "Called Jo", False), (2, "Called Jo and Al", False), (3, "Called Jo and Al", True)]
    assert history["items"][2]["correction_reason"] == "wrong customer"
    with pytest.raises(Conflict):
        rpc.call("timeline", "correct_interaction", str(tenant_id), acme, first["id"], {"summary": "back"})
    assert outbox_types(tenant_id) == ["interaction.logged", "interaction.corrected", "interaction.corrected"]

    # history is never rewritten, not even by hand
    with db.engine_for("timeline").begin() as conn:
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            conn.execute(text("UPDATE activities SET summary = 'x' WHERE id = :id"), {"id": first["id"]})
    with db.engine_for("timeline").begin() as conn:
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            conn.execute(text("DELETE FROM activities WHERE id = :id"), {"id": first["id"]})


def test_an_events_activity_is_corrected_by_its_service_not_here(timeline, rpc, tenant_id):
    acme = uuid.UUID(customer(rpc, tenant_id))
    event = envelope_for(TicketCreated(ticket_id=uuid.uuid4(), number=1, customer_id=acme, subject="s",
                                       priority="high", status="new", source="email",
                                       created_at=datetime.now(timezone.utc)), tenant_id)
    publish_and_wait(timeline, "on_ticket_created", event)
    [item] = rpc.call("timeline", "list_activities", str(tenant_id), str(acme), {"types": ["ticket.created"]})["items"]
    with pytest.raises(Conflict):
        rpc.call("timeline", "correct_interaction", str(tenant_id), str(acme), item["id"], {"summary": "x"})
    with pytest.raises(NotFound):
        rpc.call("timeline", "activity_history", str(tenant_id), str(uuid.uuid4()), item["id"])


def test_filters_full_text_human_only_and_the_tenant_wide_list(timeline, rpc, tenant_id):
    acme, globex = customer(rpc, tenant_id), customer(rpc, tenant_id, "Globex")
    ada, bob = uuid.uuid4(), uuid.uuid4()
    log(rpc, tenant_id, acme, by=ada, kind="call", summary="Discussed the renewal pricing", occurred_at=ago(days=1))
    log(rpc, tenant_id, acme, by=bob, kind="meeting", summary="Onboarding workshop", occurred_at=ago(days=3),
        visibility="customer")
    log(rpc, tenant_id, acme, kind="note", summary="Automatic renewal reminder", occurred_at=ago(days=10))  # system
    log(rpc, tenant_id, globex, by=ada, kind="email", summary="Renewals are due", occurred_at=ago(days=2))

    def summaries(**f):
        page = rpc.call("timeline", "list_tenant_activities", str(tenant_id), {"type_prefix": "interaction.", **f})
        assert page["total"] == len(page["items"])
        return [i["summary"] for i in page["items"]]

    assert summaries() == ["Discussed the renewal pricing", "Renewals are due", "Onboarding workshop",
                           "Automatic renewal reminder"]
    assert summaries(q="renewals") == ["Discussed the renewal pricing", "Renewals are due",
                                       "Automatic renewal reminder"]  # stemmed
    assert summaries(q='renewal -automatic') == ["Discussed the renewal pricing", "Renewals are due"]
    assert summaries(human_only=True, q="renewal") == ["Discussed the renewal pricing", "Renewals are due"]
    assert summaries(actor_id=str(bob)) == ["Onboarding workshop"]
    assert summaries(actor_type="system") == ["Automatic renewal reminder"]
    assert summaries(visibility="customer") == ["Onboarding workshop"]
    assert summaries(include_internal=False) == ["Onboarding workshop"]
    assert summaries(types=["interaction.call", "interaction.email"]) == ["Discussed the renewal pricing",
                                                                          "Renewals are due"]
    assert summaries(occurred_from=ago(days=4), occurred_to=ago(days=2, hours=-1)) == [
        "Renewals are due", "Onboarding workshop"]
    assert summaries(customer_ids=[globex]) == ["Renewals are due"]
    assert summaries(customer_ids=[]) == []
    assert summaries(customer_id=acme, q="workshop") == ["Onboarding workshop"]
    for bad in ({"q": "  "}, {"actor_type": "robot"}, {"types": ["Nope"]}, {"occurred_from": ago(days=1),
                                                                             "occurred_to": ago(days=2)}):
        with pytest.raises(InvalidInput):
            rpc.call("timeline", "list_tenant_activities", str(tenant_id), bad)


def test_the_keyset_walk_is_stable_under_concurrent_inserts(timeline, rpc, tenant_id):
    acme = customer(rpc, tenant_id)
    base = datetime.now(timezone.utc) - timedelta(days=1)
    for n in range(7):
        log(rpc, tenant_id, acme, summary=f"note {n}", occurred_at=(base - timedelta(minutes=10 * n)).isoformat())
    seen, cursor, totals = [], None, set()
    while True:
        page = rpc.call("timeline", "list_activities", str(tenant_id), acme, {"type_prefix": "interaction."}, 3, cursor)
        seen += [i["summary"] for i in page["items"]]
        totals.add(page["total"])
        # someone logs while we walk: one dated now, one dated behind the cursor
        log(rpc, tenant_id, acme, summary="late now")
        log(rpc, tenant_id, acme, summary="late past", occurred_at=(base - timedelta(days=2)).isoformat())
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [f"note {n}" for n in range(7)] and totals == {7}
    assert interactions(rpc, tenant_id, acme)["total"] == 7 + 6  # a fresh walk sees them
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "list_activities", str(tenant_id), acme, {}, 3, "garbage!")


def test_the_heatmap_counts_in_the_tenants_calendar_quiet_accounts_first(timeline, rpc, tenant_id):
    clock = envelope_for(TenantUpdated(tenant_id=tenant_id, name="T", timezone="America/New_York",
                                       week_start="sunday", changes={"timezone": "America/New_York"}), tenant_id)
    publish_and_wait(timeline, "on_tenant_updated", clock)
    busy, quiet, dark = customer(rpc, tenant_id, "Busy"), customer(rpc, tenant_id, "Quiet"), customer(rpc, tenant_id)
    ada = uuid.uuid4()
    today = datetime.now(timezone.utc)
    # 03:00 UTC is the previous day in New York
    at = today.replace(hour=3, minute=0, second=0, microsecond=0) - timedelta(days=2)
    local_day = (at - timedelta(hours=5)).date()
    for _ in range(3):
        log(rpc, tenant_id, busy, by=ada, kind="call", summary="c", occurred_at=at.isoformat())
    log(rpc, tenant_id, quiet, by=ada, summary="old touch", occurred_at=(today - timedelta(days=40)).isoformat())
    log(rpc, tenant_id, quiet, summary="system only", occurred_at=at.isoformat())  # not human
    log(rpc, tenant_id, dark, summary="system only", occurred_at=at.isoformat())

    start, end = local_day - timedelta(days=3), local_day + timedelta(days=1)
    doc = rpc.call("timeline", "activity_heatmap", str(tenant_id), {
        "start": start.isoformat(), "end": end.isoformat(), "bucket": "day", "quiet_days": 14,
        "filters": {"type_prefix": "interaction."}})
    assert (doc["timezone"], doc["week_start"]) == ("America/New_York", "sunday")
    assert doc["buckets"][0] == start.isoformat() and len(doc["buckets"]) == 5
    rows = {r["customer_id"]: r for r in doc["accounts"]}
    assert rows[busy]["counts"][doc["buckets"].index(local_day.isoformat())] == 3 and rows[busy]["quiet"] is False
    assert [r["customer_id"] for r in doc["accounts"]][:2] == [dark, quiet]  # never touched, then 40 days
    assert rows[quiet]["days_since_human"] == 40 and rows[dark]["last_human_at"] is None
    assert doc["quiet_count"] == 2

    weeks = rpc.call("timeline", "activity_heatmap", str(tenant_id), {
        "start": start.isoformat(), "end": end.isoformat(), "bucket": "week", "filters": {"customer_ids": [busy]}})
    assert all(date.fromisoformat(b).weekday() == 6 for b in weeks["buckets"])  # Sundays
    assert [r["customer_id"] for r in weeks["accounts"]] == [busy] and weeks["accounts"][0]["total"] == 3

    members = rpc.call("timeline", "member_heatmap", str(tenant_id), {
        "start": start.isoformat(), "end": end.isoformat(), "filters": {"type_prefix": "interaction."}})
    assert [(m["member_id"], m["total"]) for m in members["members"]] == [(str(ada), 3)]
    with pytest.raises(InvalidInput):
        rpc.call("timeline", "activity_heatmap", str(tenant_id), {"start": "2026-01-01", "end": "2025-01-01"})


def test_the_heatmaps_read_model_counts_as_the_log_does_through_corrections_and_a_new_timezone(
        timeline, rpc, tenant_id):
    acme, ada = customer(rpc, tenant_id, "Acme"), uuid.uuid4()
    base = (datetime.now(timezone.utc) - timedelta(days=5)).replace(hour=20, minute=0, second=0, microsecond=0)
    start, end = base.date() - timedelta(days=2), base.date() + timedelta(days=2)  # UTC days: no clock told yet

    def row(**filters):
        doc = rpc.call("timeline", "activity_heatmap", str(tenant_id), {
            "start": start.isoformat(), "end": end.isoformat(), "bucket": "day", "filters": filters})
        return {r["customer_id"]: r for r in doc["accounts"]}[acme]

    call = log(rpc, tenant_id, acme, by=ada, kind="call", summary="c", occurred_at=base.isoformat(),
               visibility="customer")
    log(rpc, tenant_id, acme, summary="a system note", occurred_at=base.isoformat())  # internal
    assert row()["counts"] == [0, 0, 2, 0, 0]
    assert datetime.fromisoformat(row()["last_human_at"]) == base
    for filters in ({}, {"human_only": True}, {"visibility": "internal"}, {"visibility": "customer"},
                    {"include_internal": False}, {"actor_type": "member"}, {"actor_type": "contact"}):
        # the read model (these filters) against counting the log (a type filter)
        assert row(**filters)["counts"] == row(type_prefix="interaction.", **filters)["counts"], filters
    assert row(human_only=True)["counts"] == [0, 0, 1, 0, 0]

    # an edit moving the call a day on moves its count; a retraction takes it (and the human touch) away
    moved = rpc.call("timeline", "correct_interaction", str(tenant_id), acme, call["id"], {
        "occurred_at": (base + timedelta(days=1)).isoformat(), "reason": "wrong day"})
    assert row()["counts"] == [0, 0, 1, 1, 0]
    assert datetime.fromisoformat(row()["last_human_at"]) == base + timedelta(days=1)
    rpc.call("timeline", "retract_interaction", str(tenant_id), acme, moved["id"], {"reason": "never happened"})
    assert row()["counts"] == [0, 0, 1, 0, 0] and row()["last_human_at"] is None

    # a new timezone: 20:00 UTC is the next day in Kolkata (+05:30); the counts move with it, and what
    # is recorded afterwards counts in it too
    clock = envelope_for(TenantUpdated(tenant_id=tenant_id, name="T", timezone="Asia/Kolkata", week_start="monday",
                                       changes={"timezone": "Asia/Kolkata"}), tenant_id)
    publish_and_wait(timeline, "on_tenant_updated", clock)
    assert row()["counts"] == [0, 0, 0, 1, 0]
    log(rpc, tenant_id, acme, by=ada, summary="late call", occurred_at=base.isoformat())
    assert row()["counts"] == [0, 0, 0, 2, 0] == row(type_prefix="interaction.")["counts"]


def test_saved_views_one_default_shared_with_the_team(timeline, rpc, tenant_id):
    ada, bob = str(uuid.uuid4()), str(uuid.uuid4())
    t = str(tenant_id)
    calls = rpc.call("timeline", "save_view", t, ada, {"name": "Calls", "filters": {"types": ["interaction.call"]},
                                                        "is_default": True})
    mine = rpc.call("timeline", "save_view", t, ada, {"name": "Quiet humans", "filters": {"human_only": True},
                                                       "shared": True})
    assert rpc.call("timeline", "list_views", t, ada)["default_view_id"] == calls["id"]
    rpc.call("timeline", "update_view", t, ada, mine["id"], {"is_default": True})
    listed = rpc.call("timeline", "list_views", t, ada)
    assert listed["default_view_id"] == mine["id"] and [v["name"] for v in listed["items"]] == ["Quiet humans", "Calls"]
    seen_by_bob = rpc.call("timeline", "list_views", t, bob)
    assert [(v["name"], v["mine"], v["is_default"]) for v in seen_by_bob["items"]] == [("Quiet humans", False, False)]
    with pytest.raises(Forbidden):
        rpc.call("timeline", "update_view", t, bob, mine["id"], {"name": "Mine now"})
    with pytest.raises(NotFound):
        rpc.call("timeline", "get_view", t, bob, calls["id"])  # not shared
    with pytest.raises(Conflict):
        rpc.call("timeline", "save_view", t, ada, {"name": "calls"})
    with pytest.raises(InvalidInput) as caught:
        rpc.call("timeline", "save_view", t, ada, {"name": "Bad", "filters": {"include_internal": True}})
    assert caught.value.errors[0]["field"] == "filters.include_internal"
    rpc.call("timeline", "delete_view", t, ada, calls["id"])
    assert [v["name"] for v in rpc.call("timeline", "list_views", t, ada)["items"]] == ["Quiet humans"]
    assert outbox_types(tenant_id) == ["activity_view.saved"] * 3 + ["activity_view.deleted"]


def test_the_export_pages_rows_of_the_whole_tenant(timeline, rpc, tenant_id):
    acme = customer(rpc, tenant_id)
    for n in range(5):
        log(rpc, tenant_id, acme, kind="call", summary=f"call {n}", occurred_at=ago(hours=n + 1),
            fields={"duration_minutes": n})
    rows, cursor = [], None
    while True:
        page = rpc.call("timeline", "export_activities", str(tenant_id), {"type_prefix": "interaction."}, cursor, 2)
        rows += page["rows"]
        if (cursor := page["next_cursor"]) is None:
            break
    columns = page["columns"]
    assert [r[columns.index("summary")] for r in rows] == [f"call {n}" for n in range(5)]
    assert rows[3][columns.index("fields")] == '{"duration_minutes": 3}'
    with db.engine_for("timeline").connect() as conn:
        assert conn.execute(select(sqlalchemy.func.count()).select_from(activities).where(
            activities.c.tenant_id == tenant_id, activities.c.type == "interaction.call")).scalar() == 5
