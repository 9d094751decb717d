"""`/me`, `/members`, their tokens and `/tokens/{id}`: the team and its API tokens (customers service).

Who may call each route is `gateway.roles` (`members:*`, `tokens:*`, `me:read`); who may change which
member — only an owner touches owners, the last active owner stays — is the customers service's
rule, which answers 403 or 409. A created token is in the answer once (`token`); lists show its
prefix only. Revoking a token, deactivating a member or changing a role takes effect on every
gateway process within about a second (`gateway.revocations`).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from flask import g
from pydantic import AwareDatetime, BaseModel, Field

from custops.contracts.customers import Role
from gateway import roles
from gateway.api import API, Body, Paged, Resource, filters, page_of, payload
from gateway.routes.tenant import TIMEZONE_DESCRIPTION
from gateway.rpc import tenant_call

# the roles the members API hands out; portal users come with a contact's portal access
TeamRole = Literal["owner", "admin", "member", "contractor", "read_only"]


class Member(Resource):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    customer_id: uuid.UUID | None = Field(description="a portal user's company; null for team members")
    timezone: str | None = Field(description="the member's IANA zone; null: the tenant's")
    active: bool = Field(description="false once deactivated: none of their tokens works")
    deactivated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CreateMember(Body):
    email: str = Field(min_length=3, max_length=320, description="unique in the tenant")
    name: str = Field(min_length=1, max_length=200)
    role: TeamRole = Field(description="only an owner adds an owner")
    timezone: str | None = Field(default=None, min_length=1, max_length=64, description=TIMEZONE_DESCRIPTION)


class UpdateMember(Body):
    """Only the fields given change; `timezone: null` makes the member follow the tenant's zone."""

    name: str = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64, description=TIMEZONE_DESCRIPTION)
    role: TeamRole = Field(default=None, description="only an owner makes or changes owners; the last "
                                                     "active owner keeps the role (409)")


class MemberQuery(Paged):
    role: Role | None = None
    active: bool | None = Field(default=None, description="true: active members only; false: deactivated only")
    q: str | None = Field(default=None, min_length=1, max_length=200, description="search in names and addresses")


class Token(Resource):
    id: uuid.UUID
    member_id: uuid.UUID
    name: str
    prefix: str = Field(description="the token's first characters, to tell it apart; not a secret")
    read_only: bool = Field(description="a read-only token may only read (GET), whatever the member's role")
    created_at: datetime
    last_used_at: datetime | None = Field(description="to within a minute; null: never used")
    expires_at: datetime | None = Field(description="null: until revoked")
    revoked_at: datetime | None
    active: bool = Field(description="neither revoked nor expired")


class IssuedToken(Token):
    token: str = Field(description="the token itself: shown this once, never again (it is stored hashed)")


class IssueToken(Body):
    name: str = Field(min_length=1, max_length=100, description="what the token is for, e.g. `ci`, `laptop`")
    expires_at: AwareDatetime | None = Field(default=None, description="in the future; null: until revoked")
    read_only: bool = False


class TenantRef(BaseModel):
    id: uuid.UUID
    name: str


class CurrentToken(BaseModel):
    id: uuid.UUID | None
    read_only: bool
    expires_at: datetime | None


class Me(Resource):
    id: uuid.UUID
    name: str
    email: str
    role: Role
    timezone: str | None
    customer_id: uuid.UUID | None
    tenant: TenantRef
    permissions: list[str] = Field(description="what this member's role may do (`gateway.roles`)")
    token: CurrentToken = Field(description="the token of this request")


def _issue(member_id: str, body: IssueToken) -> dict:
    options = payload(body)
    name = options.pop("name")
    return tenant_call("customers", "issue_token", member_id, name, options)


# --- me ---

@API.route("/me", "GET", permission="me:read", summary="Who am I: my member, role, tenant and permissions",
           tag="members", response=Me)
def get_me():
    me = tenant_call("customers", "whoami", g.identity.member_id)
    identity = g.identity
    fields = ("id", "name", "email", "role", "timezone", "customer_id", "tenant")
    return {**{key: me.get(key) for key in fields}, "permissions": roles.permissions_of(me.get("role")),
            "token": {"id": identity.token_id, "read_only": identity.read_only,
                      "expires_at": identity.expires_at.isoformat() if identity.expires_at else None}}


@API.route("/me/tokens", "GET", permission="tokens:own", summary="My API tokens (prefixes, never the tokens)",
           tag="members", response=page_of(Token))
def list_my_tokens():
    return tenant_call("customers", "list_tokens", g.identity.member_id)


@API.route("/me/tokens", "POST", permission="tokens:own", summary="Issue myself an API token (shown once)",
           tag="members", body=IssueToken, status=201, response=IssuedToken, statuses=(409,))
def issue_my_token(body: IssueToken):
    return _issue(g.identity.member_id, body)


# --- members ---

@API.route("/members", "GET", permission="members:read", summary="List the tenant's members", tag="members",
           query=MemberQuery, response=page_of(Member))
def list_members(query: MemberQuery):
    return tenant_call("customers", "list_members", filters(query), query.limit, query.cursor)


@API.route("/members", "POST", permission="members:write", summary="Add (invite) a member", tag="members",
           body=CreateMember, status=201, location="/members/{id}", response=Member, statuses=(409,))
def create_member(body: CreateMember):
    return tenant_call("customers", "create_member", payload(body))


@API.route("/members/<uuid:member_id>", "GET", permission="members:read", summary="Get a member", tag="members",
           response=Member)
def get_member(member_id: str):
    return tenant_call("customers", "get_member", member_id)


@API.route("/members/<uuid:member_id>", "PATCH", permission="members:write",
           summary="Change a member's name, timezone or role", tag="members", body=UpdateMember, response=Member,
           statuses=(409,))
def update_member(member_id: str, body: UpdateMember):
    return tenant_call("customers", "update_member", member_id, payload(body))


@API.route("/members/<uuid:member_id>/deactivate", "POST", permission="members:write",
           summary="Deactivate a member: all their tokens stop working at once", tag="members", response=Member,
           statuses=(409,))
def deactivate_member(member_id: str):
    return tenant_call("customers", "deactivate_member", member_id)


@API.route("/members/<uuid:member_id>/reactivate", "POST", permission="members:write",
           summary="Reactivate a member (their old tokens stay revoked)", tag="members", response=Member)
def reactivate_member(member_id: str):
    return tenant_call("customers", "reactivate_member", member_id)


@API.route("/members/<uuid:member_id>/tokens", "GET", permission="tokens:others",
           summary="A member's API tokens (prefixes, never the tokens)", tag="members", response=page_of(Token))
def list_member_tokens(member_id: str):
    return tenant_call("customers", "list_tokens", member_id)


@API.route("/members/<uuid:member_id>/tokens", "POST", permission="tokens:others",
           summary="Issue a member an API token (shown once)", tag="members", body=IssueToken, status=201,
           response=IssuedToken, statuses=(409,))
def issue_member_token(member_id: str, body: IssueToken):
    return _issue(member_id, body)


# --- tokens ---

@API.route("/tokens/<uuid:token_id>", "DELETE", permission="tokens:own",
           summary="Revoke an API token (my own; a manager's: anyone's)", tag="members", response=Token)
def revoke_token(token_id: str):
    return tenant_call("customers", "revoke_token", token_id, roles.token_member_scope(g.identity))
