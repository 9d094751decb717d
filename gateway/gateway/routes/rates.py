"""Money setup (billing service): the tenant's invoicing profile, each customer's billing settings,
hourly rates, fixed fees and retainers, project budgets. Owners only (`billing:*`, DESIGN §4: an
admin does all but billing).

Amounts are integers of the currency's minor unit (cents for EUR, yen for JPY, fils for KWD);
a tax rate is parts per million (20 % = 200000). Which rate prices an entry: the most specific by
category > project > customer > member, the latest in effect on the day worked (billing.rates).
"""
from __future__ import annotations

import base64
import uuid
from datetime import date
from typing import Literal

from flask import request
from pydantic import Field

from custops.validation import Date
from gateway.api import API, Body, Query, Resource, page_of, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call

Money = Field(ge=0, le=10**15, description="minor units of the currency (cents, yen, fils)")
Currency = Field(min_length=3, max_length=3, pattern="^[A-Z]{3}$", description="ISO 4217 code")


class BillingProfileChange(Body):
    """Only the fields given change."""

    company_name: str = Field(default=None, max_length=500)
    address: str = Field(default=None, max_length=2_000)
    payment_details: str = Field(default=None, max_length=2_000, description="printed on every invoice")
    number_prefix: str = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9\-_/]*$")
    credit_note_prefix: str = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9\-_/]*$")
    rounding_increment: Literal[1, 5, 6, 10, 15, 30, 60] = Field(
        default=None, description="minutes billed time rounds up to at invoicing (1: none)")
    rounding_scope: Literal["entry", "day"] = Field(default=None, description="round each entry, or a member's day")
    line_grouping: Literal["project", "project_category", "project_member", "project_task"] = None
    default_currency: str = Field(default=None, min_length=3, max_length=3, pattern="^[A-Z]{3}$")
    payment_terms_days: int = Field(default=None, ge=0, le=365)


class BillingProfile(Resource):
    company_name: str
    address: str
    payment_details: str
    logo_sha256: str | None
    number_prefix: str
    credit_note_prefix: str
    rounding_increment: int
    rounding_scope: str
    line_grouping: str
    default_currency: str
    payment_terms_days: int
    revision: int


class CustomerBillingChange(Body):
    currency: str = Field(default=None, min_length=3, max_length=3, pattern="^[A-Z]{3}$")
    tax_name: str = Field(default=None, max_length=100)
    tax_rate_ppm: int = Field(default=None, ge=0, le=1_000_000, description="parts per million: 20 % = 200000")
    reverse_charge: bool = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365, description="null: the tenant's")
    billing_address: str = Field(default=None, max_length=2_000)
    tax_id: str = Field(default=None, max_length=100)


class CustomerBilling(Resource):
    customer_id: uuid.UUID
    currency: str
    tax_name: str
    tax_rate_ppm: int
    reverse_charge: bool
    payment_terms_days: int | None
    billing_address: str
    tax_id: str
    revision: int


class CreateRate(Body):
    hourly_amount: int = Money
    currency: str = Currency
    effective_from: Date = Field(description="the first day worked it prices")
    category: str | None = Field(default=None, min_length=1, max_length=100)
    project_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None


class RateQuery(Query):
    currency: str | None = Field(default=None, min_length=3, max_length=3, pattern="^[A-Z]{3}$")


class Rate(Resource):
    id: uuid.UUID
    hourly_amount: int
    currency: str
    effective_from: date
    category: str | None
    project_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    member_id: uuid.UUID | None


class CreateFixedFee(Body):
    customer_id: uuid.UUID
    project_id: uuid.UUID
    amount: int = Money
    currency: str = Currency
    bill_on: Date = Field(description="billed on the first invoice whose period ends on or after it")
    description: str = Field(default=None, min_length=1, max_length=500)


class FixedFee(Resource):
    id: uuid.UUID
    customer_id: uuid.UUID
    project_id: uuid.UUID
    amount: int
    currency: str
    bill_on: date
    description: str
    invoice_id: uuid.UUID | None


class CreateRetainer(Body):
    customer_id: uuid.UUID
    project_id: uuid.UUID | None = Field(default=None, description="only this project's time (default: all)")
    currency: str = Currency
    monthly_fee: int = Money
    included_minutes: int = Field(ge=0, le=44_640)
    overage_hourly: int | None = Field(default=None, ge=0, le=10**15, description="null: the normal rates")
    starts_on: Date
    ends_on: Date | None = None
    description: str = Field(default=None, min_length=1, max_length=500)


class Retainer(Resource):
    id: uuid.UUID
    customer_id: uuid.UUID
    project_id: uuid.UUID | None
    currency: str
    monthly_fee: int
    included_minutes: int
    overage_hourly: int | None
    starts_on: date
    ends_on: date | None
    description: str


class Agreements(Resource):
    fixed_fees: list[FixedFee]
    retainers: list[Retainer]


class SetBudget(Body):
    kind: Literal["hours", "money"]
    amount: int = Field(ge=1, le=10**15, description="minutes (hours budget) or minor units (money budget)")
    currency: str | None = Field(default=None, min_length=3, max_length=3, pattern="^[A-Z]{3}$",
                                 description="a money budget's currency")
    customer_id: uuid.UUID | None = None


