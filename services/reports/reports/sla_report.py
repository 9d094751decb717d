"""SLA attainment's rules: a timer's outcome, the period it counts in, and the rates. Pure.

One row per ticket and timer (first_response, resolution; next_response is not reported yet):

- **Breached** when the tickets service told `ticket.sla_breached` for the timer, or when the timer
  was met after a deadline the reports service knows (a breach event still on its way): it counts at
  its deadline.
- **Met** when the timer was stopped in time: first_response by the ticket's first public reply
  typed by an agent (`ticket.replied`, automatic replies left out), resolution by its first
  resolution (`ticket.resolved`). It counts at that instant.
- Neither yet: counts nowhere (still running).

A ticket counts in the period its timer was met or breached (the tenant-local day of that instant).
Attainment is met ÷ (met + breached), the breach rate breached ÷ (met + breached); both None when
nothing ended in the period. Known limit: the tickets service tells a timer's deadline only with
its warning or breach, so a ticket with no SLA policy whose reply stops nothing is counted as met;
an SLA-met event (or the deadlines on ticket.created) would make that exact.
"""
from __future__ import annotations

from datetime import datetime

TIMERS = ("first_response", "resolution")
MET, BREACHED = "met", "breached"


def outcome(deadline: datetime | None, breached_at: datetime | None,
            met_at: datetime | None) -> tuple[str, datetime] | None:
    """(met or breached, the instant it counts at), or None while the timer runs."""
    if breached_at is not None:
        return BREACHED, breached_at
    if met_at is None:
        return None
    if deadline is not None and met_at > deadline:
        return BREACHED, deadline
    return MET, met_at


def rates(met: int, breached: int) -> dict:
    ended = met + breached
    return {"met": met, "breached": breached, "total": ended,
            "attainment_pct": None if ended == 0 else round(100.0 * met / ended, 1),
            "breach_rate_pct": None if ended == 0 else round(100.0 * breached / ended, 1)}


def roll_up(counts: list[tuple[str, str | None, str | None, int, int]]) -> dict:
    """From (timer, priority, tier, met, breached) groups: per timer overall, by priority and by
    tier (None: not known), each with its rates; groups sorted by name, unknown last."""
    report = {}
    for timer in TIMERS:
        rows = [c for c in counts if c[0] == timer]
        by = {}
        for index, name in ((1, "by_priority"), (2, "by_tier")):
            sums: dict = {}
            for row in rows:
                total = sums.setdefault(row[index], [0, 0])
                total[0] += row[3]
                total[1] += row[4]
            by[name] = [{"key": key, **rates(*sums[key])}
                        for key in sorted(sums, key=lambda k: (k is None, k or ""))]
        report[timer] = {**rates(sum(r[3] for r in rows), sum(r[4] for r in rows)), **by}
    return report
