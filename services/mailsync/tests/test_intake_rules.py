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


# --- the addresses a mailbox receives for (issue 8) ----------------------------------------------------

SUPPORT, BILLING, SALES = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
TENANT_MAILBOXES = [
    {"id": SUPPORT, "email": "support@ops.test", "username": "support-login", "addresses": ["help@ops.test"]},
    {"id": BILLING, "email": "billing@ops.test", "username": "billing@ops.test",
     "addresses": ["support+billing@ops.test", "invoices@ops-mail.test"]},
    {"id": SALES, "email": "all@ops.test", "username": "all@ops.test", "addresses": []},  # a catch-all
]


def _mail(headers: str, body: str = "Hello.") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\nMessage-ID: <x@acme.test>\r\n\r\n" + body + "\r\n").encode()


def _received(raw: bytes, ours: intake.OurAddresses) -> dict:
    parsed = parse(raw, own_addresses=ours.own)
    return intake.received_payload(parsed, intake.senders_of(parsed, ours.own), mail_id=uuid.uuid4(),
                                   mailbox_id=ours.route(parsed), own=ours.own,
                                   received_at=datetime.now(timezone.utc), raw_sha256="0" * 64, attachments=[])


def test_recipients_that_are_any_of_our_addresses_are_never_participants():
    ours = intake.OurAddresses.of(SUPPORT, TENANT_MAILBOXES)
    received = _received(_mail("From: Ada <ada@acme.test>\nTo: help@ops.test, bob@acme.test\n"
                               "Cc: Invoices <invoices@ops-mail.test>, support+billing@ops.test, carol@acme.test"),
                         ours)
    assert [p["email"] for p in received["participants"]] == ["bob@acme.test", "carol@acme.test"]
    assert received["delivered_to"] == ["help@ops.test", "invoices@ops-mail.test", "support+billing@ops.test"]
    assert received["mailbox_id"] == str(SUPPORT)  # it names one of ours: it stays
    assert received["automatic"] is None
    # without the aliases known, an alias at another domain would have been copied on every reply
    bare = intake.OurAddresses.of(SUPPORT, [{**TENANT_MAILBOXES[0], "addresses": []}])
    leaked = _received(_mail("From: ada@acme.test\nTo: help@ops.test\nCc: invoices@ops-mail.test"), bare)
    assert [p["email"] for p in leaked["participants"]] == ["invoices@ops-mail.test"]


def test_our_own_mail_come_back_is_a_loop_with_no_customer():
    ours = intake.OurAddresses.of(SUPPORT, TENANT_MAILBOXES)
    for sender in ("help@ops.test", "Support <support+t12@ops.test>", "invoices@ops-mail.test"):
        parsed = parse(_mail(f"From: {sender}\nTo: ada@acme.test\nSubject: Re: [#T-12] printer"),
                       own_addresses=ours.own)
        senders = intake.senders_of(parsed, ours.own)
        assert senders.customer is None and senders.via == "own", sender
        assert _received(_mail(f"From: {sender}\nTo: ada@acme.test"), ours)["automatic"] == "loop"
    # a customer's mail is not
    assert _received(_mail("From: ada@acme.test\nTo: support@ops.test"), ours)["automatic"] is None


def test_mail_at_a_shared_catch_all_is_routed_to_the_mailbox_it_was_for():
    catch_all = intake.OurAddresses.of(SALES, TENANT_MAILBOXES)
    cases = [
        ("To: billing@ops.test", BILLING),
        ("To: Help <help@ops.test>", SUPPORT),  # an alias
        ("To: support+billing@ops.test", BILLING),  # an exact plus-address beats its base (support@)
        ("To: support+t1234@ops.test", SUPPORT),  # a plus-address reply of support@
        ("Delivered-To: all@ops.test\nX-Original-To: invoices@ops-mail.test\nTo: Ada's team <team@acme.test>",
         BILLING),  # the envelope recipient: the server delivered it to the catch-all
        ("Delivered-To: billing@ops.test\nTo: undisclosed-recipients:;", BILLING),  # a Bcc
        ("Delivered-To: all@ops.test\nTo: all@ops.test, billing@ops.test", SALES),  # named for the catch-all too
        ("Delivered-To: all@ops.test\nTo: nobody-we-know@ops.test", SALES),  # for nobody known: stays
    ]
    for headers, expected in cases:
        received = _received(_mail(f"From: ada@acme.test\n{headers}"), catch_all)
        assert received["mailbox_id"] == str(expected), headers
    # billing's own account keeps mail that names it, even when support@ is named first
    billing = intake.OurAddresses.of(BILLING, TENANT_MAILBOXES)
    assert _received(_mail("From: ada@acme.test\nTo: support@ops.test\nCc: billing@ops.test"),
                     billing)["mailbox_id"] == str(BILLING)


def test_a_login_that_is_an_address_is_ours_and_a_plain_login_is_not_an_address():
    ours = intake.OurAddresses.of(SUPPORT, TENANT_MAILBOXES)
    assert ours.mailbox_of("all@ops.test") == SALES and ours.mailbox_of("support-login") is None
    assert ours.mailbox_of("SUPPORT+X@OPS.TEST") == SUPPORT and ours.mailbox_of("sales@ops.test") is None
    assert {"support@ops.test", "help@ops.test", "billing@ops.test", "invoices@ops-mail.test"} <= ours.own
