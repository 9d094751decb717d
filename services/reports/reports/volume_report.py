"""Ticket volume's rules: what each period's counts are, by category, priority, customer or source. Pure.

Per period (the tenant's weeks or months, `reports.periods`) and group:

- **created**: tickets opened in the period.
- **resolved**: tickets whose latest resolution fell in the period and that have not been reopened
  since (`reports.facts`: the same rule as the status report; a ticket counts once).
- **reopened**: tickets moved from resolved or closed back to an open status in the period (each
  ticket once per period, however often).
- **backlog**: tickets open at the end of the period: the sum of every move up to then, +1 when a
  ticket is opened or reopened, −1 when it is resolved or closed from an open status. Moves are kept
  one row per event (keyed by the event id: a redelivery counts once) and a sum does not depend on
  the order events arrive in.

A ticket's group is its current category, priority, customer or source (a ticket whose priority
changed counts in its new priority in every period); None: not known yet (its ticket.created has
not arrived).
"""
from __future__ import annotations

from custops.contracts.tickets import DONE_STATUSES

GROUPS = ("category", "priority", "customer", "source")
COUNTS = ("created", "resolved", "reopened", "backlog")


def move_of(old_status: str, new_status: str) -> tuple[str, int] | None:
    """(kind, backlog change) of a status move, or None when it changes no count (e.g. resolved → closed)."""
    was_open, is_open = old_status not in DONE_STATUSES, new_status not in DONE_STATUSES
    if was_open and not is_open:
        return "done", -1
    if not was_open and is_open:
        return "reopened", 1
    return None


def assemble(periods: list[tuple], counts: dict, deltas: dict, base: dict, names: dict | None = None) -> list[dict]:
    """The report's periods, newest first.

    `periods`: [(first, last)] newest first; `counts`: {(first, key): {created, resolved, reopened}};
    `deltas`: {(first, key): backlog change within the period}; `base`: {key: backlog before the
    oldest period}; `names`: {key: display name} (customers)."""
    keys = {key for _, key in counts} | {key for _, key in deltas} | set(base)
    running = dict(base)
    out = []
    for first, last in reversed(periods):  # oldest first: the backlog accumulates
        groups = []
        for key in keys:
            running[key] = running.get(key, 0) + deltas.get((first, key), 0)
            given = counts.get((first, key), {})
            row = {"created": given.get("created", 0), "resolved": given.get("resolved", 0),
                   "reopened": given.get("reopened", 0), "backlog": running[key]}
            if any(row.values()):
                groups.append({"key": key, "name": (names or {}).get(key), **row})
        groups.sort(key=lambda g: (g["key"] is None, g["key"] or ""))
        out.append({"period_start": first.isoformat(), "period_end": last.isoformat(), "groups": groups,
                    "totals": {c: sum(g[c] for g in groups) for c in COUNTS}})
    return out[::-1]
