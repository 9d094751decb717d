"""One fact row per ticket: which instants a ticket status change records. Pure.

The ticket-volume report counts tickets, not moves. Each ticket keeps when it was created and the
latest move of each kind — into `resolved`, into `closed`, back into an open status (reopened) —
and a ticket counts as resolved (closed) in the tenant week of its latest resolution (close)
unless it has been reopened since:

- A ticket resolved, reopened and resolved again counts once, in the week of its latest
  resolution: the count moves from the earlier week to the later one.
- A reopened ticket that is not resolved again counts as resolved nowhere (it is open).
- Resolved then closed: resolved in the week of its resolution and closed in the week it closed.
  Closed without being resolved first: closed only.

Each kind keeps only its latest move, by (`changed_at`, the producer's `sequence`): taking a maximum
is the same whatever order the events arrive in (each event type has its own queue, and a
redelivery comes late), so the counts do not depend on arrival order.
"""
from __future__ import annotations

from custops.contracts.tickets import OPEN_STATUSES

MARKS = ("resolved", "closed", "reopened")


def mark_of(new_status: str) -> str:
    """Which latest-move mark a move into `new_status` sets."""
    if new_status in ("resolved", "closed"):
        return new_status
    if new_status in OPEN_STATUSES:
        return "reopened"
    raise ValueError(f"unknown ticket status {new_status!r}")


def counts_as(mark: str, marks: dict) -> bool:
    """Whether a ticket with these latest moves (`{mark: (at, sequence) or None}`) counts as `mark`
    (resolved or closed): it moved so, and has not been reopened since."""
    done, reopened = marks.get(mark), marks.get("reopened")
    return done is not None and (reopened is None or done > reopened)
