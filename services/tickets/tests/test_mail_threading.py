"""The threading rules (tickets.mail_threading), pure: the cases of issue 8 and properties over
generated subjects, headers and senders."""
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from tickets import mail_threading as mt
from tickets.mail_threading import Evidence, KnownMessage, Mail, Thread, Ticket

ACME, GLOBEX = uuid.uuid4(), uuid.uuid4()
ALICE, BOB = uuid.uuid4(), uuid.uuid4()  # contacts of Acme
OUR_REPLY = "6f1c2a44-0d0e-4a4e-9a53-1c9a7d0b3f10@support.example"
FIRST_MAIL = "CAF=first@mail.acme.example"


def _ticket(status="open", number=1234, customer=ACME, contact=ALICE, participants=()):
    return Ticket(id=uuid.uuid5(uuid.NAMESPACE_OID, str(number)), number=number, status=status, customer_id=customer,
                  contact_id=contact, participants=frozenset(participants))


def _mail(subject="Re: printer", sender="alice@acme.example", customer=ACME, contact=ALICE, **kw):
    return Mail(internet_message_id=kw.pop("internet_message_id", f"{uuid.uuid4()}@mail.acme.example"),
                subject=subject, sender_email=sender, customer_id=customer, contact_id=contact, **kw)


def _thread_of(ticket, *ids):
    return Evidence(messages=tuple(KnownMessage(i, ticket.id, "reply" if "support" in i else "inbound")
                                   for i in ids), tickets=(ticket,))


# --- the cases ---

def test_an_outlook_reply_without_references_threads_by_in_reply_to():
    ticket = _ticket()
    decision = mt.decide(_mail(in_reply_to=(OUR_REPLY,)), _thread_of(ticket, OUR_REPLY))
    assert (decision.action, decision.reason, decision.ticket_id) == ("append", "in_reply_to", ticket.id)
    assert OUR_REPLY in decision.note


def test_an_outlook_reply_with_neither_header_threads_by_the_subject_token_from_the_customer():
    ticket = _ticket()
    decision = mt.decide(_mail(subject="AW: [#T-1234] printer"), Evidence(tickets=(ticket,)))
    assert (decision.action, decision.reason, decision.ticket_id) == ("append", "subject_token", ticket.id)


def test_a_reply_that_keeps_only_the_threads_first_message_id_threads():
    ticket = _ticket()
    mail = _mail(in_reply_to=("lost@elsewhere.example",), references=(FIRST_MAIL,))
    decision = mt.decide(mail, _thread_of(ticket, FIRST_MAIL))
    assert (decision.reason, decision.ticket_id) == ("references", ticket.id)
    assert "position 1 of 1" in decision.note


def test_an_id_in_the_middle_of_references_threads_and_the_nearest_ancestor_wins():
    old, new = _ticket(number=1), _ticket(number=2)
    mail = _mail(references=("a@x", FIRST_MAIL, "b@x", OUR_REPLY, "c@x"))
    evidence = Evidence(messages=(KnownMessage(FIRST_MAIL, old.id, "inbound"),
                                  KnownMessage(OUR_REPLY, new.id, "reply")), tickets=(old, new))
    assert mt.decide(mail, evidence).ticket_id == new.id


def test_in_reply_to_wins_over_references():
    a, b = _ticket(number=1), _ticket(number=2)
    mail = _mail(in_reply_to=(OUR_REPLY,), references=(FIRST_MAIL,))
    evidence = Evidence(messages=(KnownMessage(OUR_REPLY, a.id, "reply"), KnownMessage(FIRST_MAIL, b.id, "inbound")),
                        tickets=(a, b))
    assert mt.decide(mail, evidence).ticket_id == a.id


def test_a_rewritten_message_id_falls_back_to_the_subject_token():
    # the customer's mail system replaced our reply's id: their answer names one we never sent
    ticket = _ticket()
    mail = _mail(subject="RE: [#T-1234] printer", in_reply_to=("AM0PR01MB@eurprd01.prod.outlook.com",))
    decision = mt.decide(mail, Evidence(tickets=(ticket,)))
    assert (decision.reason, decision.ticket_id) == ("subject_token", ticket.id)


def test_a_forwarded_thread_from_a_colleague_threads_by_its_token_one_from_another_customer_does_not():
    ticket = _ticket()
    colleague = _mail(subject="WG: Fwd: [#T-1234] printer", sender="bob@acme.example", contact=BOB)
    assert mt.decide(colleague, Evidence(tickets=(ticket,))).ticket_id == ticket.id
    outsider = _mail(subject="Fwd: [#T-1234] printer", sender="eve@globex.example", customer=GLOBEX, contact=None)
    decision = mt.decide(outsider, Evidence(tickets=(ticket,)))
    assert (decision.action, decision.ticket_id) == ("new_ticket", None)
    assert "T-1234" in decision.note and "not the ticket's customer" in decision.note


