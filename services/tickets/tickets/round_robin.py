"""Round-robin assignment within a team: whose turn it is.

A team keeps its members in order and a counter (`next_index`) of turns handed out. The next turn
goes to the first member from the counter on who is not known to be deactivated; the counter then
moves past that member, so a deactivated member is skipped without making the one after them take
two turns in a row. Activity is what the tickets service was told (`member_copies`): a member whose
activity is unknown keeps their turn (assigning checks the member as any assignment does).
"""
from __future__ import annotations

from collections.abc import Collection, Sequence


def next_turn(member_ids: Sequence, counter: int, inactive: Collection) -> int | None:
    """The counter value of the next active member's turn (their index is it modulo the team size),
    or None when every member is deactivated."""
    for turn in range(counter, counter + len(member_ids)):
        if member_ids[turn % len(member_ids)] not in inactive:
            return turn
    return None
