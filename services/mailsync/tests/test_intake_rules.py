"""Intake's pure rules: batching fetched messages, matching answers, the event payload, failure reasons."""
import socket
import ssl
import uuid
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st
from imapclient.exceptions import LoginError

from mailsync import intake
from mailsync.imap_sync import batches, problem_of
from mailsync.parsing import parse
from mailsync.secrets_box import UnreadableSecret

OWN = frozenset({"support@ops.test"})


@given(st.dictionaries(st.integers(1, 10_000), st.integers(0, 5_000), max_size=60),
       st.integers(1, 10), st.integers(1, 8_000))
def test_batches_keep_uid_order_and_their_bounds(sizes, max_count, max_bytes):
    grouped = batches(sizes, max_count, max_bytes)
    assert [uid for batch in grouped for uid in batch] == sorted(sizes)
    for batch in grouped:
        assert len(batch) <= max_count
        # over the byte bound only a message alone (a message larger than the bound is never split)
        assert len(batch) == 1 or sum(sizes[u] for u in batch) <= max_bytes


def test_a_domain_match_makes_a_new_contact_and_a_contact_match_keeps_it():
    customer, contact, fresh = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert intake.match_from(None, fresh) is None
    assert intake.match_from({"customer_id": None}, fresh) is None
    assert intake.match_from({"customer_id": str(customer), "contact_id": None}, fresh) == intake.Match(
        customer, fresh, True)
    assert intake.match_from({"customer_id": str(customer), "contact_id": str(contact)}, fresh) == intake.Match(
        customer, contact, False)
    assert intake.status_for(None) == "unassigned"
    assert intake.status_for(intake.Match(customer, contact, False)) == "imported"


def test_plus_addresses_are_ours():
    assert intake.base_address("Support+T1234@Ops.Test") == "support@ops.test"
    assert intake.is_ours("support+t1@ops.test", OWN) and not intake.is_ours("sales@ops.test", OWN)


RAW = (b"From: Ada <ada@acme.test>\r\nTo: Support <support+t42@ops.test>, bob@acme.test\r\n"
       b"Cc: support@ops.test\r\nSubject: Re: printer\r\nMessage-ID: <m1@acme.test>\r\n"
       b"In-Reply-To: <ours@ops.test>\r\nReferences: <a@x> <ours@ops.test>\r\n\r\nStill broken.\r\n")


def test_the_payload_names_us_the_participants_and_never_the_customer_twice():
    parsed = parse(RAW)
    received = intake.received_payload(parsed, intake.senders_of(parsed, OWN), mail_id=uuid.uuid4(),
                                       mailbox_id=uuid.uuid4(), own=OWN, received_at=datetime.now(timezone.utc),
                                       raw_sha256="0" * 64, attachments=[])
    assert received["sender"] == {"email": "ada@acme.test", "name": "Ada"}
    assert received["delivered_to"] == ["support+t42@ops.test", "support@ops.test"]
    assert [p["email"] for p in received["participants"]] == ["bob@acme.test"]
    assert received["references"] == ["a@x", "ours@ops.test"] and received["in_reply_to"] == ["ours@ops.test"]
    event = intake.told(received, intake.Match(uuid.uuid4(), uuid.uuid4(), True))
    assert event.text.startswith("Still broken") and event.contact_is_new


def test_failure_reasons_name_what_failed():
    assert problem_of(socket.gaierror(-2, "Name or service not known"), "x.invalid").kind == "dns"
    assert problem_of(ConnectionRefusedError(111, "refused"), "h", 1).kind == "connect"
    assert problem_of(socket.timeout("timed out"), "h", 1).kind == "connect"
    assert problem_of(ssl.SSLError(1, "wrong version number")).kind == "tls"
    login = problem_of(LoginError("[AUTHENTICATIONFAILED] Authentication failed. password=hunter2"))
    assert login.kind == "auth" and "hunter2" not in login.message
    assert problem_of(UnreadableSecret("x")).kind == "secret"


def test_the_audit_log_keeps_no_mail_content():
    """The customers audit intake takes every mailsync event; a mail's content never lands there."""
    from customers import audit

    parsed = parse(RAW)
    received = intake.received_payload(parsed, intake.senders_of(parsed, OWN), mail_id=uuid.uuid4(),
                                       mailbox_id=uuid.uuid4(), own=OWN, received_at=datetime.now(timezone.utc),
                                       raw_sha256="0" * 64, attachments=[])
    data = intake.told(received, intake.Match(uuid.uuid4(), uuid.uuid4(), True)).model_dump(mode="json")
    assert audit.digest("mail.received", data) == {} and audit.digest("mail.assigned", data) == {}