def test_a_colleagues_reply_all_threads_by_headers_and_they_are_not_the_customer():
    ticket = _ticket()
    mail = _mail(sender="carol@partner.example", customer=GLOBEX, contact=None, references=(FIRST_MAIL, OUR_REPLY))
    decision = mt.decide(mail, _thread_of(ticket, FIRST_MAIL, OUR_REPLY))
    assert (decision.action, decision.reason, decision.ticket_id) == ("append", "references", ticket.id)


def test_a_known_participant_may_use_the_token():
    ticket = _ticket(participants={"carol@partner.example"})
    mail = _mail(subject="[#T-1234]", sender="Carol@Partner.example", customer=GLOBEX, contact=None)
    decision = mt.decide(mail, Evidence(tickets=(ticket,)))
    assert decision.ticket_id == ticket.id and "participant" in decision.note


def test_mailing_list_traffic_is_attached_as_automatic_and_never_opens_a_ticket():
    ticket = _ticket(status="resolved")
    listed = _mail(automatic="list", references=(OUR_REPLY,))
    decision = mt.decide(listed, _thread_of(ticket, OUR_REPLY))
    assert (decision.action, decision.automatic, decision.ticket_id) == ("attach_automatic", "list", ticket.id)
    unmatched = mt.decide(_mail(automatic="list", subject="[announce] release 2.0"), Evidence())
    assert (unmatched.action, unmatched.reason) == ("ignore", "automatic_unmatched")


def test_a_bounce_threads_to_the_reply_that_bounced():
    ticket = _ticket(status="closed")
    bounce = _mail(automatic="bounce", sender="mailer-daemon@mx.acme.example", subject="Undelivered Mail",
                   bounced_message_id=OUR_REPLY)
    decision = mt.decide(bounce, _thread_of(ticket, OUR_REPLY))
    assert (decision.action, decision.reason, decision.ticket_id) == ("attach_automatic", "bounced_message", ticket.id)


def test_a_plus_address_threads_from_the_customer_only():
    ticket = _ticket()
    mine = _mail(subject="new question", delivered_to=("support+t1234@support.example",))
    assert mt.decide(mine, Evidence(tickets=(ticket,))).reason == "plus_address"
    stranger = _mail(subject="hi", delivered_to=("support+t1234@support.example",), customer=GLOBEX, contact=None)
    assert mt.decide(stranger, Evidence(tickets=(ticket,))).action == "new_ticket"


def test_a_resolved_ticket_is_reopened_a_closed_one_is_followed():
    reply = _mail(in_reply_to=(OUR_REPLY,))
    assert mt.decide(reply, _thread_of(_ticket(status="resolved"), OUR_REPLY)).action == "reopen"
    decision = mt.decide(_mail(in_reply_to=(OUR_REPLY,)), _thread_of(_ticket(status="closed"), OUR_REPLY))
    assert decision.action == "follow_up" and "closed" in decision.note


def test_the_same_mail_twice_is_a_duplicate():
    ticket = _ticket()
    mail = _mail(internet_message_id=FIRST_MAIL)
    decision = mt.decide(mail, _thread_of(ticket, FIRST_MAIL))
    assert (decision.action, decision.ticket_id) == ("duplicate", ticket.id)


def test_an_unknown_token_gets_a_new_ticket_that_says_so():
    decision = mt.decide(_mail(subject="Re: [#T-99] x"), Evidence())
    assert decision.action == "new_ticket" and "T-99, which does not exist" in decision.note


def test_the_lookup_names_every_id_and_number_once():
    mail = _mail(subject="Re: [#T-7] x [#T-7]", in_reply_to=("<a@x>",), references=("a@x", " <b@x> "),
                 delivered_to=("support+t8@s.example",), automatic="bounce", bounced_message_id="<c@x>")
    lookup = mt.lookup_for(mail)
    assert lookup.message_ids == ("a@x", "b@x", "c@x") and lookup.numbers == (7, 8)


# --- subjects ---

def test_subjects_as_mail_clients_write_them():
    assert mt.subject_numbers("RE[2]: AW: [ #t 42 ] Drucker") == (42,)
    assert mt.subject_numbers("SV: [#T1234]") == (1234,)
    assert mt.clean_subject("Re: AW: WG: RE[2]: Fwd: [#T-12] Printer   on fire") == "Printer on fire"
    assert mt.clean_subject("Re: ") == "(no subject)"
    assert mt.reply_subject(12, "Re: [#T-12] Printer") == "Re: [#T-12] Printer"


