"""`/customers/{id}/timeline` and `/customers/{id}/interactions` (timeline service)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from flask import g
from pydantic import Field

from custops.contracts.timeline import INTERACTION_KINDS, InteractionKind, InteractionLogged
from custops.events import all_contracts
from custops.validation import Instant
from gateway import roles
from gateway.api import API, Body, Paged, Resource, page_of, payload
from gateway.rpc import tenant_call


# What an activity's `type` can be: the type of the event it records, or `interaction.<kind>` for one
# logged by hand (derived from the event contracts, so a new event type is a filter value at once).
ACTIVITY_TYPES: tuple[str, ...] = tuple(sorted(
    {c.TYPE for c in all_contracts() if c is not InteractionLogged} | {f"interaction.{k}" for k in INTERACTION_KINDS}))
ActivityType = Literal[ACTIVITY_TYPES]  # type: ignore[valid-type]


class TimelineQuery(Paged):
    type: list[ActivityType] | None = Field(
        default=None, max_length=50, description="only activities of these types (repeat the parameter for several)")


class LogInteraction(Body):
    kind: InteractionKind
    summary: str = Field(min_length=1, max_length=1000)
    internal: bool = None
    occurred_at: Instant = Field(default=None, description="when it happened (default: now); not in the future")


class Activity(Resource):
    id: uuid.UUID
    type: str = Field(description="the event type (`ticket.created`...) or `interaction.<kind>`")
    occurred_at: datetime
    summary: str
    internal: bool = Field(description="team-only: never shown to portal users or contractors")
    subject_type: str | None
    subject_id: uuid.UUID | None
    actor: uuid.UUID | None = Field(description="who did it: the id of the member or contact `actor_type` names; "
                                                "null for the system or when not known")
    actor_type: Literal["member", "contact", "system"] | None = Field(
        description="what `actor` is: a team member, a customer's contact, or the system itself (an SLA clock, "
                    "an automatic rule); null on activities recorded before actors were")
    data: dict = Field(description="the event's payload as it was published")


@API.route("/customers/<uuid:customer_id>/timeline", "GET", permission="timeline:read",
           summary="A customer's activity timeline, newest first (at one instant: the latest fact first)",
           tag="timeline", query=TimelineQuery,
           response=page_of(Activity))
def list_activities(customer_id: str, query: TimelineQuery):
    roles.check_customer(g.identity, customer_id)
    wanted = {"include_internal": roles.may_see_internal(g.identity, customer_id, "timeline:internal")}
    if query.type:
        wanted["types"] = query.type
    return tenant_call("timeline", "list_activities", customer_id, wanted, query.limit, query.cursor)


@API.route("/customers/<uuid:customer_id>/interactions", "POST", permission="timeline:write",
           summary="Log an interaction (call, meeting, note...) on a customer's timeline", tag="timeline",
           body=LogInteraction, status=201, response=Activity)
def log_interaction(customer_id: str, body: LogInteraction):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("timeline", "log_interaction", customer_id, payload(body))

