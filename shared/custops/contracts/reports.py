"""The reports vocabulary the gateway shares (reports tells no events yet; `customer.health_changed`
will live here). Written once: the reports service refuses what the gateway's OpenAPI document
does not allow, and the other way round."""
from __future__ import annotations

# How many ISO weeks back a weekly report may reach (two years), and how many it shows by default.
MAX_REPORT_WEEKS = 104
DEFAULT_REPORT_WEEKS = 12
# How many weeks or months back the ticket-volume report by period may reach, and shows by default.
MAX_VOLUME_PERIODS = 104
DEFAULT_VOLUME_PERIODS = 12


# --- customer health (issue 12; reports.health scores, reports.health_signals tells)

import uuid  # noqa: E402
from typing import Literal  # noqa: E402

from custops.events import EventData, contract  # noqa: E402

HealthState = Literal["healthy", "at_risk", "critical"]


@contract("reports", "customer.health_changed")
class CustomerHealthChanged(EventData):
    """A customer's health state changed (a customer starts healthy: its first change is from
    `healthy`; `old_state` is never null, kept optional for later). `score` 0–100;
    `contributions` the signals that cost the most points, costliest first: `{signal, value, risk,
    weight_share, points}` (risk 0–1, share and points of 100, rounded to 2 places)."""

    customer_id: uuid.UUID
    old_state: HealthState | None = None
    new_state: HealthState
    score: int
    old_score: int | None = None
    contributions: list[dict] = []


@contract("reports", "health_settings.changed")
class HealthSettingsChanged(EventData):
    """A tenant's customer-health settings (weights, ramps, state thresholds) were replaced:
    `settings` the new ones, `previous` the old (null: the defaults)."""

    settings: dict
    previous: dict | None = None


@contract("reports", "status_rules.changed")
class StatusRulesChanged(EventData):
    """A tenant's status-report rules (Delayed/Ahead percentages, the smallest baseline, the At
    Risk thresholds; reports.status_report) were replaced: `rules` the new ones, `previous` the old
    (null: the defaults)."""

    rules: dict
    previous: dict | None = None
