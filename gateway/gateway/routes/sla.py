"""`/sla`: SLA policies, the business-hours calendar and SLA settings (tickets service), and a
ticket's SLA timers. Staff read them; only owners and admins change them."""
from __future__ import annotations

import json
from typing import Annotated, Literal

from flask import request
from pydantic import Field

from custops.contracts.tickets import Priority
from gateway.api import API, Body, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call

Tier = Literal["enterprise", "mid_market", "smb"]
Minutes = Annotated[int, Field(gt=0, le=525_600)]
Status = Annotated[str, Field(min_length=1, max_length=30)]  # the tickets service knows the statuses


class PutPolicy(Body):
    tier: Tier | None = None
    priority: Priority | None = None
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None


class PutCalendar(Body):
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = None
    weekly_slots: dict[str, list[Annotated[list[str], Field(min_length=2, max_length=2)]]] = None
    holidays: Annotated[list[str], Field(max_length=2000)] = None
    always_open: bool = None


class Escalation(Body):
    raise_priority: bool = None
    reassign_to: Annotated[str, Field(min_length=1, max_length=64)] = None


class PutSettings(Body):
    pause_statuses: list[Status] = None
    warning_fraction: Annotated[float, Field(gt=0, le=1)] = None
    escalation: Escalation = None


@API.route("/sla/policies", "GET", permission="sla:read", summary="List the SLA policies", tag="sla")
def list_policies():
    return {"items": tenant_call("tickets", "list_sla_policies")}


@API.route("/sla/policies", "PUT", permission="sla:write", tag="sla", body=PutPolicy,
           summary="Create or replace the SLA policy for a tier and/or priority (open tickets are recomputed)")
def put_policy(body: PutPolicy):
    return tenant_call("tickets", "put_sla_policy", payload(body))


@API.route("/sla/policies/<uuid:policy_id>", "DELETE", permission="sla:write", tag="sla",
           summary="Delete an SLA policy (not the tenant default)")
def delete_policy(policy_id: str):
    return tenant_call("tickets", "delete_sla_policy", policy_id)


@API.route("/sla/calendar", "GET", permission="sla:read", summary="Get the business-hours calendar", tag="sla")
def get_calendar():
    return tenant_call("tickets", "get_business_calendar")


@API.route("/sla/calendar", "PUT", permission="sla:write", tag="sla", body=PutCalendar,
           summary="Replace the business-hours calendar (open tickets are recomputed)")
def put_calendar(body: PutCalendar):
    return tenant_call("tickets", "put_business_calendar", payload(body))


@API.route("/sla/calendar/holidays", "POST", permission="sla:write", tag="sla",
           summary="Import holidays from an iCalendar file (text/calendar body, or JSON {\"ics\": ...})")
def import_holidays():
    if request.mimetype == "text/calendar":
        ics = request.get_data(as_text=True)
    elif request.mimetype == "application/json":
        try:
            document = json.loads(request.get_data())
        except ValueError as exc:
            raise Problem(400, f"the request body is not valid JSON: {exc}") from None
        ics = document.get("ics") if isinstance(document, dict) else None
        if not isinstance(ics, str) or set(document) != {"ics"}:
            raise Problem(400, "the request body is not valid", [{"field": "ics", "message": "a string is required"}])
    else:
        raise Problem(415, "send an iCalendar file (text/calendar) or JSON {\"ics\": ...}")
    return tenant_call("tickets", "import_holidays_ics", ics)


@API.route("/sla/settings", "GET", permission="sla:read", summary="Get the SLA settings", tag="sla")
def get_settings():
    return tenant_call("tickets", "get_sla_settings")


@API.route("/sla/settings", "PUT", permission="sla:write", tag="sla", body=PutSettings,
           summary="Change pause statuses, warning lead or breach escalation (open tickets are recomputed)")
def put_settings(body: PutSettings):
    return tenant_call("tickets", "put_sla_settings", payload(body))


@API.route("/tickets/<uuid:ticket_id>/sla", "GET", permission="sla:read", tag="sla",
           summary="A ticket's SLA timers (deadlines, met, breached, versions) and pause intervals")
def get_ticket_sla(ticket_id: str):
    return tenant_call("tickets", "get_ticket_sla", ticket_id)
