"""`/tenant`: the settings of the caller's own tenant (customers service, which tells them to the
services that compute in the tenant's time: SLA calendars' default zone, "this week" in reports)."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from custops.contracts.customers import WeekStart
from gateway.api import API, Body, Resource, payload
from gateway.rpc import tenant_call

TIMEZONE_DESCRIPTION = ("an IANA time zone name (e.g. `Europe/Berlin`, `America/New_York`, `UTC`); "
                        "an unknown name is a 422")
LOCALE_DESCRIPTION = ("a BCP 47 language tag (e.g. `en`, `en-GB`, `de-CH`, `pt-BR`), stored in canonical case; "
                      "a malformed tag is a 422")


class Tenant(Resource):
    id: uuid.UUID
    name: str
    timezone: str = Field(description="the tenant's IANA time zone: its business days and weeks")
    locale: str = Field(description="the tenant's BCP 47 language tag: how dates and numbers are written")
    week_start: WeekStart = Field(description="the first day of the tenant's week")
    created_at: datetime


class UpdateTenant(Body):
    """Only the fields given change; none may be null."""

    name: str = Field(default=None, min_length=1, max_length=200)
    timezone: str = Field(default=None, min_length=1, max_length=64, description=TIMEZONE_DESCRIPTION)
    locale: str = Field(default=None, min_length=2, max_length=35, description=LOCALE_DESCRIPTION)
    week_start: WeekStart = None


@API.route("/tenant", "GET", permission="tenant:read", summary="The tenant's settings", tag="tenant",
           response=Tenant)
def get_tenant():
    return tenant_call("customers", "get_tenant")


@API.route("/tenant", "PATCH", permission="tenant:write",
           summary="Change the tenant's name, timezone, locale or week start (reports and SLA calendars follow)",
           tag="tenant",
           body=UpdateTenant, response=Tenant)
def update_tenant(body: UpdateTenant):
    return tenant_call("customers", "update_tenant_settings", payload(body))