_PREFIXES = st.sampled_from(["Re", "RE", "re", "AW", "Aw", "WG", "SV", "Fwd", "FWD", "Fw", "RE[2]", "Re[13]", "AW(3)"])
_SPACE = st.sampled_from(["", " ", "  "])


@settings(max_examples=200)
@given(chain=st.lists(st.tuples(_PREFIXES, _SPACE, _SPACE), max_size=6), number=st.integers(1, 10**9 - 1),
       case=st.sampled_from(["T", "t"]), inner=_SPACE, rest=st.text(alphabet=st.characters(blacklist_characters="[]"),
                                                                     max_size=40))
def test_a_token_after_any_prefix_chain_is_found(chain, number, case, inner, rest):
    prefix = "".join(f"{p}{a}:{b}" for p, a, b in chain)
    subject = f"{prefix}[{inner}#{case}-{inner}{number}{inner}] {rest}"
    assert mt.subject_numbers(subject)[0] == number
    assert f"#{case}-" not in mt.clean_subject(subject)


# --- properties of decide ---

_IDS = st.text(alphabet="abcdef0123456789.-", min_size=1, max_size=12).map(lambda s: f"{s}@x.example")


@settings(max_examples=200)
@given(noise=st.lists(_IDS, max_size=8), position=st.integers(0, 8), status=st.sampled_from(
    ["new", "open", "pending", "waiting_on_customer", "resolved", "closed"]), stranger=st.booleans(),
       automatic=st.sampled_from([None, "auto_reply", "bounce", "list", "loop"]))
def test_our_id_in_any_position_of_references_threads_whoever_sent_it(noise, position, status, stranger, automatic):
    ticket = _ticket(status=status)
    refs = list(noise)
    refs.insert(min(position, len(refs)), OUR_REPLY)
    mail = _mail(references=tuple(refs), customer=GLOBEX if stranger else ACME, contact=None if stranger else ALICE,
                 automatic=automatic, subject="Re: [#T-999] other")
    decision = mt.decide(mail, _thread_of(ticket, OUR_REPLY))
    assert decision.ticket_id == ticket.id and decision.reason == "references"
    if automatic is not None:  # automatic mail never reopens or follows up
        assert decision.action == "attach_automatic"
    else:
        assert decision.action == {"resolved": "reopen", "closed": "follow_up"}.get(status, "append")


@settings(max_examples=200)
@given(number=st.integers(1, 10**6), plus=st.booleans(), participants=st.sets(_IDS, max_size=3))
def test_a_stranger_quoting_a_ticket_number_never_threads(number, plus, participants):
    ticket = _ticket(number=number, participants={p.lower() for p in participants})
    mail = _mail(subject="hello" if plus else f"Re: [#T-{number}] hello", sender="eve@evil.example",
                 customer=GLOBEX, contact=None, delivered_to=(f"support+t{number}@s.example",) if plus else ())
    decision = mt.decide(mail, Evidence(tickets=(ticket,)))
    assert decision.action == "new_ticket" and decision.ticket_id is None and decision.note


@settings(max_examples=100)
@given(subject=st.text(max_size=60), automatic=st.sampled_from([None, "auto_reply", "bounce", "list", "loop"]),
       refs=st.lists(_IDS, max_size=4))
def test_every_decision_says_why_and_automatic_mail_opens_nothing(subject, automatic, refs):
    decision = mt.decide(_mail(subject=subject, automatic=automatic, references=tuple(refs)), Evidence())
    assert decision.reason and decision.note
    assert decision.action == ("ignore" if automatic else "new_ticket")


# --- the thread a reply continues ---

def test_a_reply_answers_the_last_mail_and_carries_the_thread():
    thread = mt.thread_after_inbound(Thread(), mailbox_id=uuid.UUID(int=1), delivered_to=["support+t5@s.example"],
                                     sender="alice@acme.example", reply_to=[], cc=["Bob@acme.example",
                                                                                    "support@s.example"],
                                     references=["root@x"], internet_message_id="<m1@acme>")
    assert thread.to == ("alice@acme.example",) and thread.cc == ("bob@acme.example",)
    assert thread.from_address == "support@s.example" and thread.domain == "s.example"
    assert thread.references == ("root@x", "m1@acme") and thread.last_message_id == "m1@acme"
    after = mt.thread_after_reply(thread, "r1@s.example")
    assert after.last_message_id == "r1@s.example" and after.references[-1] == "r1@s.example"
    assert Thread.from_json(after.to_json()) == after


@given(ids=st.lists(_IDS, min_size=1, max_size=60, unique=True))
def test_references_keep_the_root_and_the_latest(ids):
    thread = Thread()
    for i in ids:
        thread = mt.thread_after_reply(thread, i)
    assert len(thread.references) <= mt.REFERENCES_KEPT
    assert thread.references[0] == ids[0] and thread.references[-1] == ids[-1]
