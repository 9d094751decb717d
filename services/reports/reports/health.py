"""Customer health: a score 0–100 and a state from weighted risk signals, each score explained. Pure.

Decisions recorded here (issue 12):

- **Signals are risks.** Each signal's raw value (days since the last human touchpoint, open
  tickets, SLA breaches in 30 days, ...) becomes a risk between 0 (no concern) and 1 (as bad as it
  gets) by a ramp between two per-tenant thresholds, `ok` and `bad`: at or past `ok` the risk is 0,
  at or past `bad` it is 1, linear between. For a signal where more is better (CSAT, NPS) `ok` is
  above `bad` and the ramp runs the other way. A risk never falls when its signal gets worse, so the
  score is monotonic in every signal (a property test holds it so).
- **The score is what the risks leave.** `score = 100 × (1 − Σ wᵢ·riskᵢ / Σ wᵢ)` over the signals
  that are *known* for the customer. A signal with no value (no CSAT survey answered, no exec
  sponsor named, not onboarding) is left out and its weight shared by the rest, rather than counted
  as healthy or as risky: a customer is not penalised, nor flattered, for what we do not know.
  Only the ratios of the weights matter; the explanation gives each known signal's share of 100
  (`weight_share`, summing to 100) and the points it cost (`points`, summing to `100 − score`).
- **Onboarding misses weigh more early.** A missed onboarding milestone in the customer's first 90
  days counts `EARLY_MISS_FACTOR` times (a shaky start predicts churn better than a late slip).
- **Interaction drop** is the fall of human interactions over the last 30 days against the 30
  before, as a fraction of the earlier count (0 when it rose; unknown when both windows are empty
  and the customer is new: there is nothing to drop from).
- **States** by per-tenant thresholds on the rounded score: healthy at or above `healthy`, at risk
  at or above `at_risk`, else critical. With no known signal at all the score is 100 (healthy): a
  new customer starts trusted.
- Scores are integers (rounded half up) so that a state boundary is unambiguous and a change of
  state is told once (`customer.health_changed` when `state_of` differs from the last one told).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

EARLY_DAYS = 90
EARLY_MISS_FACTOR = 2
STATES = ("healthy", "at_risk", "critical")


@dataclass(frozen=True)
class Ramp:
    """Where a signal's risk starts (`ok`) and where it is complete (`bad`)."""

    ok: float
    bad: float

    def __post_init__(self):
        if self.ok == self.bad:
            raise ValueError("a ramp needs ok and bad to differ")

    def risk(self, value: float) -> Fraction:
        rising = self.ok < self.bad
        # past either end the ramp is flat: 0 or 1 exactly, without the exact fractions of a float
        # (most signals are there, and the at-risk list scores every customer; issue 12's bench)
        if (value <= self.ok) if rising else (value >= self.ok):
            return Fraction(0)
        if (value >= self.bad) if rising else (value <= self.bad):
            return Fraction(1)
        span = Fraction(self.bad) - Fraction(self.ok)
        at = (Fraction(value) - Fraction(self.ok)) / span
        return min(Fraction(1), max(Fraction(0), at))


# Default weights (relative) and ramps; every tenant may replace any of them.
DEFAULT_WEIGHTS: dict[str, int] = {
    "onboarding_misses": 15,
    "interaction_drop": 15,
    "open_tickets": 10,
    "oldest_open_ticket_days": 10,
    "sla_breaches_30d": 15,
    "days_since_human_touch": 15,
    "days_since_sponsor_touch": 5,
    "overdue_invoices": 10,
    "csat": 3,
    "nps": 2,
}
DEFAULT_RAMPS: dict[str, Ramp] = {
    "onboarding_misses": Ramp(0, 4),  # weighted misses
    "interaction_drop": Ramp(0.2, 0.8),  # fraction of the previous 30 days' interactions
    "open_tickets": Ramp(2, 10),
    "oldest_open_ticket_days": Ramp(7, 45),
    "sla_breaches_30d": Ramp(0, 5),
    "days_since_human_touch": Ramp(14, 60),
    "days_since_sponsor_touch": Ramp(30, 120),
    "overdue_invoices": Ramp(0, 3),
    "csat": Ramp(4.5, 2.5),  # 1–5: more is better
    "nps": Ramp(30, -20),  # −100..100: more is better
}
SIGNALS = tuple(DEFAULT_WEIGHTS)


