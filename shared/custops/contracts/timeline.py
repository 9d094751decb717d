from __future__ import annotations

import uuid
from typing import Literal, get_args

from pydantic import AwareDatetime

from custops.events import EventData, contract

# What can be logged by hand on a timeline (written once: the timeline service and the gateway use it).
InteractionKind = Literal["email", "call", "meeting", "note"]
INTERACTION_KINDS: tuple[str, ...] = get_args(InteractionKind)


@contract("timeline", "interaction.logged")
class InteractionLogged(EventData):
    """An interaction (email, call, meeting, note) was logged on a customer's timeline by hand."""

    activity_id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    summary: str
    internal: bool
    occurred_at: AwareDatetime
