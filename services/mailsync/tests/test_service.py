"""mailsync against the real RabbitMQ and PostgreSQL: mailbox records, secrets encrypted at rest."""
import uuid
from datetime import datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from custops import db
from custops.errors import Conflict, InvalidInput, NotFound
from mailsync.models import mailboxes
from mailsync.secrets_box import SecretBox, SecretKeyError
from mailsync.service import MailsyncService

PASSWORD = "correct-horse-battery-staple"
SECRET_KEY = Fernet.generate_key()


@pytest.fixture
def mailsync(container_factory, nameko_config, monkeypatch):
    monkeypatch.setenv("CUSTOPS_SECRET_KEY", SECRET_KEY.decode())
    container = container_factory(MailsyncService, nameko_config)
    container.start()
    return container


def _payload(**overrides):
    return {"name": "Support", "email": f"support-{uuid.uuid4().hex[:8]}@example.com",
            "imap_host": "imap.example.com", "imap_port": 993, "smtp_host": "smtp.example.com",
            "smtp_port": 587, "username": "support", "password": PASSWORD, **overrides}


def _stored_ciphertext(mailbox_id) -> bytes:
    with db.engine_for("mailsync").connect() as conn:
        return conn.execute(select(mailboxes.c.password_encrypted)
                            .where(mailboxes.c.id == uuid.UUID(mailbox_id))).scalar_one()


def test_password_is_encrypted_at_rest_and_never_returned(mailsync, rpc, tenant_id):
    created = rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload())

    stored = _stored_ciphertext(created["id"])
    assert PASSWORD.encode() not in stored
    assert SecretBox([SECRET_KEY]).decrypt(stored) == PASSWORD  # encrypted with the configured key
    fetched = rpc.call("mailsync", "get_mailbox", str(tenant_id), created["id"])
    listed = rpc.call("mailsync", "list_mailboxes", str(tenant_id))["items"]
    for shape in (created, fetched, *listed):
        assert shape["has_password"] is True
        assert not {"password", "password_encrypted"} & set(shape)
        assert PASSWORD not in repr(shape)
    assert fetched == created


def test_update_reencrypts_a_new_password_and_keeps_an_omitted_one(mailsync, rpc, tenant_id):
    created = rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload())
    before = _stored_ciphertext(created["id"])

    updated = rpc.call("mailsync", "update_mailbox", str(tenant_id), created["id"],
                       {"smtp_port": 465, "smtp_starttls": False})
    assert (updated["smtp_port"], updated["smtp_starttls"]) == (465, False)
    assert _stored_ciphertext(created["id"]) == before

    rpc.call("mailsync", "update_mailbox", str(tenant_id), created["id"], {"password": "new-s3cret"})
    after = _stored_ciphertext(created["id"])
    assert b"new-s3cret" not in after
    assert SecretBox([SECRET_KEY]).decrypt(after) == "new-s3cret"
    fetched = rpc.call("mailsync", "get_mailbox", str(tenant_id), created["id"])
    assert fetched["smtp_port"] == 465 and "password" not in fetched
    assert datetime.fromisoformat(fetched["updated_at"]) > datetime.fromisoformat(created["updated_at"])


def test_duplicate_email_in_a_tenant_is_a_conflict(mailsync, rpc, tenant_id):
    first = rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload(email="help@acme.test"))
    with pytest.raises(Conflict):
        rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload(email="HELP@acme.test"))
    other = rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload(email="billing@acme.test"))
    with pytest.raises(Conflict):
        rpc.call("mailsync", "update_mailbox", str(tenant_id), other["id"], {"email": "help@acme.test"})
    # another tenant may use the same address
    rpc.call("mailsync", "create_mailbox", str(uuid.uuid4()), _payload(email="help@acme.test"))
    assert rpc.call("mailsync", "get_mailbox", str(tenant_id), first["id"])["email"] == "help@acme.test"


def test_invalid_settings_are_field_errors(mailsync, rpc, tenant_id):
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("mailsync", "create_mailbox", str(tenant_id),
                 _payload(imap_port=70000, smtp_host=" ", email="nope"))
    assert {e["field"] for e in exc_info.value.errors} == {"imap_port", "smtp_host", "email"}
    assert rpc.call("mailsync", "list_mailboxes", str(tenant_id))["items"] == []