class Budget(Resource):
    project_id: uuid.UUID
    kind: str
    amount: int
    used: int
    remaining: int
    percent_used: int
    thresholds_reached: list[int] = Field(description="of 80 and 100 (%); each told once as project.budget_threshold")


@API.route("/billing/profile", "GET", permission="billing:read", summary="The tenant's invoicing profile",
           tag="billing", response=BillingProfile)
def get_billing_profile():
    return tenant_call("billing", "get_billing_profile")


@API.route("/billing/profile", "PATCH", permission="billing:write", summary="Change the invoicing profile",
           tag="billing", body=BillingProfileChange, response=BillingProfile)
def set_billing_profile(body: BillingProfileChange):
    return tenant_call("billing", "set_billing_profile", payload(body))


# the logo printed on invoices: the bytes themselves (no JSON), checked here before they travel
LOGO_MAX_BYTES = 1_000_000  # billing's own limit (`set_billing_logo`)
LOGO_SIGNATURES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def logo_problem(media_type: str, content: bytes) -> Problem | None:
    """Why these bytes are not a logo, or None: PNG or JPEG (by Content-Type, and the bytes must
    start with that format's signature, so a mislabelled file is refused here), 1 byte to 1 MB."""
    if media_type not in LOGO_SIGNATURES:
        return Problem(415, "the logo must be sent as image/png or image/jpeg bytes (Content-Type)",
                       [{"field": "Content-Type", "message": "must be image/png or image/jpeg"}])
    if not content:
        return Problem(422, "the logo is empty", [{"field": "body", "message": "must not be empty"}])
    if len(content) > LOGO_MAX_BYTES:
        return Problem(413, "the logo is too large", [{"field": "body",
                                                       "message": f"at most {LOGO_MAX_BYTES} bytes"}])
    if not content.startswith(LOGO_SIGNATURES[media_type]):
        return Problem(422, f"the body is not a {media_type.split('/')[1].upper()} image",
                       [{"field": "body", "message": f"must be {media_type} bytes"}])
    return None


@API.route("/billing/profile/logo", "PUT", permission="billing:write", tag="billing", response=BillingProfile,
           statuses=(413, 415, 422),
           summary="Upload the logo printed on invoices: the PNG or JPEG bytes as the body (image/png or "
                   "image/jpeg), at most 1 MB")
def set_billing_logo():
    content = request.get_data(cache=True)
    refused = logo_problem(request.mimetype, content)
    if refused is not None:
        raise refused
    return tenant_call("billing", "set_billing_logo", base64.b64encode(content).decode("ascii"), request.mimetype)


set_billing_logo.raw_body_media_types = tuple(LOGO_SIGNATURES)  # the document says what body it takes


@API.route("/customers/<uuid:customer_id>/billing", "GET", permission="billing:read", tag="billing",
           summary="A customer's billing settings (currency, tax, terms)", response=CustomerBilling)
def get_customer_billing(customer_id: str):
    return tenant_call("billing", "get_customer_billing", customer_id)


@API.route("/customers/<uuid:customer_id>/billing", "PATCH", permission="billing:write", tag="billing",
           summary="Change a customer's billing settings", body=CustomerBillingChange, response=CustomerBilling)
def set_customer_billing(customer_id: str, body: CustomerBillingChange):
    return tenant_call("billing", "set_customer_billing", customer_id, payload(body))


@API.route("/rates", "POST", permission="billing:write", summary="Add an hourly rate from a date on", tag="billing",
           body=CreateRate, status=201, response=Rate)
def create_rate(body: CreateRate):
    return tenant_call("billing", "create_rate", payload(body))


@API.route("/rates", "GET", permission="billing:read", summary="The hourly rates", tag="billing", query=RateQuery,
           response=page_of(Rate))
def list_rates(query: RateQuery):
    return tenant_call("billing", "list_rates", query.model_dump(exclude_none=True))


@API.route("/fixed-fees", "POST", permission="billing:write", summary="Bill a project a fixed fee", tag="billing",
           body=CreateFixedFee, status=201, response=FixedFee)
def create_fixed_fee(body: CreateFixedFee):
    return tenant_call("billing", "create_fixed_fee", payload(body))


@API.route("/retainers", "POST", permission="billing:write", tag="billing", body=CreateRetainer, status=201,
           summary="A monthly retainer: a fee with included hours, overage billed", response=Retainer)
def create_retainer(body: CreateRetainer):
    return tenant_call("billing", "create_retainer", payload(body))


@API.route("/customers/<uuid:customer_id>/agreements", "GET", permission="billing:read", tag="billing",
           summary="A customer's fixed fees and retainers", response=Agreements)
def list_agreements(customer_id: str):
    return tenant_call("billing", "list_agreements", customer_id)


@API.route("/projects/<uuid:project_id>/budget", "PUT", permission="billing:write", tag="billing", body=SetBudget,
           summary="Set a project's budget (hours or money)", response=Budget)
def set_budget(project_id: str, body: SetBudget):
    return tenant_call("billing", "set_budget", project_id, payload(body))


@API.route("/projects/<uuid:project_id>/budget", "GET", permission="billing:read", tag="billing",
           summary="A project's budget: used and remaining", response=Budget)
def get_budget(project_id: str):
    return tenant_call("billing", "get_budget", project_id)
