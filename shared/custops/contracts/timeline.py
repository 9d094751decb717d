from __future__ import annotations

import uuid

from pydantic import AwareDatetime

from custops.events import EventData, contract


@contract("timeline", "interaction.logged")
class InteractionLogged(EventData):
    """An interaction (email, call, meeting, note) was logged on a customer's timeline by hand."""

    activity_id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    summary: str
    internal: bool
    occurred_at: AwareDatetime
