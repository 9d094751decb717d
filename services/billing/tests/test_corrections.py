"""The correction rule (billing.corrections) and the event shapes (billing.facts), without I/O."""
import uuid
from datetime import date, datetime, timezone

import pytest

from billing import corrections, facts
from billing.commands import CorrectTime
from custops.errors import Conflict, Forbidden, InvalidInput
from custops.validation import parse

ALICE, BOB = uuid.uuid4(), uuid.uuid4()
ACME, GLOBEX = uuid.uuid4(), uuid.uuid4()
TICKET = uuid.uuid4()


def _entry(**overrides) -> dict:
    return {"id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "member_id": ALICE, "customer_id": ACME,
            "ticket_id": TICKET, "work_date": date(2026, 3, 2), "minutes": 30, "billable": True, "note": "",
            "entered_by_member_id": ALICE, "revision": 1, "invoiced_at": None, **overrides}


def test_changes_are_the_given_fields_that_differ():
    entry = _entry()
    given = parse(CorrectTime, {"minutes": 45, "billable": True, "ticket_id": None}).given()
    assert corrections.changes(entry, given) == {"minutes": (30, 45), "ticket_id": (TICKET, None)}
    assert corrections.changes(entry, {}) == {}


def test_own_entries_within_a_scope_anyones_without():
    corrections.check_may_touch(_entry(), ALICE, "correct")
    corrections.check_may_touch(_entry(), None, "delete")
    with pytest.raises(Forbidden, match="only your own"):
        corrections.check_may_touch(_entry(), BOB, "correct")


def test_an_invoiced_entry_is_locked_for_everyone():
    invoiced = _entry(invoiced_at=datetime(2026, 4, 1, tzinfo=timezone.utc))
    assert corrections.lock_reason(invoiced) and corrections.lock_reason(_entry()) is None
    for scope in (ALICE, None):
        with pytest.raises(Conflict):
            corrections.check_may_touch(invoiced, scope, "delete")


def test_moving_to_another_member_needs_no_scope():
    diff = {"member_id": (ALICE, BOB)}
    corrections.check_reassignment(diff, None)
    with pytest.raises(Forbidden):
        corrections.check_reassignment(diff, ALICE)
    corrections.check_reassignment({"minutes": (30, 45)}, ALICE)


@pytest.mark.parametrize("diff, expected", [
    ({"minutes": (30, 45)}, {}),
    ({"customer_id": (ACME, GLOBEX)}, {"customer_id": GLOBEX, "ticket_id": TICKET}),  # the kept ticket too
    ({"ticket_id": (TICKET, None)}, {}),  # detaching needs no ask
    ({"ticket_id": (TICKET, uuid.UUID(int=7))}, {"ticket_id": uuid.UUID(int=7)}),
    ({"member_id": (ALICE, BOB)}, {"member_id": BOB}),
])
def test_references_asked_again_are_those_that_changed_or_depend_on_the_customer(diff, expected):
    entry = _entry()
    assert corrections.references_to_check(diff, corrections.corrected(entry, diff)) == expected


def test_null_is_refused_except_to_detach_the_ticket():
    assert parse(CorrectTime, {"ticket_id": None}).given() == {"ticket_id": None}
    with pytest.raises(InvalidInput) as exc_info:
        parse(CorrectTime, {"minutes": None, "customer_id": None})
    assert {e["field"] for e in exc_info.value.errors} == {"minutes", "customer_id"}


@pytest.mark.parametrize("payload", [{"minutes": 0}, {"minutes": 1441}, {"minutes": "45"}, {"hours": 1},
                                     {"work_date": "2999-01-01"}, {"note": "x" * 10_001}])
def test_a_correction_keeps_the_bounds_of_a_new_entry(payload):
    with pytest.raises(InvalidInput) as exc_info:
        parse(CorrectTime, payload)
    assert {e["field"] for e in exc_info.value.errors} == set(payload)


def test_an_update_event_carries_the_entry_as_it_now_is_and_each_change():
    entry = _entry()
    diff = {"minutes": (30, 45), "ticket_id": (TICKET, None)}
    after = {**corrections.corrected(entry, diff), "revision": 2}
    event = facts.updated(after, diff, BOB, datetime(2026, 3, 3, tzinfo=timezone.utc)).model_dump(mode="json")
    assert event["changes"] == {"minutes": {"old": 30, "new": 45}, "ticket_id": {"old": str(TICKET), "new": None}}
    assert (event["minutes"], event["ticket_id"], event["revision"]) == (45, None, 2)
    assert event["updated_by_member_id"] == str(BOB)
