"""Timeline service: the activity log fed by other services' events (`recorded_events`), the
interactions logged by hand and their corrections, the queries and heatmaps (`activity_service`),
and the members' saved views (`saved_views`). Each concern is a mixin; this class only wires them.

Order: newest first by `occurred_at`; activities with the same `occurred_at` in the reverse of the
order the facts happened (the producer's outbox `sequence`), then by id. The cursor carries all
three (and the instant the walk began, see `timeline.queries`).
"""
from __future__ import annotations

from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.rpc import ServiceRpc
from timeline.activity_service import ActivityLog
from timeline.followup_service import FollowupEntrypoints
from timeline.recorded_events import RecordedEvents
from timeline.saved_views import SavedViews


class TimelineService(RecordedEvents, ActivityLog, SavedViews, FollowupEntrypoints, HealthEndpoints):
    name = "timeline"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()