@dataclass(frozen=True)
class Settings:
    """A tenant's health settings: relative weights, ramps, and the state thresholds."""

    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    ramps: dict[str, Ramp] = field(default_factory=lambda: dict(DEFAULT_RAMPS))
    healthy: int = 70
    at_risk: int = 40

    def __post_init__(self):
        unknown = (set(self.weights) | set(self.ramps)) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown health signals: {', '.join(sorted(unknown))}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must not be negative")
        if not 0 <= self.at_risk <= self.healthy <= 100:
            raise ValueError("thresholds must satisfy 0 <= at_risk <= healthy <= 100")


@dataclass(frozen=True)
class Contribution:
    signal: str
    value: float
    risk: Fraction
    weight_share: Fraction  # of 100, over the known signals
    points: Fraction  # what this signal cost the score


@dataclass(frozen=True)
class Health:
    score: int
    state: str
    contributions: tuple[Contribution, ...]  # the known signals, costliest first


def weighted_misses(missed_on: list[date], start: date | None) -> float:
    """Missed onboarding milestones, those due in the first `EARLY_DAYS` after `start` counted
    `EARLY_MISS_FACTOR` times."""
    early_end = start + timedelta(days=EARLY_DAYS) if start else None
    return float(sum(EARLY_MISS_FACTOR if early_end and d < early_end else 1 for d in missed_on))


def interaction_drop(last_30: int, previous_30: int) -> float | None:
    """The fall of interactions against the 30 days before, as a fraction (0 when they rose);
    None when there was nothing before to fall from."""
    if previous_30 <= 0:
        return None if last_30 <= 0 else 0.0
    return max(0.0, (previous_30 - last_30) / previous_30)


def state_of(score: int, settings: Settings) -> str:
    if score >= settings.healthy:
        return "healthy"
    return "at_risk" if score >= settings.at_risk else "critical"


def score(signals: dict[str, float | None], settings: Settings = Settings()) -> Health:
    """The health of a customer from its raw signal values (None or absent: not known)."""
    unknown = set(signals) - set(SIGNALS)
    if unknown:
        raise ValueError(f"unknown health signals: {', '.join(sorted(unknown))}")
    known = {name: value for name, value in signals.items()
             if value is not None and settings.weights.get(name, 0) > 0}
    total_weight = sum(settings.weights[name] for name in known)
    if not total_weight:
        return Health(100, state_of(100, settings), ())
    contributions = []
    for name, value in known.items():
        share = Fraction(100 * settings.weights[name], total_weight)
        risk = settings.ramps[name].risk(value)
        contributions.append(Contribution(name, value, risk, share, share * risk))
    exact = 100 - sum(c.points for c in contributions)
    rounded = int(exact + Fraction(1, 2))  # half up; exact is within 0..100
    contributions.sort(key=lambda c: (-c.points, c.signal))
    return Health(rounded, state_of(rounded, settings), tuple(contributions))


def trend(history: list[tuple[datetime, int]], now: datetime, days: int) -> int | None:
    """Score now minus the score as it stood `days` ago (the latest one at or before then);
    None when there is no score that old. `history`: (at, score) in any order."""
    then = now - timedelta(days=days)
    before = [(at, s) for at, s in history if at <= then]
    latest = [(at, s) for at, s in history if at <= now]
    if not before or not latest:
        return None
    return max(latest)[1] - max(before)[1]
