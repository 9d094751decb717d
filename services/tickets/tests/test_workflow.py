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
