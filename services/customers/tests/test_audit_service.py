"""The audit log in the real customers service (real RabbitMQ and PostgreSQL): every event becomes
one append-only record, a redelivery writes nothing twice, no secret is stored, and the log answers
filtered, paged queries and CSV pages.

The service's own outbox is not relayed by the in-process container, so `deliver` publishes the
tenant's outbox rows as the relay does (other producers' events are published the same way).
"""
import json
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import select, text

from custops import caller, db, outbox
from custops.contracts.tickets import CategoryAdded, SlaSettingsChanged, TeamUpdated, TicketUpdated
from custops.entrypoints import handled_events
from custops.errors import InvalidInput
from custops.events import Actor, Origin, envelope_for
from customers.audit_store import audit_log

REQUEST = {"request_id": "req-audit-1", "ip": "203.0.113.7", "user_agent": "pytest/8"}
TRACEPARENT = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@acme.example", "Olive Owner")


def _as(member_id):
    return caller.using(caller.member(member_id, **REQUEST))


def _outbox_envelopes(tenant_id: str) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        rows = conn.execute(select(table.c.seq, table.c.envelope).where(
            table.c.tenant_id == uuid.UUID(tenant_id)).order_by(table.c.seq)).all()
    return [outbox.published_form(seq, envelope) for seq, envelope in rows]


def publish(envelopes: list[dict]) -> None:
    publisher = outbox.Publisher()
    try:
        assert publisher.publish_batch(envelopes) == set()
    finally:
        publisher.close()


def deliver(container, method: str, envelopes: list[dict], timeout: float = 15) -> None:
    """Publish `envelopes` and wait until `method` has handled the last of them."""
    last = envelopes[-1]["id"]

    def done(worker_ctx, result, exc_info):
        return any(event_id == last for event_id, _ in handled_events(worker_ctx))

    with entrypoint_waiter(container, method, callback=done, timeout=timeout):
        publish(envelopes)


def _rows(tenant_id) -> list[dict]:
    with db.engine_for("customers").connect() as conn:
        return [dict(r) for r in conn.execute(select(audit_log).where(
            audit_log.c.tenant_id == uuid.UUID(str(tenant_id))).order_by(audit_log.c.occurred_at)).mappings()]


def test_every_access_change_is_recorded_once_with_its_actor_and_origin(customers_service, rpc, tenant):
    t, owner = tenant["tenant_id"], tenant["member_id"]
    with _as(owner):
        member = rpc.call("customers", "create_member", t,
                          {"email": "max@acme.example", "name": "Max", "role": "member"})
        rpc.call("customers", "update_member", t, member["id"], {"role": "admin", "name": "Max Admin"})
        issued = rpc.call("customers", "issue_token", t, member["id"], "laptop", {})
        rpc.call("customers", "revoke_token", t, issued["token_id"])
        rpc.call("customers", "deactivate_member", t, member["id"])
        rpc.call("customers", "reactivate_member", t, member["id"])
    envelopes = _outbox_envelopes(t)
    deliver(customers_service, "audit_customers_events", envelopes)
    # delivered again (a relay that died before marking its batch): nothing new
    deliver(customers_service, "audit_customers_events", envelopes)

    rows = _rows(t)
    assert sorted(r["id"] for r in rows) == sorted(uuid.UUID(e["id"]) for e in envelopes)
    actions = [r["action"] for r in rows]
    assert actions == ["tenant.created", "member.created", "token.created",  # the tenant's setup, by the system
                       "member.created", "member.role_changed", "member.updated", "token.created", "token.revoked",
                       "member.deactivated", "member.reactivated"]
    setup, by_owner = rows[:3], rows[3:]
    assert {(r["actor_type"], r["actor_id"], r["request_id"]) for r in setup} == {("system", None, None)}
    for row in by_owner:
        assert (row["actor_type"], row["actor_id"]) == ("member", owner)
        assert (row["request_id"], row["ip"], row["user_agent"]) == tuple(REQUEST.values())
        assert (row["target_type"], row["target_id"]) in {("member", member["id"]), ("token", issued["token_id"])}
    by_action = {r["action"]: r for r in by_owner}
    assert by_action["member.role_changed"]["changes"] == {"role": {"before": "member", "after": "admin"}}
    assert by_action["member.updated"]["changes"] == {"name": {"before": "Max", "after": "Max Admin"}}
    # never the token, nor its hash
    stored = json.dumps([r["changes"] for r in rows])
    assert issued["token"] not in stored and "token_hash" not in stored
    assert by_action["token.created"]["changes"]["prefix"]["after"] == issued["prefix"]


