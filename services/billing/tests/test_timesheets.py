"""Timesheet rules (billing.timesheets) and weeks in a member's zone (billing.weeks), without I/O."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import timesheets as rules
from billing import weeks
from custops.errors import Conflict, Forbidden, InvalidInput

ALICE, BOB, CAROL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
MONDAY = date(2026, 3, 2)


def _sheet(status="open", **over):
    return {"id": uuid.uuid4(), "member_id": ALICE, "week_start": MONDAY, "status": status, **over}


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
       st.sampled_from(["monday", "sunday", "saturday"]))
def test_every_day_falls_in_exactly_one_week_that_starts_on_the_tenants_day(day, starts_on):
    start = weeks.week_start(day, starts_on)
    assert start <= day <= start + timedelta(days=6)
    assert start.weekday() == weeks.WEEKDAYS[starts_on]
    assert weeks.week_start(start, starts_on) == start


def test_the_day_of_an_instant_is_the_members_day():
    instant = datetime(2026, 3, 1, 20, 0, tzinfo=timezone.utc)  # Sunday evening in London
    assert weeks.local_day(instant, "Pacific/Auckland") == date(2026, 3, 2)  # Monday morning there
    assert weeks.local_day(instant, "UTC") == date(2026, 3, 1)
    assert weeks.local_day(instant, "Not/AZone") == date(2026, 3, 1)  # an unknown zone reads as UTC
    assert weeks.member_zone(None, "Europe/Berlin") == "Europe/Berlin" and weeks.member_zone(None, None) == "UTC"


def test_a_member_submits_their_own_open_or_rejected_week_that_has_begun():
    rules.check_may_submit(_sheet(), ALICE, False, MONDAY)
    rules.check_may_submit(_sheet("rejected"), BOB, True, MONDAY)  # a manager for them
    with pytest.raises(Forbidden):
        rules.check_may_submit(_sheet(), BOB, False, MONDAY)
    with pytest.raises(Conflict):
        rules.check_may_submit(_sheet(), ALICE, False, MONDAY - timedelta(days=1))  # not begun
    for status in ("submitted", "approved"):
        with pytest.raises(Conflict):
            rules.check_may_submit(_sheet(status), ALICE, False, MONDAY)


def test_managers_and_named_approvers_decide_but_never_an_approver_on_their_own_week():
    assert rules.may_decide(_sheet(), BOB, True, set())
    assert rules.may_decide(_sheet(), BOB, False, {BOB})
    assert not rules.may_decide(_sheet(), CAROL, False, {BOB})
    assert not rules.may_decide(_sheet(), ALICE, False, {ALICE})
    with pytest.raises(Forbidden):
        rules.check_may_decide(_sheet("submitted"), CAROL, False, {BOB}, "approve")
    rules.check_decidable(_sheet("submitted"), "approved")
    for status in ("open", "approved", "rejected"):
        with pytest.raises(Conflict):
            rules.check_decidable(_sheet(status), "approved")


def test_a_rejection_needs_a_comment_and_comments_are_bounded():
    with pytest.raises(InvalidInput):
        rules.check_comment("  ", required=True)
    assert rules.check_comment(" fix Tuesday ", required=True) == "fix Tuesday"
    assert rules.check_comment(None, required=False) is None
    with pytest.raises(InvalidInput):
        rules.check_comment("x" * 2001, required=False)


def test_reopen_an_approved_or_submitted_week_but_never_one_with_invoiced_time():
    rules.check_may_reopen(_sheet("approved"), BOB, True, set(), invoiced=0)
    rules.check_may_reopen(_sheet("submitted"), ALICE, False, set(), invoiced=0)  # taking it back
    with pytest.raises(Forbidden):
        rules.check_may_reopen(_sheet("approved"), ALICE, False, set(), invoiced=0)
    with pytest.raises(Conflict):
        rules.check_may_reopen(_sheet("open"), BOB, True, set(), invoiced=0)
    with pytest.raises(Conflict, match="credit note"):
        rules.check_may_reopen(_sheet("approved"), BOB, True, set(), invoiced=2)


@pytest.mark.parametrize("status, reminded, ended, expected", [
    (None, False, True, True), ("open", False, True, True), ("rejected", False, True, True),
    ("open", True, True, False), ("open", False, False, False),
    ("submitted", False, True, False), ("approved", False, True, False)])
def test_a_reminder_goes_once_for_an_ended_week_not_submitted(status, reminded, ended, expected):
    assert rules.needs_reminder(status, reminded, ended) is expected
