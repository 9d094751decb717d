"""The status rule table (pure)."""
import pytest

from tickets.statuses import STATUSES, TRANSITIONS, can_move


def test_every_status_has_a_row_and_rows_only_name_known_statuses():
    assert set(TRANSITIONS) == set(STATUSES)
    for targets in TRANSITIONS.values():
        assert targets <= set(STATUSES)


@pytest.mark.parametrize("old,new", [("new", "open"), ("open", "waiting_on_customer"),
                                     ("waiting_on_customer", "open"), ("resolved", "open"),
                                     ("in_progress", "resolved"), ("resolved", "closed")])
def test_allowed(old, new):
    assert can_move(old, new)


@pytest.mark.parametrize("old,new", [("closed", "open"), ("closed", "resolved"), ("resolved", "pending"),
                                     ("open", "new"), ("open", "open"), ("open", "archived")])
def test_refused(old, new):
    assert not can_move(old, new)
