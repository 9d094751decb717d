"""One fact row per ticket: what a ticket status change does to it. Pure.

The ticket-volume report counts tickets, not moves. Each ticket keeps when it was created, when it
was (last) resolved and when it was closed; the weekly counts are those instants grouped by the
tenant's ISO week at query time.

- A ticket resolved, reopened and resolved again counts once, in the week of its latest
  resolution: the count moves from the earlier week to the later one.
- A reopened ticket that is not resolved again counts as resolved nowhere (it is open).
- Resolved then closed: resolved in the week of its resolution and closed in the week it closed.
  Closed without being resolved first: closed only.

Events of one ticket may arrive in any order (each event type has its own queue, redeliveries
come late), so a status change applies only when it is newer than the last one applied, by
(`changed_at`, the producer's `sequence`); an older one changes nothing. The final state is the
same whatever the arrival order.
"""
from __future__ import annotations

from datetime import datetime

from custops.contracts.tickets import OPEN_STATUSES

KEEP = object()  # "leave the stored value as it is"


def after_move(new_status: str, at: datetime) -> dict:
    """`{resolved_at, closed_at}` after the ticket moved to `new_status` at `at` (or KEEP)."""
    if new_status == "resolved":
        return {"resolved_at": at, "closed_at": None}
    if new_status == "closed":
        return {"resolved_at": KEEP, "closed_at": at}
    if new_status in OPEN_STATUSES:  # reopened (or still being worked): resolved nowhere
        return {"resolved_at": None, "closed_at": None}
    raise ValueError(f"unknown ticket status {new_status!r}")

