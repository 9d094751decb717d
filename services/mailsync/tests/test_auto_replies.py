"""Automatic mail recognition (RFC 3834, RFC 3464, list headers, daemons) and the loop guard."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailsync.auto_replies import AUTOMATIC_MAILS_PER_SENDER_PER_HOUR, LoopGuard, automatic_mail_allowed, is_own_mail
from mailsync.parsing import parse


def mail(*headers: str, body: str = "Hello\n", sender: str = "From: Ann <ann@example.com>") -> bytes:
    return ("\n".join([sender, "Subject: Re: your ticket", *headers]) + "\n\n" + body).encode()


@pytest.mark.parametrize("header, kind", [
    ("Auto-Submitted: auto-replied", "auto_reply"),
    ("Auto-Submitted: auto-generated; owner-email=x@y", "auto_reply"),
    ("Auto-Submitted: AUTO-NOTIFIED", "auto_reply"),
    ("X-Autoreply: yes", "auto_reply"),
    ("X-Autorespond: vacation", "auto_reply"),
    ("X-Auto-Response-Suppress: All", "auto_reply"),
    ("Precedence: junk", "auto_reply"),
    ("Precedence: bulk", "list"),
    ("Precedence: list", "list"),
    ("List-Id: Team chat <team.lists.example.com>", "list"),
    ("X-Loop: support@example.com", "loop"),
])
def test_automatic_headers(header, kind):
    assert parse(mail(header)).automatic == kind


@pytest.mark.parametrize("header", ["Auto-Submitted: no", "Precedence: first-class", "X-Mailer: Outlook"])
def test_a_person_s_mail_is_not_automatic(header):
    assert parse(mail(header)).automatic is None


def test_mail_from_a_daemon_is_a_bounce_or_machine_mail():
    assert parse(mail(sender="From: MAILER-DAEMON@mx.example.com (Mail Delivery System)",
                      body="Undelivered Mail Returned to Sender")).automatic == "bounce"
    assert parse(mail(sender="From: postmaster@example.com")).automatic == "auto_reply"


def test_a_null_return_path_with_a_failure_subject_is_a_bounce():
    raw = b"Return-Path: <>\nFrom: Mail System <mail@example.com>\nSubject: Delivery Status Notification (Failure)\n\nx"
    assert parse(raw).automatic == "bounce"
    assert parse(b"Return-Path: <>\nFrom: a@example.com\nSubject: Hello\n\nx").automatic is None


DSN = """From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: support@ours.example
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Your message could not be delivered.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; gone@customer.example
Action: failed
Status: 5.1.1
--r
Content-Type: {returned}

