"""`/customers/{id}/timeline` and `/customers/{id}/interactions` (timeline service)."""
from __future__ import annotations

from typing import Annotated

from flask import g
from pydantic import AwareDatetime, Field

from gateway import roles
from gateway.api import API, Body, Paged, payload
from gateway.rpc import tenant_call


class TimelineQuery(Paged):
    type: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, description="only activities of these types (repeat the parameter for several)")


class LogInteraction(Body):
    kind: Annotated[str, Field(min_length=1, max_length=50)]
    summary: Annotated[str, Field(min_length=1, max_length=10_000)]
    internal: bool = None
    occurred_at: AwareDatetime = None


@API.route("/customers/<uuid:customer_id>/timeline", "GET", permission="timeline:read",
           summary="A customer's activity timeline, newest first", tag="timeline", query=TimelineQuery)
def list_activities(customer_id: str, query: TimelineQuery):
    wanted = {"include_internal": roles.allowed(g.identity.role, "timeline:internal")}
    if query.type:
        wanted["types"] = query.type
    return tenant_call("timeline", "list_activities", customer_id, wanted, query.limit, query.cursor)


@API.route("/customers/<uuid:customer_id>/interactions", "POST", permission="timeline:write",
           summary="Log an interaction (call, meeting, note...) on a customer's timeline", tag="timeline",
           body=LogInteraction, status=201)
def log_interaction(customer_id: str, body: LogInteraction):
    return tenant_call("timeline", "log_interaction", customer_id, payload(body))

