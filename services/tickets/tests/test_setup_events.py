"""Every change to the help-desk and SLA setup adds its event to the outbox in the change's own
transaction (so the audit log misses none), with what changed and what it was; a write that changes
nothing adds none. Real RabbitMQ and PostgreSQL, the real customers service in-process.

"In the change's transaction" is checked two ways: the outbox row and the changed row carry the same
PostgreSQL transaction id (`xmin`), and a store call rolled back leaves neither the change nor its event.
"""
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from custops import caller, db, outbox
from custops.errors import Conflict
from tickets import helpdesk_store
from tickets.models import canned_responses, teams, ticket_categories

THIS_YEAR = datetime.now(timezone.utc).year
CHRISTMAS = (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:xmas\r\nDTSTART;VALUE=DATE:{THIS_YEAR}1224\r\n"
             f"DTEND;VALUE=DATE:{THIS_YEAR}1227\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


@pytest.fixture
def tenant(new_tenant):
    return new_tenant()


@pytest.fixture
def tenant_id(tenant):
    return tenant["tenant_id"]


def _member(rpc, tenant_id, name) -> str:
    return rpc.call("customers", "create_member", tenant_id, {
        "email": f"{uuid.uuid4().hex[:8]}@team.example", "name": name, "role": "member"})["id"]


def _events(tenant_id, prefix: str) -> list[dict]:
    """The tenant's outbox envelopes whose type starts with `prefix`, in outbox order, each with the
    `xmin` (transaction id) of its row."""
    table = outbox._TABLE
    with db.engine_for("tickets").connect() as conn:
        rows = conn.execute(select(table.c.envelope, text("outbox.xmin::text")).where(
            table.c.tenant_id == uuid.UUID(str(tenant_id)), table.c.type.startswith(prefix)).order_by(table.c.seq))
        return [{**envelope, "xmin": xmin} for envelope, xmin in rows]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _xmin(table: str, where: str, **params) -> str:
    with db.engine_for("tickets").connect() as conn:
        return conn.execute(text(f"SELECT xmin::text FROM {table} WHERE {where}"), params).scalar_one()


def test_team_changes_are_told_once_each_in_their_transaction(tickets_service, rpc, tenant, tenant_id):
    ada, bob = _member(rpc, tenant_id, "Ada"), _member(rpc, tenant_id, "Bob")
    with caller.using(caller.member(tenant["member_id"])):
        team = rpc.call("tickets", "create_team", tenant_id, {"name": "Tier 1", "member_ids": [ada, bob]})
    [created] = _events(tenant_id, "team.")
    assert created["type"] == "team.created"
    assert created["data"] == {"team_id": team["id"], "name": "Tier 1", "member_ids": [ada, bob],
                               "created_at": created["data"]["created_at"]}
    assert created["actor"] == {"type": "member", "id": tenant["member_id"]}
    assert created["xmin"] == _xmin("teams", "id = :id", id=team["id"])

    rpc.call("tickets", "update_team", tenant_id, team["id"], {"name": "Tier 2", "member_ids": [bob]})
    [_, updated] = _events(tenant_id, "team.")
    assert updated["type"] == "team.updated"
    assert (updated["data"]["name"], updated["data"]["changes"], updated["data"]["previous"]) == (
        "Tier 2", {"name": "Tier 2", "member_ids": [bob]}, {"name": "Tier 1", "member_ids": [ada, bob]})
    assert updated["xmin"] == _xmin("teams", "id = :id", id=team["id"])

    # only what changes is told; the same values again tell nothing
    rpc.call("tickets", "update_team", tenant_id, team["id"], {"name": "Tier 2", "member_ids": [bob, ada]})
    rpc.call("tickets", "update_team", tenant_id, team["id"], {"name": "Tier 2", "member_ids": [bob, ada]})
    rpc.call("tickets", "update_team", tenant_id, team["id"], {})
    [_, _, members] = _events(tenant_id, "team.")
    assert (members["data"]["changes"], members["data"]["previous"]) == ({"member_ids": [bob, ada]},
                                                                         {"member_ids": [bob]})

    archived = rpc.call("tickets", "archive_team", tenant_id, team["id"])
    again = rpc.call("tickets", "archive_team", tenant_id, team["id"])
    assert again["archived_at"] == archived["archived_at"]
    events = _events(tenant_id, "team.")
    assert [e["type"] for e in events] == ["team.created", "team.updated", "team.updated", "team.archived"]
    assert (events[-1]["data"]["team_id"], events[-1]["data"]["name"]) == (team["id"], "Tier 2")
    assert _instant(events[-1]["data"]["archived_at"]) == _instant(archived["archived_at"])
    assert events[-1]["xmin"] == _xmin("teams", "id = :id", id=team["id"])
    with pytest.raises(Conflict):  # an archived team cannot change: nothing told
        rpc.call("tickets", "update_team", tenant_id, team["id"], {"name": "Tier 3"})
    assert len(_events(tenant_id, "team.")) == 4


def test_canned_responses_and_categories_are_told(tickets_service, rpc, tenant_id):
    canned = rpc.call("tickets", "create_canned_response", tenant_id,
                      {"name": "Thanks", "body": "Thanks {{customer.name}}!"})
    [created] = _events(tenant_id, "canned_response.")
    assert (created["type"], created["data"]["canned_response_id"], created["data"]["name"],
            created["data"]["body"]) == ("canned_response.created", canned["id"], "Thanks", "Thanks {{customer.name}}!")
    assert created["xmin"] == _xmin("canned_responses", "id = :id", id=canned["id"])
    with pytest.raises(Conflict):  # the same name again: refused, nothing told
        rpc.call("tickets", "create_canned_response", tenant_id, {"name": "Thanks", "body": "Ta"})
    rpc.call("tickets", "delete_canned_response", tenant_id, canned["id"])
    [_, deleted] = _events(tenant_id, "canned_response.")
    assert (deleted["type"], deleted["data"]["canned_response_id"], deleted["data"]["name"]) == (
        "canned_response.deleted", canned["id"], "Thanks")

    rpc.call("tickets", "add_category", tenant_id, " Hardware ")
    [added] = _events(tenant_id, "category.")
    assert (added["type"], added["data"]["name"]) == ("category.added", "hardware")
    assert added["xmin"] == _xmin("ticket_categories", "tenant_id = :t AND name = 'hardware'", t=tenant_id)
    for refused in (lambda: rpc.call("tickets", "add_category", tenant_id, "hardware"),  # exists
                    lambda: rpc.call("tickets", "add_category", tenant_id, "general")):  # built in
        with pytest.raises(Conflict):
            refused()
    rpc.call("tickets", "remove_category", tenant_id, "hardware")
    assert [(e["type"], e["data"]["name"]) for e in _events(tenant_id, "category.")] == [
        ("category.added", "hardware"), ("category.removed", "hardware")]


def test_a_store_change_rolled_back_leaves_no_event(tickets_service, rpc, tenant_id):
    """The help-desk store adds the event in the caller's session: one rollback undoes both."""
    t = uuid.UUID(tenant_id)
    canned = rpc.call("tickets", "create_canned_response", tenant_id, {"name": "Keep", "body": "Hi"})
    team = rpc.call("tickets", "create_team", tenant_id, {"name": "Keepers"})
    rpc.call("tickets", "add_category", tenant_id, "kept")
    before = len(_events(tenant_id, ""))
    now = datetime.now(timezone.utc)
    changes = [
        lambda s: helpdesk_store.create_team(s, t, "Ghosts", [], now),
        lambda s: helpdesk_store.update_team(s, t, uuid.UUID(team["id"]), {"name": "Renamed"}, now),
        lambda s: helpdesk_store.archive_team(s, t, uuid.UUID(team["id"]), now),
        lambda s: helpdesk_store.create_canned_response(s, t, "Ghost", "Boo", now),
        lambda s: helpdesk_store.delete_canned_response(s, t, uuid.UUID(canned["id"]), now),
        lambda s: helpdesk_store.add_category(s, t, "ghostly", now),
        lambda s: helpdesk_store.remove_category(s, t, "kept", now),
    ]
    for change in changes:
        with Session(db.engine_for("tickets")) as session:
            change(session)
            # the event is there inside the transaction ...
            assert session.execute(select(outbox._TABLE.c.id).where(outbox._TABLE.c.tenant_id == t)).all()[before:]
            session.rollback()
    # ... and gone with the change
    assert len(_events(tenant_id, "")) == before
    with db.engine_for("tickets").connect() as conn:
        assert conn.execute(select(teams.c.name, teams.c.archived_at).where(teams.c.tenant_id == t)).all() == [
            ("Keepers", None)]
        assert conn.execute(select(canned_responses.c.name).where(canned_responses.c.tenant_id == t)
                            ).scalars().all() == ["Keep"]
        assert conn.execute(select(ticket_categories.c.name).where(ticket_categories.c.tenant_id == t)
                            ).scalars().all() == ["kept"]


def test_sla_policy_saves_and_deletes_are_told_and_a_same_put_is_not(tickets_service, rpc, tenant_id):
    put = {"tier": "smb", "first_response_minutes": 30, "resolution_minutes": 240}  # not a starter policy
    created = rpc.call("tickets", "put_sla_policy", tenant_id, put)
    again = rpc.call("tickets", "put_sla_policy", tenant_id, put)
    assert again["recompute"] is None
    [saved] = _events(tenant_id, "sla_policy.")
    assert saved["type"] == "sla_policy.saved"
    assert saved["data"] == {
        "sla_policy_id": created["id"], "tier": "smb", "priority": None, "version": created["version"],
        "created": True, "changes": {"first_response_minutes": 30, "resolution_minutes": 240},
        "previous": {"first_response_minutes": None, "resolution_minutes": None},
        "saved_at": saved["data"]["saved_at"]}
    assert saved["xmin"] == _xmin("sla_policies", "id = :id", id=created["id"])

    edited = rpc.call("tickets", "put_sla_policy", tenant_id, {**put, "first_response_minutes": 15})
    [_, changed] = _events(tenant_id, "sla_policy.")
    assert (changed["data"]["created"], changed["data"]["version"], changed["data"]["changes"],
            changed["data"]["previous"]) == (False, edited["version"], {"first_response_minutes": 15},
                                             {"first_response_minutes": 30})
    assert changed["xmin"] == _xmin("sla_policies", "id = :id", id=created["id"])
    # a starter policy edited: `previous` is what it was
    starter = rpc.call("tickets", "put_sla_policy", tenant_id, {"tier": "smb", "priority": "urgent",
                                                                "first_response_minutes": 45})
    [_, _, edit] = _events(tenant_id, "sla_policy.")
    assert (edit["data"]["sla_policy_id"], edit["data"]["created"]) == (starter["id"], False)
    assert edit["data"]["changes"]["first_response_minutes"] == 45
    assert edit["data"]["previous"]["first_response_minutes"] not in (None, 45)

    rpc.call("tickets", "delete_sla_policy", tenant_id, created["id"])
    [_, _, _, deleted] = _events(tenant_id, "sla_policy.")
    assert deleted["type"] == "sla_policy.deleted"
    assert deleted["data"] == {"sla_policy_id": created["id"], "tier": "smb", "priority": None,
                               "first_response_minutes": 15, "next_response_minutes": None,
                               "resolution_minutes": 240, "deleted_at": deleted["data"]["deleted_at"]}
    default = next(p for p in rpc.call("tickets", "list_sla_policies", tenant_id)
                   if p["tier"] is None and p["priority"] is None)
    with pytest.raises(Conflict):  # the tenant default stays: nothing told
        rpc.call("tickets", "delete_sla_policy", tenant_id, default["id"])
    assert len(_events(tenant_id, "sla_policy.")) == 4


def test_calendar_edits_and_holiday_imports_are_told_and_a_same_one_is_not(tickets_service, rpc, tenant_id):
    start = rpc.call("tickets", "get_business_calendar", tenant_id)
    slots = {"0": [["09:00", "17:00"]], "2": [["09:00", "17:00"]]}
    put = {"timezone": "Europe/Berlin", "weekly_slots": slots, "holidays": [f"{THIS_YEAR}-12-25"]}
    edited = rpc.call("tickets", "put_business_calendar", tenant_id, put)
    assert rpc.call("tickets", "put_business_calendar", tenant_id, put)["recompute"] is None
    [edit] = _events(tenant_id, "business_calendar.")
    assert edit["type"] == "business_calendar.changed"
    data = edit["data"]
    assert (data["source"], data["region"], data["version"]) == ("edit", None, edited["version"])
    assert data["changes"]["weekly_slots"] == slots and data["previous"]["weekly_slots"] == start["weekly_slots"]
    assert (data["changes"]["holidays"], data["previous"]["holidays"]) == ([f"{THIS_YEAR}-12-25"], start["holidays"])
    assert (data["holidays_added"], data["holidays_removed"]) == ([f"{THIS_YEAR}-12-25"], [])
    assert set(data["changes"]) == {k for k in ("timezone", "weekly_slots", "holidays", "always_open")
                                    if start[k] != edited[k]}
    assert edit["xmin"] == _xmin("business_calendars", "tenant_id = :t", t=tenant_id)

    imported = rpc.call("tickets", "import_holidays_ics", tenant_id, CHRISTMAS)
    assert rpc.call("tickets", "import_holidays_ics", tenant_id, CHRISTMAS)["added"] == 0
    [_, ics] = _events(tenant_id, "business_calendar.")
    assert (ics["data"]["source"], ics["data"]["version"], ics["data"]["holidays_added"]) == (
        "ics", imported["version"], [f"{THIS_YEAR}-12-24", f"{THIS_YEAR}-12-26"])
    assert ics["data"]["changes"] == {"holidays": imported["holidays"]}
    assert ics["data"]["previous"] == {"holidays": [f"{THIS_YEAR}-12-25"]}
    assert ics["xmin"] == _xmin("business_calendars", "tenant_id = :t", t=tenant_id)

    loaded = rpc.call("tickets", "load_public_holidays", tenant_id, {"region": "de-by", "years": [THIS_YEAR]})
    assert rpc.call("tickets", "load_public_holidays", tenant_id, {"region": "DE-BY", "years": [THIS_YEAR]}
                    )["added"] == 0
    [_, _, region] = _events(tenant_id, "business_calendar.")
    assert (region["data"]["source"], region["data"]["region"]) == ("public_holidays", "DE-BY")
    assert region["data"]["holidays_added"] == sorted(set(loaded["holidays"]) - set(imported["holidays"]))
    assert f"{THIS_YEAR}-01-06" in region["data"]["holidays_added"]  # Epiphany, Bavaria
    assert len(_events(tenant_id, "business_calendar.")) == 3


def test_sla_settings_changes_are_told_and_a_same_put_is_not(tickets_service, rpc, tenant_id):
    start = rpc.call("tickets", "get_sla_settings", tenant_id)
    changed = rpc.call("tickets", "put_sla_settings", tenant_id,
                       {"warning_fraction": 0.5, "escalation": {"raise_priority": True}})
    assert rpc.call("tickets", "put_sla_settings", tenant_id, {"warning_fraction": 0.5})["recompute"] is None
    [event] = _events(tenant_id, "sla_settings.")
    assert event["type"] == "sla_settings.changed"
    assert event["data"] == {"version": changed["version"],
                             "changes": {"warning_fraction": 0.5, "escalation": {"raise_priority": True}},
                             "previous": {"warning_fraction": start["warning_fraction"],
                                          "escalation": start["escalation"]},
                             "changed_at": event["data"]["changed_at"]}
    assert event["xmin"] == _xmin("sla_settings", "tenant_id = :t", t=tenant_id)
