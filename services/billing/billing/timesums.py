"""Totals of logged time: plain arithmetic over (billable, minutes) pairs, no I/O."""
from __future__ import annotations

from typing import Iterable


def summarise(parts: Iterable[tuple[bool, int]]) -> dict:
    """Billable, non-billable and total minutes of `(billable, minutes)` pairs.

    The pairs may be single entries or per-flag subtotals (as a GROUP BY returns them): summing is
    the same either way.
    """
    billable = non_billable = 0
    for is_billable, minutes in parts:
        if is_billable:
            billable += minutes
        else:
            non_billable += minutes
    return {
        "billable_minutes": billable,
        "non_billable_minutes": non_billable,
        "total_minutes": billable + non_billable,
    }