def test_other_producers_events_are_recorded_without_their_secrets(customers_service, tenant):
    t = tenant["tenant_id"]
    updated = envelope_for(
        TicketUpdated(ticket_id=uuid.uuid4(), number=7, customer_id=uuid.uuid4(),
                      changes={"subject": "New", "smtp_password": "hunter2"},
                      previous={"subject": "Old", "smtp_password": "hunter1"},
                      updated_at=datetime.now(timezone.utc)),
        uuid.UUID(t), traceparent=TRACEPARENT, actor=Actor(type="contact", id=uuid.uuid4()),
        origin=Origin(request_id="req-portal", ip="198.51.100.4")).model_dump(mode="json")
    deliver(customers_service, "audit_tickets_events", [updated, updated])
    [row] = [r for r in _rows(t) if r["producer"] == "tickets"]
    assert row["changes"] == {"subject": {"before": "Old", "after": "New"}}
    assert (row["action"], row["target_type"], row["target_id"]) == ("ticket.updated", "ticket",
                                                                      updated["data"]["ticket_id"])
    assert (row["actor_type"], row["request_id"], row["ip"], row["user_agent"]) == (
        "contact", "req-portal", "198.51.100.4", None)
    assert row["trace_id"] == "ab" * 16
    assert "hunter" not in json.dumps(row, default=str)


def test_the_log_refuses_updates_deletes_and_truncation(customers_service, tenant):
    t = tenant["tenant_id"]
    deliver(customers_service, "audit_customers_events", _outbox_envelopes(t))
    url = db.engine_for("customers").url.set(drivername="postgresql").render_as_string(hide_password=False)
    for statement in ("UPDATE audit_log SET action = 'nothing.happened' WHERE tenant_id = %(t)s",
                      "DELETE FROM audit_log WHERE tenant_id = %(t)s", "TRUNCATE audit_log"):
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement, {"t": t})
    assert [r["action"] for r in _rows(t)][0] == "tenant.created"


