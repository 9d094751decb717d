"""The tenant's time setup (billing service): time categories (each billable or internal by default),
billing defaults of customers and projects (what decides billability when neither the entry nor
its category does), the stopwatch's rules, and the named approvers of a member's timesheets.
Everyone who logs time reads the categories and the rules; owners and admins change them
(`time:setup`).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from flask import g
from pydantic import Field

from gateway import roles
from gateway.api import API, Body, Resource, page_of, payload
from gateway.rpc import tenant_call


class NewTimeCategory(Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    billable: bool = Field(description="time of this category is billable (else internal) unless the entry says")


class TimeCategoryChange(Body):
    billable: bool = None
    archived: bool = Field(default=None, description="archived: no new entries take it")


class TimeCategory(Resource):
    id: uuid.UUID
    name: str
    billable: bool
    archived: bool
    created_at: datetime | None


class BillingDefaultValue(Body):
    billable: bool | None = Field(description="the default; null removes it")


class BillingDefault(Resource):
    level: str
    subject_id: uuid.UUID
    billable: bool | None = Field(description="null: no default at this level")


class TimeSettingsChange(Body):
    timer_limit_minutes: int = Field(default=None, ge=15, le=1440, description="a timer running longer is flagged")
    idle_stop_minutes: int | None = Field(default=None, ge=5, le=1440,
                                          description="stop a timer idle this long (null: never)")
    one_timer_per_member: bool = None


class TimeSettings(Resource):
    timer_limit_minutes: int
    idle_stop_minutes: int | None
    one_timer_per_member: bool


class TimesheetApproverList(Body):
    approver_ids: list[uuid.UUID] = Field(max_length=50)


class TimesheetApprovers(Resource):
    member_id: uuid.UUID
    approver_ids: list[uuid.UUID]


@API.route("/time-categories", "GET", permission="time:write", summary="The tenant's time categories",
           tag="time setup", response=page_of(TimeCategory))
def list_time_categories():
    return tenant_call("billing", "list_time_categories")


@API.route("/time-categories", "POST", permission="time:setup", summary="Add a time category",
           tag="time setup", body=NewTimeCategory, status=201, location="/time-categories/{id}",
           response=TimeCategory, statuses=(409,))
def create_time_category(body: NewTimeCategory):
    return tenant_call("billing", "create_time_category", payload(body))


@API.route("/time-categories/<uuid:category_id>", "PATCH", permission="time:setup", tag="time setup",
           summary="Change a category's default or archive it", body=TimeCategoryChange, response=TimeCategory)
def update_time_category(category_id: str, body: TimeCategoryChange):
    return tenant_call("billing", "update_time_category", category_id, payload(body))


LEVELS = {"customers": "customer", "projects": "project"}  # another is billing's 404


@API.route("/billing-defaults/<level>/<uuid:subject_id>", "GET", permission="time:setup", tag="time setup",
           summary="Whether a customer's or project's time is billable by default", response=BillingDefault)
def get_billing_default(level: str, subject_id: str):
    return tenant_call("billing", "get_billing_default", LEVELS.get(level, level), subject_id)


@API.route("/billing-defaults/<level>/<uuid:subject_id>", "PUT", permission="time:setup", tag="time setup",
           summary="Set (or with null remove) a customer's or project's billing default", body=BillingDefaultValue,
           response=BillingDefault)
def set_billing_default(level: str, subject_id: str, body: BillingDefaultValue):
    if level == "customers":
        roles.check_customer(g.identity, subject_id)
    return tenant_call("billing", "set_billing_default", LEVELS.get(level, level), subject_id, payload(body))


@API.route("/time-settings", "GET", permission="time:write", summary="The stopwatch's rules", tag="time setup",
           response=TimeSettings)
def get_time_settings():
    return tenant_call("billing", "get_time_settings")


@API.route("/time-settings", "PATCH", permission="time:setup", summary="Change the stopwatch's rules",
           tag="time setup", body=TimeSettingsChange, response=TimeSettings)
def update_time_settings(body: TimeSettingsChange):
    return tenant_call("billing", "update_time_settings", payload(body))


@API.route("/timesheet-approvers/<uuid:member_id>", "GET", permission="time:setup", tag="time setup",
           summary="Who approves a member's timesheets (besides owners and admins)", response=TimesheetApprovers)
def get_timesheet_approvers(member_id: str):
    return tenant_call("billing", "get_timesheet_approvers", member_id)


@API.route("/timesheet-approvers/<uuid:member_id>", "PUT", permission="time:setup", tag="time setup",
           summary="Name who approves a member's timesheets", body=TimesheetApproverList, response=TimesheetApprovers)
def set_timesheet_approvers(member_id: str, body: TimesheetApproverList):
    return tenant_call("billing", "set_timesheet_approvers", member_id, payload(body))
