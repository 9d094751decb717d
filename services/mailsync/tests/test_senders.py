"""Who a mail is from as a user expects: Reply-To relays, forwarded mail, participants."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailsync.parsing import parse
from mailsync.senders import forwarded_original, resolve_senders

OURS = ["support@ours.example", "help@ours.example"]


def mail(*headers: str, body: str = "Hello\n") -> bytes:
    return ("\n".join(headers) + "\n\n" + body).encode()


def test_the_author_is_the_customer_by_default():
    result = resolve_senders(parse(mail("From: Ann <ann@cust.example>", "To: support@ours.example")), OURS)
    assert result.customer.email == "ann@cust.example" and result.via == "from" and result.participants == []


def test_reply_to_wins_for_a_no_reply_relay():
    result = resolve_senders(parse(mail("From: Shop <no-reply@shop.example>", "Reply-To: Jane <jane@gmail.example>",
                                        "To: support@ours.example")), OURS)
    assert result.customer.email == "jane@gmail.example" and result.via == "reply_to"


def test_reply_to_wins_for_a_form_sent_via_a_relay():
    result = resolve_senders(parse(mail('From: "Jane via Contact Form" <relay@forms.example>',
                                        "Reply-To: jane@cust.example")), OURS)
    assert result.customer.email == "jane@cust.example" and result.via == "reply_to"


def test_reply_to_of_the_same_organisation_wins_and_the_author_takes_part():
    result = resolve_senders(parse(mail("From: Assistant <assistant@cust.example>",
                                        "Reply-To: Boss <boss@cust.example>", "To: support@ours.example")), OURS)
    assert result.customer.email == "boss@cust.example"
    assert [a.email for a in result.participants] == ["assistant@cust.example"]


def test_a_list_reply_to_does_not_replace_a_person():
    result = resolve_senders(parse(mail("From: Ann <ann@cust.example>", "Reply-To: team-list@lists.example")), OURS)
    assert result.customer.email == "ann@cust.example" and result.via == "from"


def test_a_reply_to_our_own_mailbox_is_ignored():
    result = resolve_senders(parse(mail("From: no-reply@shop.example", "Reply-To: support+t12@ours.example")), OURS)
    assert result.customer.email == "no-reply@shop.example" and result.via == "from"


def test_a_colleague_forwarding_a_customer_mail_inline():
    body = ("Please look at this one.\n\n---------- Forwarded message ---------\n"
            "From: Jane Doe <Jane@Cust.example>\nDate: Mon, 1 Jan 2024\nSubject: Broken login\n"
            "To: bob@ours.example\nCc: Carl <carl@cust.example>, bob@ours.example\n\nI cannot log in.\n")
    result = resolve_senders(parse(mail("From: Bob <bob@ours.example>", "To: support@ours.example",
                                        "Subject: Fwd: Broken login", body=body)), OURS)
    assert result.customer.email == "jane@cust.example" and result.via == "forwarded"
    assert result.forwarded_by.email == "bob@ours.example"
    assert [a.email for a in result.participants] == ["carl@cust.example"]


def test_an_outlook_forward_with_mailto():
    body = ("FYI\n\n-----Original Message-----\nFrom: Jane Doe [mailto:jane@cust.example]\n"
            "Sent: Monday, January 1, 2024 10:00 AM\nTo: bob@ours.example\nSubject: Invoice\n\nWrong amount.\n")
    result = resolve_senders(parse(mail("From: bob@ours.example", "Subject: FW: Invoice", body=body)), OURS)
    assert result.customer.email == "jane@cust.example" and result.customer.name == "Jane Doe"


def test_a_colleague_s_reply_quoting_the_customer_is_no_forward():
    body = ("We are on it.\n\n-----Original Message-----\nFrom: Jane Doe [mailto:jane@cust.example]\n"
            "Subject: Invoice\n\nWrong amount.\n")
    result = resolve_senders(parse(mail("From: bob@ours.example", "Subject: RE: Invoice", body=body)), OURS)
    assert result.customer.email == "bob@ours.example" and result.via == "from"


def test_a_forward_as_an_attached_message():
    inner = "From: Jane <jane@cust.example>\nCc: carl@cust.example\nSubject: help\n\nhelp me\n"
    body = f"--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: message/rfc822\n\n{inner}\n--b--\n"
    raw = mail("From: bob@ours.example", "Subject: Fwd: help", 'Content-Type: multipart/mixed; boundary="b"',
               body=body)
    parsed = parse(raw)
    assert forwarded_original(parsed)[0].email == "jane@cust.example"
    result = resolve_senders(parsed, OURS)
    assert result.customer.email == "jane@cust.example"
    assert [a.email for a in result.participants] == ["carl@cust.example"]


def test_a_customer_forwarding_someone_else_s_mail_stays_the_customer():
    body = "---------- Forwarded message ---------\nFrom: vendor@third.example\n\nquote\n"
    result = resolve_senders(parse(mail("From: ann@cust.example", "Subject: Fwd: x", body=body)), OURS)
    assert result.customer.email == "ann@cust.example" and result.via == "from"


def test_our_own_mail_has_no_customer():
    result = resolve_senders(parse(mail("From: Support <support+t1@ours.example>", "To: ann@cust.example")), OURS)
    assert result.customer is None and result.via == "own"
    assert [a.email for a in result.participants] == ["ann@cust.example"]


def test_participants_are_the_copied_people_who_are_not_us():
    raw = mail("From: Ann <ann@cust.example>", "To: support@ours.example, Carl <carl@cust.example>",
               "Cc: help@ours.example, Ann <ann@cust.example>, dora@partner.example, bob@ours.example, "
               "no-reply@x.example, Carl <carl@cust.example>")
    result = resolve_senders(parse(raw), OURS)
    assert [a.email for a in result.participants] == ["carl@cust.example", "dora@partner.example"]


def test_team_domains_can_be_given():
    raw = mail("From: ann@cust.example", "Cc: bob@ours-team.example, carl@cust.example")
    result = resolve_senders(parse(raw), OURS, team_domains=["ours.example", "ours-team.example"])
    assert [a.email for a in result.participants] == ["carl@cust.example"]


emails = st.builds(lambda local, domain: f"{local}@{domain}", st.sampled_from(["ann", "bob", "carl", "support"]),
                   st.sampled_from(["cust.example", "ours.example", "other.example"]))


@given(emails, st.lists(emails, max_size=5), st.lists(emails, max_size=5))
def test_the_customer_is_never_a_participant_and_we_never_are(sender, to, cc):
    raw = mail(f"From: {sender}", f"To: {', '.join(to) or 'support@ours.example'}", f"Cc: {', '.join(cc)}")
    result = resolve_senders(parse(raw), OURS)
    emails_ = [a.email for a in result.participants]
    assert len(emails_) == len(set(emails_))
    assert all(not e.endswith("@ours.example") for e in emails_)
    assert result.customer is None or result.customer.email not in emails_
