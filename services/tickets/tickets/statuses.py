"""Ticket statuses and the transitions allowed between them (the table lives in `custops.contracts.tickets`,
where the gateway documents it too; this module is the rule's use)."""
from __future__ import annotations

from custops.contracts.tickets import STATUSES, TRANSITIONS

__all__ = ["STATUSES", "TRANSITIONS", "can_move"]


def can_move(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())
