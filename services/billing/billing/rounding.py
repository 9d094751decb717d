"""Rounding of tracked time at invoicing, per tenant. Pure.

Decisions:
- A rule is an increment (1 = no rounding, or e.g. 6, 15, 30 minutes) and a scope: `entry` (each
  entry rounds up on its own) or `day` (a member's billable minutes of one work date round up as one
  sum). Rounding is always **up** to the next multiple ("up to 15 minutes"), never down: billed time
  is never less than tracked time.
- Rounding happens when an invoice is drafted, never when time is logged: the entry keeps its raw
  minutes, and every invoiced entry records both (`raw_minutes`, `rounded_minutes`), shown side by
  side on the invoice's detail.
- Day scope: the day's extra minutes (rounded sum - raw sum) are spread over that day's entries in
  proportion to their raw minutes by largest remainder (`money.allocate`), so every entry still has
  rounded >= raw and the entries' rounded minutes sum exactly to the day's rounded sum: however the
  entries are split over invoice lines afterwards, no minute is lost or made up. A tie of
  remainders goes to the entry with the lower id (so the set-based draft in SQL,
  `billing.draft_store`, spreads exactly as this does).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from billing.money import allocate

Scope = Literal["entry", "day"]
SCOPES: tuple[Scope, ...] = ("entry", "day")
INCREMENTS = (1, 5, 6, 10, 15, 30, 60)


@dataclass(frozen=True)
class RoundingRule:
    increment_minutes: int = 1
    scope: Scope = "entry"

    def __post_init__(self):
        if self.increment_minutes not in INCREMENTS:
            raise ValueError(f"increment must be one of {INCREMENTS}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")


NO_ROUNDING = RoundingRule()


def round_up(minutes: int, increment: int) -> int:
    return -(-minutes // increment) * increment


def rounded_minutes(entries: list[dict], rule: RoundingRule) -> dict:
    """`{entry id: rounded minutes}` for entries with `id`, `member_id`, `work_date`, `minutes`."""
    if rule.scope == "entry" or rule.increment_minutes == 1:
        return {e["id"]: round_up(e["minutes"], rule.increment_minutes) for e in entries}
    days: dict[tuple, list[dict]] = defaultdict(list)
    for e in entries:
        days[(e["member_id"], e["work_date"])].append(e)
    result = {}
    for day in days.values():
        day.sort(key=lambda e: e["id"])  # ties of the spread go to the earlier id (as the SQL does)
        raw = [e["minutes"] for e in day]
        extra = round_up(sum(raw), rule.increment_minutes) - sum(raw)
        for e, share in zip(day, allocate(extra, raw)):
            result[e["id"]] = e["minutes"] + share
    return result
