"""Whose turn it is in a team (`tickets.round_robin`), as pure rules."""
from hypothesis import given
from hypothesis import strategies as st

from tickets.round_robin import next_turn


def test_turns_go_round_in_order():
    assert [next_turn("abc", n, set()) % 3 for n in range(5)] == [0, 1, 2, 0, 1]


def test_a_deactivated_member_is_skipped_and_the_next_one_takes_only_their_own_turn():
    turns, counter = [], 0
    for _ in range(6):
        turn = next_turn("abc", counter, {"b"})
        turns.append("abc"[turn % 3])
        counter = turn + 1
    assert turns == ["a", "c", "a", "c", "a", "c"]


def test_nobody_active_means_no_turn():
    assert next_turn("ab", 7, {"a", "b"}) is None


@given(st.lists(st.integers(0, 5), min_size=1, max_size=6, unique=True), st.integers(0, 100),
       st.sets(st.integers(0, 5)))
def test_the_turn_is_the_first_active_member_from_the_counter_on(members, counter, inactive):
    turn = next_turn(members, counter, inactive)
    active = [m for m in members if m not in inactive]
    if not active:
        assert turn is None
        return
    assert counter <= turn < counter + len(members)
    assert members[turn % len(members)] not in inactive
    assert all(members[t % len(members)] in inactive for t in range(counter, turn))
