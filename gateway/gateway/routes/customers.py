"""`/customers`: the customer directory, contacts and account teams (customers service). Members,
contractors and read-only users see the customers they own or are on the account team of
(`roles.visible_customer_ids`); any other customer does not exist for them (404)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from flask import g
from pydantic import Field

from custops.contracts.customers import Tier
from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, filters, page_of, payload
from gateway.rpc import tenant_call

# Bounds on size only; what makes a good name or domain is the customers service's call.
Name = Annotated[str, Field(min_length=1, max_length=500)]
Domains = Annotated[list[Annotated[str, Field(max_length=253)]], Field(max_length=100)]


class CreateCustomer(Body):
    name: Name
    tier: Tier
    domains: Domains = None
    owner_id: uuid.UUID | None = None


class UpdateCustomer(Body):
    """Only the fields given change; `owner_id: null` removes the owner, other fields cannot be null."""

    name: Name = None
    tier: Tier = None
    domains: Domains = None
    owner_id: uuid.UUID | None = None


class CustomerQuery(Paged):
    tier: Tier | None = None
    owner_id: uuid.UUID | None = None
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
