"""The customer portal: invite a contact (`.../portal-invite`), exchange the invite for a portal API
token (`POST /portal/accept`, the one route besides `/openapi.json` that needs no bearer token: the
invite is the credential), take portal access away (`DELETE .../portal-access`).

A portal token authenticates as a `portal` user of the contact's company (`roles.customer_scope`)
who acts as that contact (`auth.Identity.actor_caller`): their company's tickets and public messages,
opening tickets and replying as a customer, nothing else. What a portal user sees is the rule in
docs/access.md ("The customer portal").
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from flask import g
from pydantic import Field

from gateway import roles, rpc
from gateway.api import API, Body, Resource, payload
from gateway.routes.customers import Contact
from gateway.rpc import tenant_call


class InvitePortalUser(Body):
    expires_in_days: int | None = Field(default=None, ge=1, le=30,
                                        description="how long the invite lives, in days (default 7)")


class PortalInvite(Resource):
    id: uuid.UUID
    contact_id: uuid.UUID
    customer_id: uuid.UUID
    email: str = Field(description="the contact's address, where the link is to be sent")
    expires_at: datetime
    invite: str = Field(description="the one-time link token: shown this once, stored hashed; "
                                    "`POST /portal/accept` exchanges it")


class AcceptInvite(Body):
    invite: str = Field(min_length=1, max_length=200)


class PortalToken(Resource):
    tenant_id: uuid.UUID
    member_id: uuid.UUID = Field(description="the portal user")
    contact_id: uuid.UUID = Field(description="the contact the portal user is, and writes as")
    customer_id: uuid.UUID = Field(description="the company whose tickets the portal user sees")
    role: Literal["portal"]
    token: str = Field(description="the portal API token: shown this once")
    token_id: uuid.UUID
    prefix: str
    expires_at: datetime | None


@API.route("/customers/<uuid:customer_id>/contacts/<uuid:contact_id>/portal-invite", "POST",
           permission="customers:write", summary="Invite a contact with portal access to the portal (one-time link)",
           tag="portal", body=InvitePortalUser, status=201, response=PortalInvite)
def invite_portal_user(customer_id: str, contact_id: str, body: InvitePortalUser):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "invite_portal_user", customer_id, contact_id, payload(body))


@API.route("/customers/<uuid:customer_id>/contacts/<uuid:contact_id>/portal-access", "DELETE",
           permission="customers:write", summary="Take a contact's portal access away (its portal tokens stop)",
           tag="portal", response=Contact)
def revoke_portal_access(customer_id: str, contact_id: str):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("customers", "revoke_portal_access", customer_id, contact_id)


# No bearer token: the invite is the credential. Unknown → 404; used, expired or access withdrawn
# since → 410; the contact's address is a team member's → 409.
@API.route("/portal/accept", "POST", permission=None, summary="Exchange a portal invite for a portal API token",
           tag="portal", body=AcceptInvite, status=201, response=PortalToken, statuses=(404, 409, 410))
def accept_portal_invite(body: AcceptInvite):
    return rpc.call("customers", "accept_portal_invite", body.invite)
