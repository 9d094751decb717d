"""Hourly rates: which one prices a time entry. Pure.

A rate is an amount per hour in minor units of a currency, from an `effective_from` date on, for
the entries it matches. It may name any of four dimensions — `category`, `project_id`,
`customer_id`, `member_id` — and matches an entry when every dimension it names equals the entry's;
a rate that names none is the tenant's default.

Precedence (stated, one rule): among the rates that match an entry and are in effect on its work
date (`effective_from <= work_date`), the most specific wins, compared dimension by dimension in
the order **category > project > customer > member** (a rate naming the category beats every rate
that does not; between two that both do or both don't, naming the project decides, and so on).
Between rates with the same dimensions, the one with the latest `effective_from` wins: a rate
change applies from its date on and leaves the days before it at the old rate. Between two with the
same dimensions and date, the one made last wins (rates are listed in the order they were made): a
rate corrected on its own date replaces it.

"Never to invoiced time": an invoice line keeps the rate it was priced at (`unit_price`), so
nothing here ever changes an issued invoice; a later rate only prices entries drafted afterwards,
and only those worked on or after its date.

No matching rate: the entry is priced at 0 and its line says "no rate" (`rate_id` None) so the
draft shows it instead of silently billing nothing.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

DIMENSIONS = ("category", "project_id", "customer_id", "member_id")


@dataclass(frozen=True)
class Rate:
    id: uuid.UUID
    hourly_amount: int  # minor units per hour
    currency: str
    effective_from: date
    category: str | None = None
    project_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None

    def matches(self, entry: dict) -> bool:
        return all(getattr(self, d) is None or getattr(self, d) == entry.get(d) for d in DIMENSIONS)

    def specificity(self) -> tuple[int, ...]:
        return tuple(int(getattr(self, d) is not None) for d in DIMENSIONS)


def rate_for(entry: dict, rates: list[Rate], currency: str) -> Rate | None:
    """The rate that prices `entry` (with `work_date` and the dimensions), in `currency`, or None."""
    best, best_key = None, None
    for rate in rates:
        if rate.currency != currency or rate.effective_from > entry["work_date"] or not rate.matches(entry):
            continue
        key = (rate.specificity(), rate.effective_from)
        if best_key is None or key >= best_key:  # a tie: the later in the list (made last)
            best, best_key = rate, key
    return best


class RateBook:
    """The rates of one tenant and currency, indexed for pricing many entries: the candidates of an
    entry are looked up by its (category, project, customer, member) combination once and cached."""

    def __init__(self, rates: list[Rate], currency: str):
        self.currency = currency
        ranked = [(r.specificity(), r.effective_from, i, r) for i, r in enumerate(rates) if r.currency == currency]
        self._rates = [r for *_key, r in sorted(ranked, key=lambda k: k[:3], reverse=True)]  # ties: made last first
        self._candidates: dict[tuple, list[Rate]] = {}
        self._decided: dict[tuple, Rate | None] = {}  # (combination, work date) -> rate

    def rate_for(self, entry: dict) -> Rate | None:
        combo = tuple(entry.get(d) for d in DIMENSIONS)
        key = (combo, entry["work_date"])
        if key in self._decided:
            return self._decided[key]
        self._decided[key] = found = self._lookup(combo, entry)
        return found

    def _lookup(self, combo: tuple, entry: dict) -> Rate | None:
        found = self._candidates.get(combo)
        if found is None:
            found = self._candidates[combo] = [r for r in self._rates if r.matches(entry)]
        # sorted most specific, then latest first: the first in effect on the day wins
        for rate in found:
            if rate.effective_from <= entry["work_date"]:
                return rate
        return None