def test_queries_filter_and_page_newest_first(customers_service, rpc, tenant):
    t, owner = tenant["tenant_id"], tenant["member_id"]
    with _as(owner):
        member = rpc.call("customers", "create_member", t,
                          {"email": "pat@acme.example", "name": "Pat", "role": "member"})
        rpc.call("customers", "update_member", t, member["id"], {"role": "contractor"})
    deliver(customers_service, "audit_customers_events", _outbox_envelopes(t))

    everything = rpc.call("customers", "list_audit", t)
    assert [r["action"] for r in everything["items"]][:2] == ["member.role_changed", "member.created"]
    assert everything["total"] is None and everything["next_cursor"] is None
    first = rpc.call("customers", "list_audit", t, {}, 2)
    second = rpc.call("customers", "list_audit", t, {}, 2, first["next_cursor"])
    assert [r["id"] for r in first["items"] + second["items"]] == [r["id"] for r in everything["items"]][:4]

    def actions(filters):
        return [r["action"] for r in rpc.call("customers", "list_audit", t, filters)["items"]]

    assert actions({"actor_id": owner}) == ["member.role_changed", "member.created"]
    assert actions({"actor_type": "system"}) == ["token.created", "member.created", "tenant.created"]
    assert actions({"action": "member.role_changed"}) == ["member.role_changed"]
    assert actions({"action": "token."}) == ["token.created"]
    assert actions({"target_type": "member", "target_id": member["id"]}) == ["member.role_changed", "member.created"]
    assert actions({"request_id": REQUEST["request_id"]}) == ["member.role_changed", "member.created"]
    later = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    assert actions({"from": later}) == [] and len(actions({"to": later})) == len(everything["items"])
    [record] = rpc.call("customers", "list_audit", t, {"action": "member.role_changed"})["items"]
    assert record["actor"] == {"type": "member", "id": owner} and record["target"] == {"type": "member",
                                                                                       "id": member["id"]}
    # another tenant's log is not this one's
    assert rpc.call("customers", "list_audit", str(uuid.uuid4()))["items"] == []
    for bad in ({"actor_type": "robot"}, {"colour": "red"}):
        with pytest.raises(InvalidInput):
            rpc.call("customers", "list_audit", t, bad)

    page = rpc.call("customers", "export_audit", t, {"actor_id": owner}, None, 1)
    assert page["columns"][:5] == ["id", "occurred_at", "actor_type", "actor_id", "action"]
    assert page["rows"][0][4] == "member.role_changed" and page["next_cursor"]
    rest = rpc.call("customers", "export_audit", t, {"actor_id": owner}, page["next_cursor"], 1)
    assert rest["rows"][0][4] == "member.created"
    with pytest.raises(InvalidInput):
        rpc.call("customers", "export_audit", t, {}, None, 5000)


def test_an_event_of_no_tenant_is_taken_and_not_recorded(customers_service):
    orphan = envelope_for(TicketUpdated(ticket_id=uuid.uuid4(), number=1, customer_id=uuid.uuid4(),
                                        changes={"subject": "x"}, updated_at=datetime.now(timezone.utc)),
                          None).model_dump(mode="json")
    deliver(customers_service, "audit_tickets_events", [orphan])
    with db.engine_for("customers").connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE id = :id"), {"id": orphan["id"]}).scalar() == 0


def test_the_tickets_setup_events_are_recorded_with_their_before_and_after(customers_service, tenant):
    """The help-desk and SLA setup changes (issue 7) reach the log like any event: the changed
    fields as before/after, the target by its id (a category by its name; the calendar and the
    settings are the tenant's one, no id)."""
    t, member, now = uuid.UUID(tenant["tenant_id"]), uuid.uuid4(), datetime.now(timezone.utc)
    team_id = uuid.uuid4()
    actor = Actor(type="member", id=member)
    envelopes = [envelope_for(data, t, actor=actor).model_dump(mode="json") for data in (
        TeamUpdated(team_id=team_id, name="Tier 2", changes={"name": "Tier 2"}, previous={"name": "Tier 1"},
                    updated_at=now),
        CategoryAdded(name="hardware", added_at=now),
        SlaSettingsChanged(version=2, changes={"warning_fraction": 0.5}, previous={"warning_fraction": 0.8},
                           changed_at=now))]
    deliver(customers_service, "audit_tickets_events", envelopes)
    rows = {r["action"]: r for r in _rows(t) if r["producer"] == "tickets"}
    assert set(rows) == {"team.updated", "category.added", "sla_settings.changed"}
    assert (rows["team.updated"]["target_type"], rows["team.updated"]["target_id"]) == ("team", str(team_id))
    assert rows["team.updated"]["changes"] == {"name": {"before": "Tier 1", "after": "Tier 2"}}
    assert (rows["category.added"]["target_type"], rows["category.added"]["target_id"]) == ("category", "hardware")
    assert rows["category.added"]["changes"]["name"] == {"before": None, "after": "hardware"}
    assert rows["sla_settings.changed"]["changes"] == {"warning_fraction": {"before": 0.8, "after": 0.5}}
    assert {(r["actor_type"], r["actor_id"]) for r in rows.values()} == {("member", str(member))}