{returned_body}
--r--
"""


@pytest.mark.parametrize("returned", ["message/rfc822", "text/rfc822-headers"])
def test_a_dsn_names_the_message_that_bounced(returned):
    body = "From: support@ours.example\nTo: gone@customer.example\nMessage-ID: <reply-42@ours.example>\nSubject: x\n"
    parsed = parse(DSN.format(returned=returned, returned_body=body).encode())
    assert parsed.automatic == "bounce"
    assert parsed.bounced_message_id == "reply-42@ours.example"
    assert parsed.text.startswith("Your message could not be delivered.")


def test_a_non_standard_bounce_quoting_the_headers_in_its_text():
    raw = mail(sender="From: MAILER-DAEMON@mail.example.net", body=(
        "Hi. This is the qmail-send program.\nI'm afraid I wasn't able to deliver your message.\n\n"
        "--- Below this line is a copy of the message.\n\nReturn-Path: <support@ours.example>\n"
        "Message-ID: <reply-7@ours.example>\nSubject: Re: ticket\n"))
    parsed = parse(raw)
    assert parsed.automatic == "bounce" and parsed.bounced_message_id == "reply-7@ours.example"


def test_a_bounce_without_the_original_id_names_none():
    parsed = parse(DSN.format(returned="message/rfc822", returned_body="").encode())
    assert parsed.automatic == "bounce" and parsed.bounced_message_id is None


def test_own_mail_coming_back_is_recognised_with_plus_addresses():
    assert is_own_mail("Support+T12@Example.com", ["support@example.com"])
    assert not is_own_mail("customer@example.com", ["support@example.com"])
    assert not is_own_mail(None, ["support@example.com"])


# --- loop guard ------------------------------------------------------------------------------------

def test_the_guard_caps_automatic_mails_per_recipient_per_hour():
    guard = LoopGuard(cap_per_hour=3)
    assert [guard.allows("ann@example.com", n) for n in range(5)] == [True, True, True, False, False]
    assert "cap" in guard.decide("ann@example.com", 3).reason


@pytest.mark.parametrize("recipient, kwargs, reason", [
    ("ann@example.com", {"incoming_automatic": "auto_reply"}, "automatic"),
    ("MAILER-DAEMON@example.com", {}, "daemon"),
    ("no-reply@shop.example", {}, "no-reply"),
    ("support+t1@ours.example", {"own_addresses": ["support@ours.example"]}, "our own"),
    ("", {}, "no recipient"),
])
def test_the_guard_never_answers_machines_or_ourselves(recipient, kwargs, reason):
    decision = LoopGuard().decide(recipient, 0, **kwargs)
    assert not decision.allowed and reason in decision.reason


@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 20))
def test_the_guard_is_monotonic_in_the_count(a, b, cap):
    low, high = sorted((a, b))
    allowed_high = automatic_mail_allowed("ann@example.com", high, cap_per_hour=cap)
    assert not allowed_high or automatic_mail_allowed("ann@example.com", low, cap_per_hour=cap)
    assert automatic_mail_allowed("ann@example.com", low, cap_per_hour=cap) == (low < cap)


def test_the_default_cap():
    assert AUTOMATIC_MAILS_PER_SENDER_PER_HOUR == LoopGuard().cap_per_hour > 0


# --- a support address that is itself a list (issue 8) ----------------------------------------------

def test_mail_through_a_list_of_ours_is_not_list_traffic():
    own = frozenset({"support@acme.example", "help@acme.example"})
    google_group = (b"From: Ada <ada@customer.test>\r\nTo: support@acme.example\r\nSubject: printer\r\n"
                    b"List-Id: <support.acme.example>\r\nPrecedence: list\r\n"
                    b"List-Post: <https://groups.google.com/a/acme.example/group/support/post>, "
                    b"<mailto:support@acme.example>\r\nMessage-ID: <g1@customer.test>\r\n\r\nIt is on fire.\r\n")
    mailman = (b"From: ada@customer.test\r\nTo: help@acme.example\r\nSubject: printer\r\n"
               b"List-Id: Help desk <help.acme.example>\r\nMessage-ID: <m1@customer.test>\r\n\r\nStill.\r\n")
    newsletter = (b"From: news@vendor.test\r\nTo: support@acme.example\r\nSubject: Our news\r\n"
                  b"List-Id: Vendor news <news.vendor.test>\r\nList-Post: <mailto:news@vendor.test>\r\n"
                  b"Precedence: bulk\r\nMessage-ID: <n1@vendor.test>\r\n\r\nNews.\r\n")
    for raw in (google_group, mailman):
        assert parse(raw, own_addresses=own).automatic is None
        assert parse(raw).automatic == "list"  # the mailbox's addresses unknown: list traffic, as before
    assert parse(newsletter, own_addresses=own).automatic == "list"  # somebody else's list still is
    # an auto-reply through our list is still an auto-reply
    auto = google_group.replace(b"Precedence: list\r\n", b"Auto-Submitted: auto-replied\r\n")
    assert parse(auto, own_addresses=own).automatic == "auto_reply"


def test_list_addresses_come_from_list_post_and_the_list_id():
    from email import message_from_bytes, policy

    from mailsync import auto_replies

    msg = message_from_bytes(b"List-Id: Support <support.lists.acme.example>\r\n"
                             b"List-Post: <mailto:support@lists.acme.example?subject=x>\r\n\r\n", policy=policy.default)
    assert auto_replies.list_addresses(msg) == ["support@lists.acme.example"]
    assert auto_replies.list_addresses(message_from_bytes(b"List-Id: nodots\r\n\r\n")) == []
