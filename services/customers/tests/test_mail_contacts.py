"""Contacts made from mail in the real customers service (real RabbitMQ and PostgreSQL): a new
sender at a customer's domain becomes a contact with exactly the id mailsync gave it, once, with
its `contact.created` event and audit record; nothing else a mail says creates or breaks anything.
The events are published as mailsync's relay would."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from custops import db, outbox
from custops.contracts.mailsync import MailAddress, MailReceived
from custops.events import Envelope, envelope_for
from custops.testing import publish_and_wait
from customers.audit_store import audit_log
from customers.mail_contacts import contact_name
from customers.models import contacts


@pytest.fixture
def customer(new_tenant, rpc):
    tenant_id = new_tenant()["tenant_id"]
    domain = f"{uuid.uuid4().hex[:12]}.example"
    customer_id = rpc.call("customers", "create_customer", tenant_id,
                           {"name": "Acme", "tier": "smb", "domains": [domain]})["id"]
    return {"tenant_id": tenant_id, "customer_id": customer_id, "domain": domain}


def mail_received(customer, email, *, name="Jane Doe", contact_id=None, contact_is_new=True, customer_id=None):
    data = MailReceived(
        mail_id=uuid.uuid4(), mailbox_id=uuid.uuid4(), internet_message_id=f"{uuid.uuid4().hex}@mail.example",
        sender=MailAddress(email=email, name=name), subject="Help", received_at=datetime.now(timezone.utc),
        text="Hello", customer_id=uuid.UUID(customer_id or customer["customer_id"]),
        contact_id=contact_id or uuid.uuid4(), contact_is_new=contact_is_new, raw_sha256="0" * 64)
    return envelope_for(data, uuid.UUID(customer["tenant_id"]))


def _contacts(tenant_id) -> list[dict]:
    with db.engine_for("customers").connect() as conn:
        return [dict(r) for r in conn.execute(select(contacts).where(
            contacts.c.tenant_id == uuid.UUID(str(tenant_id)))).mappings()]


def _outbox(tenant_id, event_type) -> list[dict]:
    table = outbox._TABLE
    with db.engine_for("customers").connect() as conn:
        rows = conn.execute(select(table.c.seq, table.c.envelope).where(
            table.c.tenant_id == uuid.UUID(str(tenant_id))).order_by(table.c.seq)).all()
    return [e for e in (outbox.published_form(seq, env) for seq, env in rows) if e["type"] == event_type]


def test_a_new_sender_becomes_a_contact_with_the_given_id_once(customers_service, rpc, customer):
    envelope = mail_received(customer, f"jane@{customer['domain']}")
    contact_id = envelope.payload().contact_id

    publish_and_wait(customers_service, "on_mail_received", envelope)
    publish_and_wait(customers_service, "on_mail_received", envelope)  # a redelivery

    listed = rpc.call("customers", "list_contacts", customer["tenant_id"], customer["customer_id"])
    assert [(c["id"], c["email"], c["name"]) for c in listed["items"]] == [
        (str(contact_id), f"jane@{customer['domain']}", "Jane Doe")]
    created = _outbox(customer["tenant_id"], "contact.created")
    assert [e["data"]["contact_id"] for e in created] == [str(contact_id)]
    assert rpc.call("customers", "match_sender", customer["tenant_id"], f"Jane@{customer['domain']}") == {
        "customer_id": customer["customer_id"], "contact_id": str(contact_id)}

    # the audit log files the event as it files every contact.created
    publish_and_wait(customers_service, "audit_customers_events", Envelope.model_validate(created[0]))
    with db.engine_for("customers").connect() as conn:
        audited = conn.execute(select(audit_log.c.action, audit_log.c.target_id, audit_log.c.actor_type).where(
            audit_log.c.id == uuid.UUID(created[0]["id"]))).all()
    assert [tuple(r) for r in audited] == [("contact.created", str(contact_id), "system")]


def test_a_second_mail_of_the_same_new_sender_creates_nothing_more(customers_service, customer):
    email = f"max@{customer['domain']}"
    first, second = mail_received(customer, email), mail_received(customer, email, name="Max M.")

    publish_and_wait(customers_service, "on_mail_received", first)
    publish_and_wait(customers_service, "on_mail_received", second)

    stored = _contacts(customer["tenant_id"])
    assert [(c["id"], c["email"]) for c in stored] == [(first.payload().contact_id, email)]
    assert len(_outbox(customer["tenant_id"], "contact.created")) == 1


def test_what_a_mail_says_never_creates_a_wrong_contact_nor_dead_letters(customers_service, rpc, customer,
                                                                          new_tenant):
    other = new_tenant()["tenant_id"]
    foreign = rpc.call("customers", "create_customer", other, {"name": "Elsewhere", "tier": "smb"})["id"]
    cases = {
        "a known sender": mail_received(customer, f"known@{customer['domain']}", contact_is_new=False),
        "an invalid address": mail_received(customer, "not an address"),
        "another tenant's customer": mail_received(customer, "x@elsewhere.example", customer_id=foreign),
    }
    for envelope in cases.values():
        publish_and_wait(customers_service, "on_mail_received", envelope)  # handled, without an error

    assert _contacts(customer["tenant_id"]) == [] and _contacts(other) == []
    assert _outbox(customer["tenant_id"], "contact.created") == []


def test_the_name_is_the_display_name_else_the_local_part():
    assert contact_name("  Jane   Doe ", "jane@x.example") == "Jane Doe"
    assert contact_name("", "jane.doe@x.example") == "jane.doe"
    assert len(contact_name("x" * 500, "a@b.example")) == 200
