"""Which moves a ticket's fact row keeps, and what counts (pure)."""
from datetime import datetime, timedelta, timezone
from itertools import permutations

import pytest

from custops.contracts.tickets import OPEN_STATUSES
from reports.facts import counts_as, mark_of

AT = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)


def test_each_status_sets_one_mark():
    assert (mark_of("resolved"), mark_of("closed")) == ("resolved", "closed")
    assert {mark_of(s) for s in OPEN_STATUSES} == {"reopened"}
    with pytest.raises(ValueError):
        mark_of("exploded")


def latest(moves):
    """The marks a row ends with after `moves` [(status, at, seq)], kept as the service keeps them."""
    marks = {}
    for status, at, seq in moves:
        mark = mark_of(status)
        if marks.get(mark) is None or (at, seq) > marks[mark]:
            marks[mark] = (at, seq)
    return marks


@pytest.mark.parametrize("order", list(permutations(range(4))))
def test_the_counts_do_not_depend_on_the_order_moves_arrive_in(order):
    moves = [("resolved", AT, 1), ("open", AT + timedelta(hours=1), 2), ("resolved", AT + timedelta(days=8), 3),
             ("closed", AT + timedelta(days=9), 4)]
    marks = latest(moves[i] for i in order)
    assert marks["resolved"] == (AT + timedelta(days=8), 3)  # the latest resolution, once
    assert counts_as("resolved", marks) and counts_as("closed", marks)


def test_a_reopened_ticket_counts_as_resolved_nowhere_until_resolved_again():
    assert not counts_as("resolved", latest([("resolved", AT, 1), ("open", AT, 2)]))  # same instant: sequence
    assert counts_as("resolved", latest([("open", AT, 1), ("resolved", AT, 2)]))
    assert not counts_as("closed", latest([("resolved", AT, 1)]))
    assert counts_as("closed", latest([("closed", AT, 1)])) and not counts_as("resolved", latest([("closed", AT, 1)]))