def test_the_addresses_a_mailbox_receives_for_are_validated_and_belong_to_one_mailbox(mailsync, rpc, tenant_id):
    t = str(tenant_id)
    support = rpc.call("mailsync", "create_mailbox", t, _payload(
        email="support@acme.test", addresses=["Help@acme.test", "support+billing@acme.test", "help@acme.test"]))
    assert support["addresses"] == ["help@acme.test", "support+billing@acme.test"]  # lower-cased, each once
    with pytest.raises(InvalidInput) as exc_info:
        rpc.call("mailsync", "update_mailbox", t, support["id"], {"addresses": ["help@acme.test", "not an address"]})
    assert [e["field"] for e in exc_info.value.errors] == ["addresses.1"]
    with pytest.raises(InvalidInput):
        rpc.call("mailsync", "create_mailbox", t, _payload(addresses=[f"a{i}@acme.test" for i in range(51)]))
    # another mailbox of the tenant cannot receive for them, neither as an alias nor as its email
    with pytest.raises(Conflict) as exc_info:
        rpc.call("mailsync", "create_mailbox", t, _payload(email="sales@acme.test", addresses=["help@acme.test"]))
    assert exc_info.value.errors[0]["field"] == "addresses"
    with pytest.raises(Conflict):
        rpc.call("mailsync", "create_mailbox", t, _payload(email="help@acme.test"))
    sales = rpc.call("mailsync", "create_mailbox", t, _payload(email="sales@acme.test"))
    with pytest.raises(Conflict):
        rpc.call("mailsync", "update_mailbox", t, sales["id"], {"addresses": ["support+billing@acme.test"]})
    assert rpc.call("mailsync", "get_mailbox", t, sales["id"])["addresses"] == []
    # [] removes them; then they are free for the other mailbox
    assert rpc.call("mailsync", "update_mailbox", t, support["id"], {"addresses": []})["addresses"] == []
    moved = rpc.call("mailsync", "update_mailbox", t, sales["id"], {"addresses": ["help@acme.test"]})
    assert moved["addresses"] == ["help@acme.test"]
    # another tenant may use them
    rpc.call("mailsync", "create_mailbox", str(uuid.uuid4()), _payload(addresses=["help@acme.test"]))


def test_tenants_cannot_see_or_change_each_others_mailboxes(mailsync, rpc, tenant_id):
    created = rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload())
    intruder = str(uuid.uuid4())

    with pytest.raises(NotFound):
        rpc.call("mailsync", "get_mailbox", intruder, created["id"])
    with pytest.raises(NotFound):
        rpc.call("mailsync", "update_mailbox", intruder, created["id"], {"enabled": False})
    with pytest.raises(NotFound):
        rpc.call("mailsync", "delete_mailbox", intruder, created["id"])
    assert rpc.call("mailsync", "list_mailboxes", intruder)["items"] == []
    assert rpc.call("mailsync", "get_mailbox", str(tenant_id), created["id"])["enabled"] is True


def test_list_filters_and_paginates_then_delete_removes(mailsync, rpc, tenant_id):
    ids = [rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload(enabled=i != 1))["id"]
           for i in range(3)]

    first = rpc.call("mailsync", "list_mailboxes", str(tenant_id), {}, 2)
    second = rpc.call("mailsync", "list_mailboxes", str(tenant_id), {}, 2, first["next_cursor"])
    assert [m["id"] for m in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    disabled = rpc.call("mailsync", "list_mailboxes", str(tenant_id), {"enabled": False})["items"]
    assert [m["id"] for m in disabled] == [ids[1]]

    assert rpc.call("mailsync", "delete_mailbox", str(tenant_id), ids[0]) == {"id": ids[0], "deleted": True}
    with pytest.raises(NotFound):
        rpc.call("mailsync", "get_mailbox", str(tenant_id), ids[0])
    with pytest.raises(NotFound):
        rpc.call("mailsync", "delete_mailbox", str(tenant_id), ids[0])


def test_production_without_a_key_does_not_start(container_factory, nameko_config, monkeypatch):
    monkeypatch.delenv("CUSTOPS_SECRET_KEY", raising=False)
    monkeypatch.setenv("CUSTOPS_ENV", "production")
    container = container_factory(MailsyncService, nameko_config)
    with pytest.raises(SecretKeyError):
        container.start()


def _told(tenant_id) -> list[dict]:
    from custops import outbox

    table = outbox._TABLE
    with db.engine_for("mailsync").connect() as conn:
        return list(conn.execute(select(table.c.envelope).where(table.c.tenant_id == tenant_id)
                                 .order_by(table.c.seq)).scalars())


def test_each_change_tells_its_event_naming_fields_never_secrets(mailsync, rpc, tenant_id):
    created = rpc.call("mailsync", "create_mailbox", str(tenant_id), _payload())
    rpc.call("mailsync", "update_mailbox", str(tenant_id), created["id"], {"smtp_port": 465, "password": "n3w-s3cret"})
    rpc.call("mailsync", "update_mailbox", str(tenant_id), created["id"], {})  # nothing changed: nothing told
    rpc.call("mailsync", "delete_mailbox", str(tenant_id), created["id"])
    told = _told(tenant_id)
    assert [e["type"] for e in told] == ["mailbox.created", "mailbox.updated", "mailbox.deleted"]
    assert {e["data"]["mailbox_id"] for e in told} == {created["id"]}
    assert told[1]["data"]["changed_fields"] == ["password", "smtp_port"]
    for secret in (PASSWORD, "n3w-s3cret", "password_encrypted", "imap.example.com"):
        assert secret not in repr(told), secret
