"""`/customers`: the customer directory, contacts and account teams (customers service). Members,
contractors and read-only users see the customers they own or are on the account team of
(`roles.visible_customer_ids`); any other customer does not exist for them (404)."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from flask import g
from pydantic import Field

from custops.contracts.customers import LifecycleStage, Tier
from custops.validation import Date
from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, filters, page_of, payload
from gateway.rpc import tenant_call

# Bounds on size only; what makes a good name or domain is the customers service's call.
Name = Annotated[str, Field(min_length=1, max_length=500)]
Domains = Annotated[list[Annotated[str, Field(max_length=253)]], Field(max_length=100)]


# custom-field values by key (the tenant's definitions, `/custom-fields`, say what each takes)
CustomFieldValues = Annotated[dict[str, Any], Field(max_length=100, description="values of the tenant's custom "
                                                    "fields by key (checked against `/custom-fields`)")]
LIFECYCLE = "where the account is: onboarding, active, renewal, churned (each change is dated, `/lifecycle`)"


class CreateCustomer(Body):
    name: Name
    tier: Tier
    domains: Domains = None
    owner_id: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage = Field(default=None, description=LIFECYCLE)
    start_date: Date | None = Field(default=None, description="Day 0 of its onboarding plans")
    renewal_date: Date | None = None
    custom_fields: CustomFieldValues = None


class UpdateCustomer(Body):
    """Only the fields given change; `owner_id: null` removes the owner, other fields cannot be null."""

    name: Name = None
    tier: Tier = None
    domains: Domains = None
    owner_id: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage = Field(default=None, description=LIFECYCLE)
    start_date: Date | None = Field(default=None, description="a new start date re-plans every not-done task of "
                                                               "its onboarding plans (`replanned` says what moved)")
    renewal_date: Date | None = None
    exec_sponsor_contact_id: uuid.UUID | None = Field(default=None, description="a contact of this customer")
    custom_fields: CustomFieldValues = Field(default=None, description="merged into the stored values; a key "
                                                                       "given null removes its value")


class CustomerQuery(Paged):
    tier: Tier | None = None
    owner_id: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage | None = None
    renewal_before: Date | None = Field(default=None, description="customers renewing before this date")
    custom_field: list[Annotated[str, Field(min_length=3, max_length=300, pattern=r"^[a-z][a-z0-9_]*:.+$")]] = Field(
        default=None, max_length=10, description="`key:value` (repeatable, all must hold): equal to the value; "
                                                 "for a multi-select, one of the chosen options")
    q: str | None = Field(default=None, min_length=1, max_length=200, description="search in names and domains")


class CreateContact(Body):
    name: Name
    email: str = Field(min_length=3, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    portal_access: bool = False


class Customer(Resource):
    id: uuid.UUID
    name: str
    tier: Tier
    domains: list[str] = Field(description="mail domains whose senders belong to this customer, sorted")
    owner_id: uuid.UUID | None = Field(description="the team member who owns the account")
    created_at: datetime
    updated_at: datetime
    lifecycle_stage: LifecycleStage
    lifecycle_changed_at: datetime | None
    start_date: date | None
    renewal_date: date | None
    exec_sponsor_contact_id: uuid.UUID | None
    custom_fields: dict[str, Any]
    latest_csat: int | None = Field(default=None, description="the latest CSAT score (1–5) a contact gave in a form")
    latest_nps: int | None = Field(default=None, description="the latest NPS score (0–10) a contact gave in a form")
    latest_score_at: datetime | None = None
    replanned: list[dict[str, Any]] = Field(default=None, description="after a new start date only: each "
                                            "onboarding plan re-planned, `{project_id, moves: [{task_id, from, to}]}`")


class ContactQuery(Query):
    include_archived: bool = Field(default=False, description="archived contacts too")


class Contact(Resource):
    id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    email: str
    phone: str | None
    portal_access: bool
    created_at: datetime
    archived_at: datetime | None = Field(description="when it was archived: no longer listed by default, "
                                                     "nor accepted as the contact of a new ticket")


@API.route("/customers", "POST", permission="customers:write", summary="Create a customer", tag="customers",
           body=CreateCustomer, status=201, location="/customers/{id}", response=Customer, statuses=(409,))
def create_customer(body: CreateCustomer):
    return tenant_call("customers", "create_customer", payload(body))


@API.route("/customers", "GET", permission="customers:read", summary="List customers", tag="customers",
           query=CustomerQuery, response=page_of(Customer))
def list_customers(query: CustomerQuery):
    wanted = filters(query)
    visible = roles.visible_customer_ids(g.identity)
    if visible is not None:
        wanted["customer_ids"] = visible
    return tenant_call("customers", "list_customers", wanted, query.limit, query.cursor)


@API.route("/customers/<uuid:customer_id>", "GET", permission="customers:read", summary="Get a customer",
           tag="customers", response=Customer)
def get_customer(customer_id: str):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "get_customer", customer_id)


@API.route("/customers/<uuid:customer_id>", "PATCH", permission="customers:write",
           summary="Change a customer", tag="customers", body=UpdateCustomer, response=Customer, statuses=(409,))
def update_customer(customer_id: str, body: UpdateCustomer):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "update_customer", customer_id, payload(body))


@API.route("/customers/<uuid:customer_id>/contacts", "POST", permission="customers:write",
           summary="Add a contact to a customer", tag="customers", body=CreateContact, status=201,
           response=Contact, statuses=(409,))
def create_contact(customer_id: str, body: CreateContact):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "create_contact", customer_id, payload(body))


@API.route("/customers/<uuid:customer_id>/contacts", "GET", permission="customers:read",
           summary="List a customer's contacts (not archived ones, unless asked)", tag="customers",
           query=ContactQuery, response=page_of(Contact))
def list_contacts(customer_id: str, query: ContactQuery):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "list_contacts", customer_id, filters(query))


# Archive rather than DELETE: the contact stays for the history that names it (tickets, timeline)
# and its address stays taken; archiving again is a no-op that answers the same contact.
@API.route("/customers/<uuid:customer_id>/contacts/<uuid:contact_id>/archive", "POST",
           permission="customers:write", summary="Archive a contact (kept for history, out of lists)",
           tag="customers", response=Contact)
def archive_contact(customer_id: str, contact_id: str):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "archive_contact", customer_id, contact_id)


# --- account teams: who works on a customer (its owner is `owner_id`); they, and only they among
# members, contractors and read-only users, see it ---

class PutTeamMember(Body):
    internal_access: bool = Field(default=False, description="a contractor on the team sees the customer's "
                                                             "internal notes and timeline entries too")


class TeamAssignment(Resource):
    member_id: uuid.UUID
    internal_access: bool
    added_at: datetime


class AccountTeam(Resource):
    customer_id: uuid.UUID
    owner_id: uuid.UUID | None = Field(description="the member who owns the account (in scope as well)")
    members: list[TeamAssignment] = Field(description="oldest assignment first")


@API.route("/customers/<uuid:customer_id>/team", "GET", permission="customers:read",
           summary="A customer's account team", tag="customers", response=AccountTeam)
def get_account_team(customer_id: str):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "get_account_team", customer_id)


@API.route("/customers/<uuid:customer_id>/team/<uuid:member_id>", "PUT", permission="customers:write",
           summary="Put a member on a customer's account team (or change their internal access)",
           tag="customers", body=PutTeamMember, response=AccountTeam)
def put_account_team_member(customer_id: str, member_id: str, body: PutTeamMember):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "put_account_team_member", customer_id, member_id, payload(body))


@API.route("/customers/<uuid:customer_id>/team/<uuid:member_id>", "DELETE", permission="customers:write",
           summary="Take a member off a customer's account team", tag="customers", response=AccountTeam)
def remove_account_team_member(customer_id: str, member_id: str):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "remove_account_team_member", customer_id, member_id)


# --- the profile's history and the tenant's custom fields ---

class LifecycleChange(Resource):
    stage: LifecycleStage
    previous_stage: LifecycleStage | None
    changed_at: datetime
    changed_by: uuid.UUID | None = Field(description="the member who changed it (null: the system)")


@API.route("/customers/<uuid:customer_id>/lifecycle", "GET", permission="customers:read",
           summary="Every lifecycle stage of a customer, oldest first, with the date of each change",
           tag="customers", response=page_of(LifecycleChange))
def customer_lifecycle(customer_id: str):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "customer_lifecycle", customer_id)


FieldType = Literal["text", "number", "date", "select", "multi_select", "boolean", "url"]


class PutCustomField(Body):
    label: Annotated[str, Field(min_length=1, max_length=200)]
    type: FieldType
    options: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=100)] = Field(
        default=None, description="the choices of a select or multi_select (required for those, refused for others)")
    required: bool = Field(default=None, description="every customer must have a value")


class CustomField(Resource):
    id: uuid.UUID
    key: str
    label: str
    type: FieldType
    options: list[str]
    required: bool
    created_at: datetime | None


class Removed(Resource):
    key: str
    deleted: bool


@API.route("/custom-fields", "GET", permission="customers:read", summary="The tenant's custom fields of customers",
           tag="customers", response=page_of(CustomField))
def list_custom_fields():
    return tenant_call("customers", "list_custom_fields")


@API.route("/custom-fields/<key>", "PUT", permission="customers:write", tag="customers", body=PutCustomField,
           summary="Define or redefine a custom field (`key`: lower-case letters, digits, _)", response=CustomField,
           statuses=(409,))
def put_custom_field(key: str, body: PutCustomField):
    return tenant_call("customers", "put_custom_field", key, payload(body))


@API.route("/custom-fields/<key>", "DELETE", permission="customers:write", tag="customers",
           summary="Remove a custom field (and every customer's value of it)", response=Removed,
           statuses=(422,))  # a `key` that is no field key (lower-case letters, digits, _) names the field
def remove_custom_field(key: str):
    return tenant_call("customers", "remove_custom_field", key)
