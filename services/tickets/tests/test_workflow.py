"""Message effects, status events, tags and categories (pure)."""
import pytest

from tickets import workflow
from tickets.workflow import MessageEffect, RuleBroken, message_effect, status_events


@pytest.mark.parametrize("status,kind,effect", [
    ("new", "reply", MessageEffect(new_status="open")),
    ("open", "reply", MessageEffect()),
    ("waiting_on_customer", "reply", MessageEffect()),
    ("resolved", "reply", MessageEffect()),
    ("resolved", "inbound", MessageEffect(new_status="open", reopen_reason="customer_reply")),
    ("waiting_on_customer", "inbound", MessageEffect(new_status="open")),
    ("pending", "inbound", MessageEffect()),
    ("new", "inbound", MessageEffect()),
    ("closed", "inbound", MessageEffect(starts_follow_up=True)),
    ("closed", "note", MessageEffect()),
    ("new", "note", MessageEffect()),
])
def test_message_effects(status, kind, effect):
    assert message_effect(status, kind) == effect


def test_a_closed_ticket_takes_no_reply_and_unknown_kinds_are_refused():
    with pytest.raises(RuleBroken):
        message_effect("closed", "reply")
    with pytest.raises(RuleBroken):
        message_effect("open", "shout")


def test_every_status_a_message_moves_to_is_an_allowed_transition():
    from tickets.statuses import STATUSES, can_move
    for status in STATUSES:
        for kind in workflow.MESSAGE_KINDS:
            try:
                effect = message_effect(status, kind)
            except RuleBroken:
                continue
            if effect.new_status is not None:
                assert can_move(status, effect.new_status), (status, kind)


@pytest.mark.parametrize("old,new,events", [
    ("open", "resolved", ("ticket.resolved",)),
    ("resolved", "closed", ("ticket.closed",)),
    ("new", "closed", ("ticket.closed",)),
    ("resolved", "open", ("ticket.reopened",)),
    ("open", "pending", ()),
    ("waiting_on_customer", "open", ()),
])
def test_status_events(old, new, events):
    assert status_events(old, new) == events


def test_status_events_refuse_a_forbidden_move():
    with pytest.raises(RuleBroken):
        status_events("closed", "open")


def test_tags_are_lower_case_trimmed_unique_and_at_most_twenty():
    assert workflow.normalise_tags([" VIP ", "vip", "Billing"]) == ["vip", "billing"]
    assert len(workflow.normalise_tags([f"t{n}" for n in range(20)] + ["T0"])) == 20
    with pytest.raises(RuleBroken):
        workflow.normalise_tags([f"t{n}" for n in range(21)])
    with pytest.raises(RuleBroken):
        workflow.normalise_tags(["  "])


def test_category_names():
    assert workflow.normalise_category(" Hardware_RMA ") == "hardware_rma"
    for bad in ("", "two words", "-lead", "x" * 51):
        with pytest.raises(RuleBroken):
            workflow.normalise_category(bad)


AGENT, OTHER_AGENT, CONTACT = "agent-1", "agent-2", "contact-1"


@pytest.mark.parametrize("kind,member,contact,entered_by,authors", [
    ("inbound", None, CONTACT, AGENT, (None, CONTACT)),  # phoned in: the contact wrote it, the agent entered it
    ("inbound", None, None, None, (None, None)),  # mail from an address no contact has
    ("reply", None, None, AGENT, (AGENT, None)),  # an agent's own reply
    ("note", OTHER_AGENT, None, AGENT, (OTHER_AGENT, None)),  # entered for a colleague
])
def test_who_wrote_a_message_apart_from_who_entered_it(kind, member, contact, entered_by, authors):
    assert workflow.message_authors(kind, member, contact, entered_by) == authors


@pytest.mark.parametrize("kind,member,contact,field", [
    ("inbound", AGENT, None, "author_member_id"),
    ("reply", None, CONTACT, "author_contact_id"),
    ("note", AGENT, CONTACT, "author_contact_id"),
])
def test_a_customer_message_has_no_member_author_and_an_agents_no_contact(kind, member, contact, field):
    with pytest.raises(RuleBroken) as exc_info:
        workflow.message_authors(kind, member, contact, AGENT)
    assert exc_info.value.field == field
