"""The reports vocabulary the gateway shares (reports tells no events yet; `customer.health_changed`
will live here). Written once: the reports service refuses what the gateway's OpenAPI document
does not allow, and the other way round."""
from __future__ import annotations

# How many ISO weeks back a weekly report may reach (two years), and how many it shows by default.
MAX_REPORT_WEEKS = 104
DEFAULT_REPORT_WEEKS = 12
