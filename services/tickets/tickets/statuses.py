"""Ticket statuses and the transitions allowed between them (the one place for this rule)."""
from __future__ import annotations

from custops.contracts.tickets import STATUSES

__all__ = ["STATUSES", "TRANSITIONS", "can_move"]

# pending: our team is the blocker; waiting_on_customer: the customer is.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "in_progress", "pending", "waiting_on_customer", "resolved", "closed"}),
    "open": frozenset({"in_progress", "pending", "waiting_on_customer", "resolved", "closed"}),
    "in_progress": frozenset({"open", "pending", "waiting_on_customer", "resolved", "closed"}),
    "pending": frozenset({"open", "in_progress", "waiting_on_customer", "resolved", "closed"}),
    "waiting_on_customer": frozenset({"open", "in_progress", "pending", "resolved", "closed"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),  # a closed ticket stays closed; new work starts a new ticket
}


def can_move(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())
