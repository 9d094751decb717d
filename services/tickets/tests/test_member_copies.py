"""The team members the tickets service copies from the customers service's member events (issue 14):
a copied member writes replies and takes tickets without an RPC to the customers service; a member
deactivated (by event, or as the customers service answers for one not copied) is refused as author
and assignee; one not copied is asked about and copied as older than any event; a late event never
undoes a newer one. Real RabbitMQ and PostgreSQL; the events are published as the customers' relay would."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from custops import db
from custops.contracts.customers import (CustomerCreated, MemberCreated, MemberDeactivated, MemberReactivated,
                                         MemberRoleChanged)
from custops.errors import InvalidInput
from custops.events import envelope_for
from custops.testing import publish_and_wait
from tickets import member_copies
from tickets.models import directory_members, ticket_messages, tickets


def _told(data, tenant_id, occurred_at=None):
    envelope = envelope_for(data, tenant_id)
    return envelope.model_copy(update={"occurred_at": occurred_at}) if occurred_at else envelope


def _created(member_id, role="member"):
    return MemberCreated(member_id=member_id, email=f"{member_id.hex[:8]}@team.example", name="Ada", role=role)


def _deactivated(member_id, role="member"):
    return MemberDeactivated(member_id=member_id, email="ada@team.example", role=role,
                             deactivated_at=datetime.now(timezone.utc))


def _reactivated(member_id, role="member"):
    return MemberReactivated(member_id=member_id, email="ada@team.example", role=role)


def _role_changed(member_id, previous, role):
    return MemberRoleChanged(member_id=member_id, email="ada@team.example", previous_role=previous, role=role)


def _copied_tenant_ticket(container, rpc) -> tuple[uuid.UUID, dict]:
    """A tenant and a ticket of a customer told by its event (no customers service needed)."""
    tenant_id, customer_id = uuid.uuid4(), uuid.uuid4()
    publish_and_wait(container, "on_customer_created", _told(
        CustomerCreated(customer_id=customer_id, name="Acme", tier="smb", domains=[]), tenant_id))
    return tenant_id, rpc.call("tickets", "create_ticket", str(tenant_id),
                               {"customer_id": str(customer_id), "subject": "Printer on fire"})


def _reply(rpc, tenant_id, ticket_id, member_id) -> dict:
    return rpc.call("tickets", "add_message", str(tenant_id), ticket_id,
                    {"kind": "reply", "body": "On it.", "author_member_id": str(member_id)})


def _assign(rpc, tenant_id, ticket_id, member_id) -> dict:
    return rpc.call("tickets", "assign_ticket", str(tenant_id), ticket_id, {"assignee_id": str(member_id)})


def _refused(call, *args) -> tuple[str, list[str]]:
    with pytest.raises(InvalidInput) as refused:
        call(*args)
    return str(refused.value), [e["field"] for e in refused.value.errors]


def _row(tenant_id, member_id):
    with db.engine_for("tickets").connect() as conn:
        return conn.execute(select(directory_members).where(
            directory_members.c.tenant_id == uuid.UUID(str(tenant_id)),
            directory_members.c.member_id == uuid.UUID(str(member_id)))).mappings().first()


def _nothing_written(ticket_id) -> bool:
    with db.engine_for("tickets").connect() as conn:
        messages = conn.execute(select(ticket_messages.c.id).where(
            ticket_messages.c.ticket_id == uuid.UUID(ticket_id))).all()
        assignee = conn.execute(select(tickets.c.assignee_id).where(tickets.c.id == uuid.UUID(ticket_id))).scalar_one()
    return messages == [] and assignee is None


def test_a_member_told_by_its_event_replies_and_is_assigned_without_asking(tickets_service, rpc):
    # no customers service runs here: an RPC to it would time out
    tenant_id, ticket = _copied_tenant_ticket(tickets_service, rpc)
    member_id = uuid.uuid4()
    publish_and_wait(tickets_service, "on_member_created", _told(_created(member_id), tenant_id))

    assert _reply(rpc, tenant_id, ticket["id"], member_id)["message"]["author_member_id"] == str(member_id)
    assert _assign(rpc, tenant_id, ticket["id"], member_id)["assignee_id"] == str(member_id)


def test_a_member_deactivated_by_event_is_refused_as_author_and_assignee_until_reactivated(tickets_service, rpc):
    tenant_id, ticket = _copied_tenant_ticket(tickets_service, rpc)
    member_id = uuid.uuid4()
    publish_and_wait(tickets_service, "on_member_created", _told(_created(member_id), tenant_id))
    publish_and_wait(tickets_service, "on_member_deactivated", _told(_deactivated(member_id), tenant_id))

    assert _refused(_reply, rpc, tenant_id, ticket["id"], member_id) == ("member deactivated", ["author_member_id"])
    assert _refused(_assign, rpc, tenant_id, ticket["id"], member_id) == ("member deactivated", ["assignee_id"])
    assert _nothing_written(ticket["id"])

    publish_and_wait(tickets_service, "on_member_reactivated", _told(_reactivated(member_id), tenant_id))
    assert _assign(rpc, tenant_id, ticket["id"], member_id)["assignee_id"] == str(member_id)


def test_a_member_of_a_role_that_cannot_work_tickets_is_refused(tickets_service, rpc):
    tenant_id, ticket = _copied_tenant_ticket(tickets_service, rpc)
    member_id = uuid.uuid4()
    publish_and_wait(tickets_service, "on_member_created", _told(_created(member_id, "read_only"), tenant_id))

    assert _refused(_assign, rpc, tenant_id, ticket["id"], member_id) == ("unknown member", ["assignee_id"])


def test_a_late_event_never_undoes_a_newer_one(tickets_service, rpc):
    tenant_id, ticket = _copied_tenant_ticket(tickets_service, rpc)
    member_id, now = uuid.uuid4(), datetime.now(timezone.utc)
    publish_and_wait(tickets_service, "on_member_deactivated", _told(_deactivated(member_id), tenant_id, now))
    publish_and_wait(tickets_service, "on_member_created",
                      _told(_created(member_id), tenant_id, now - timedelta(minutes=5)))  # late, older
    assert _refused(_assign, rpc, tenant_id, ticket["id"], member_id) == ("member deactivated", ["assignee_id"])

    # role and activity each keep their own newest: a later role change, then a reactivation older
    # than it (but newer than the deactivation) arriving late
    publish_and_wait(tickets_service, "on_member_role_changed",
                      _told(_role_changed(member_id, "member", "read_only"), tenant_id, now + timedelta(minutes=2)))
    publish_and_wait(tickets_service, "on_member_reactivated",
                      _told(_reactivated(member_id, "member"), tenant_id, now + timedelta(minutes=1)))

    row = _row(tenant_id, member_id)
    assert (row["role"], row["active"]) == ("read_only", True)
    assert _refused(_assign, rpc, tenant_id, ticket["id"], member_id) == ("unknown member", ["assignee_id"])


def test_a_member_not_copied_is_asked_about_copied_as_older_than_any_event(
        tickets_service, customers_service, rpc, new_tenant):
    # the customers service runs in-process without its relay: its own events never reach the copy
    tenant = new_tenant()
    tenant_id, owner = tenant["tenant_id"], tenant["member_id"]
    customer_id = rpc.call("customers", "create_customer", tenant_id, {
        "name": "Acme", "tier": "smb", "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]
    ticket = rpc.call("tickets", "create_ticket", tenant_id, {"customer_id": customer_id, "subject": "Hi"})

    assert _reply(rpc, tenant_id, ticket["id"], owner)["message"]["author_member_id"] == owner
    row = _row(tenant_id, owner)
    assert (row["role"], row["active"], row["role_as_of"], row["active_as_of"]) == (
        "owner", True, member_copies.ASKED_AS_OF, member_copies.ASKED_AS_OF)

    # any event is newer than the answer
    publish_and_wait(tickets_service, "on_member_deactivated",
                      _told(_deactivated(uuid.UUID(owner), "owner"), uuid.UUID(tenant_id)))
    assert _refused(_reply, rpc, tenant_id, ticket["id"], owner) == ("member deactivated", ["author_member_id"])


def test_a_member_deactivated_before_the_copy_knew_it_is_refused_as_the_customers_service_answers(
        tickets_service, customers_service, rpc, new_tenant):
    tenant_id = new_tenant()["tenant_id"]
    customer_id = rpc.call("customers", "create_customer", tenant_id, {
        "name": "Acme", "tier": "smb", "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]
    ticket = rpc.call("tickets", "create_ticket", tenant_id, {"customer_id": customer_id, "subject": "Hi"})
    gone = rpc.call("customers", "create_member", tenant_id, {
        "email": f"{uuid.uuid4().hex[:8]}@team.example", "name": "Bob", "role": "member"})["id"]
    rpc.call("customers", "deactivate_member", tenant_id, gone)

    assert _refused(_assign, rpc, tenant_id, ticket["id"], gone) == ("member deactivated", ["assignee_id"])
    assert _refused(_assign, rpc, tenant_id, ticket["id"], uuid.uuid4()) == ("unknown member", ["assignee_id"])
    assert _nothing_written(ticket["id"])


def test_a_role_change_told_first_leaves_activity_unknown_so_it_is_asked(
        tickets_service, customers_service, rpc, new_tenant):
    tenant_id = new_tenant()["tenant_id"]
    customer_id = rpc.call("customers", "create_customer", tenant_id, {
        "name": "Acme", "tier": "smb", "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]
    ticket = rpc.call("tickets", "create_ticket", tenant_id, {"customer_id": customer_id, "subject": "Hi"})
    ada = rpc.call("customers", "create_member", tenant_id, {
        "email": f"{uuid.uuid4().hex[:8]}@team.example", "name": "Ada", "role": "member"})["id"]
    publish_and_wait(tickets_service, "on_member_role_changed",
                      _told(_role_changed(uuid.UUID(ada), "member", "admin"), uuid.UUID(tenant_id)))
    assert _row(tenant_id, ada)["active"] is None

    assert _assign(rpc, tenant_id, ticket["id"], ada)["assignee_id"] == ada

    row = _row(tenant_id, ada)  # the answer filled in what no event told; the told role stays
    assert (row["role"], row["active"], row["active_as_of"]) == ("admin", True, member_copies.ASKED_AS_OF)


def test_another_tenants_copied_member_is_refused(tickets_service, customers_service, rpc, new_tenant):
    tenant_id, other_tenant = new_tenant()["tenant_id"], uuid.UUID(new_tenant()["tenant_id"])
    customer_id = rpc.call("customers", "create_customer", tenant_id, {
        "name": "Acme", "tier": "smb", "domains": [f"{uuid.uuid4().hex[:12]}.example"]})["id"]
    ticket = rpc.call("tickets", "create_ticket", tenant_id, {"customer_id": customer_id, "subject": "Hi"})
    foreign = uuid.uuid4()
    publish_and_wait(tickets_service, "on_member_created", _told(_created(foreign), other_tenant))

    assert _refused(_assign, rpc, tenant_id, ticket["id"], foreign) == ("unknown member", ["assignee_id"])


def _team_of(tenant_id, member_ids) -> str:
    # written as create_team writes it (create_team itself asks the customers service, not running here)
    from tickets import helpdesk_store
    with db.transaction(db.engine_for("tickets"), "tickets") as session:
        return helpdesk_store.create_team(session, tenant_id, "Tier 1", member_ids, datetime.now(timezone.utc))["id"]


def test_round_robin_skips_a_member_deactivated_by_event_and_takes_them_back_when_reactivated(tickets_service, rpc):
    tenant_id, first = _copied_tenant_ticket(tickets_service, rpc)
    ada, bob, cy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for member_id in (ada, bob, cy):
        publish_and_wait(tickets_service, "on_member_created", _told(_created(member_id), tenant_id))
    team_id = _team_of(tenant_id, [ada, bob, cy])
    publish_and_wait(tickets_service, "on_member_deactivated", _told(_deactivated(bob), tenant_id))

    def next_assignee():
        ticket = rpc.call("tickets", "create_ticket", str(tenant_id), {
            "customer_id": first["customer_id"], "subject": "Printer on fire"})
        assigned = rpc.call("tickets", "assign_round_robin", str(tenant_id), ticket["id"], team_id)
        return uuid.UUID(assigned["assignee_id"])

    assert [next_assignee() for _ in range(4)] == [ada, cy, ada, cy]  # bob skipped, nobody takes two turns
    publish_and_wait(tickets_service, "on_member_reactivated", _told(_reactivated(bob), tenant_id))
    assert [next_assignee() for _ in range(3)] == [ada, bob, cy]
    publish_and_wait(tickets_service, "on_member_deactivated", _told(_deactivated(ada), tenant_id))
    publish_and_wait(tickets_service, "on_member_deactivated", _told(_deactivated(bob), tenant_id))
    publish_and_wait(tickets_service, "on_member_deactivated", _told(_deactivated(cy), tenant_id))
    assert _refused(next_assignee) == ("the team has no active members", ["team_id"])


def test_a_team_of_copied_members_is_made_and_changed_without_asking(tickets_service, rpc):
    # no customers service runs here: asking it would time out
    tenant_id, _ = _copied_tenant_ticket(tickets_service, rpc)
    ada, bob = uuid.uuid4(), uuid.uuid4()
    for member_id in (ada, bob):
        publish_and_wait(tickets_service, "on_member_created", _told(_created(member_id), tenant_id))
    team = rpc.call("tickets", "create_team", str(tenant_id), {"name": "Tier 1", "member_ids": [str(ada)]})
    changed = rpc.call("tickets", "update_team", str(tenant_id), team["id"], {"member_ids": [str(ada), str(bob)]})
    assert changed["member_ids"] == [str(ada), str(bob)]
    publish_and_wait(tickets_service, "on_member_deactivated", _told(_deactivated(bob), tenant_id))
    assert _refused(lambda: rpc.call("tickets", "create_team", str(tenant_id), {
        "name": "Tier 2", "member_ids": [str(bob)]})) == ("member deactivated", ["member_ids"])
