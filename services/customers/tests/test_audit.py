"""The audit record of an event: its target and its digest (pure rules, `customers.audit`)."""
import json
import uuid

import pytest

from custops.catalog import published_contracts
from custops.validation import parse
from custops.errors import InvalidInput
from customers import audit
from customers.audit import AuditFilters
from customers.audit_service import AUDITED_PRODUCERS


def test_every_producer_of_an_event_is_audited():
    assert set(AUDITED_PRODUCERS) == {c.PRODUCER for c in published_contracts()}


def test_the_target_is_the_kind_the_type_names_and_its_id():
    ticket = str(uuid.uuid4())
    assert audit.target_of("ticket.updated", {"ticket_id": ticket, "customer_id": "c"}) == audit.Target("ticket",
                                                                                                         ticket)
    assert audit.target_of("time.logged", {"entry_id": "e1"}) == audit.Target("time_entry", "e1")
    assert audit.target_of("interaction.logged", {"activity_id": "a1"}) == audit.Target("activity", "a1")
    assert audit.target_of("member.role_changed", {"member_id": "m1"}) == audit.Target("member", "m1")
    assert audit.target_of("thing.happened", {}) == audit.Target("thing", None)


def test_changes_with_previous_and_old_new_pairs_become_before_and_after():
    assert audit.digest("ticket.updated", {"ticket_id": "t", "changes": {"priority": "high", "tags": ["a"]},
                                           "previous": {"priority": "low", "tags": []}}) == {
        "priority": {"before": "low", "after": "high"}, "tags": {"before": [], "after": ["a"]}}
    assert audit.digest("time.updated", {"entry_id": "e", "minutes": 30,
                                         "changes": {"minutes": {"old": 15, "new": 30}}}) == {
        "minutes": {"before": 15, "after": 30}}
    assert audit.digest("member.role_changed", {"member_id": "m", "previous_role": "member", "role": "admin"}) == {
        "role": {"before": "member", "after": "admin"}}
    assert audit.digest("ticket.status_changed", {"old_status": "new", "new_status": "open"}) == {
        "status": {"before": "new", "after": "open"}}
    # nothing says what changed (a creation): what it is now
    assert audit.digest("contact.created", {"contact_id": "c", "name": "Ann"}) == {
        "contact_id": {"before": None, "after": "c"}, "name": {"before": None, "after": "Ann"}}


def test_secrets_never_reach_the_digest_at_any_depth():
    data = {"token_id": "t1", "name": "ci", "token": "cst_live_secret", "token_hash": "ab" * 32,
            "smtp_password": "hunter2", "settings": {"imap_password": "hunter3", "host": "mail.example",
                                                       "nested": [{"client_secret": "s3"}]},
            "changes": {"password": "new-one", "name": "ci2"}, "previous": {"password": "old-one", "name": "ci"}}
    found = audit.digest("token.created", data)
    text = json.dumps(found)
    for secret in ("cst_live_secret", "ab" * 32, "hunter2", "hunter3", "s3", "new-one", "old-one"):
        assert secret not in text, secret
    assert found == {"name": {"before": "ci", "after": "ci2"}}
    created = audit.digest("token.created", {k: v for k, v in data.items() if k not in ("changes", "previous")})
    assert "token" not in created and "token_hash" not in created and "smtp_password" not in created
    assert created["settings"]["after"] == {"host": "mail.example", "nested": [{}]}
    assert audit.is_secret("API_KEY") and audit.is_secret("password_hash") and not audit.is_secret("token_id")


def test_mailbox_events_record_no_payload_and_long_text_is_cut():
    assert audit.digest("mailbox.updated", {"mailbox_id": "m", "host": "imap.example", "username": "u"}) == {}
    assert audit.digest("mail.received", {"message_id": "x", "body": "hello"}) == {}
    body = audit.digest("ticket.replied", {"body": "x" * 5000})["body"]["after"]
    assert len(body) == audit.MAX_TEXT + 1 and body.endswith("…")


def test_filters_are_validated():
    f = parse(AuditFilters, {"actor_type": "member", "from": "2026-01-01T00:00:00Z", "action": "ticket."})
    assert f.from_.year == 2026 and f.action == "ticket."
    for bad in ({"actor_type": "robot"}, {"actor_id": "nope"}, {"from": "2026-01-01"}, {"to": 0.5}, {"colour": "red"},
                {"action": ""}):
        with pytest.raises(InvalidInput):
            parse(AuditFilters, bad)
