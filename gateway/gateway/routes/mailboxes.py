"""`/mailboxes`: support mailboxes, their server settings and their sync; `/mail`: the unassigned queue
and the quarantine of stored mail (mailsync service)."""
from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated, Literal

from flask import Response, g
from pydantic import Field

from gateway import roles
from gateway.api import API, Body, Paged, Resource, filters, page_of, payload
from gateway.rpc import tenant_call

Text = Annotated[str, Field(min_length=1, max_length=320)]
Port = Annotated[int, Field(ge=1, le=65535)]
Host = Annotated[str, Field(min_length=1, max_length=253)]
WriteOnlySecret = Annotated[str, Field(min_length=1, max_length=4000, repr=False,
                                       json_schema_extra={"writeOnly": True})]
CaPem = Annotated[str, Field(max_length=100_000, description="PEM certificates the servers' TLS certificates "
                                                             "are checked against (instead of the system's CAs)")]
Addresses = Annotated[list[Text], Field(max_length=50, description=(
    "the addresses the mailbox receives for besides its email (aliases, plus-addresses), at most 50, each "
    "an email address no other mailbox of the tenant receives for: such recipients are never participants, "
    "mail from them is our own come back, and mail for them arriving at a shared catch-all is routed here"))]


class MailboxAuth(Body):
    """How the mailbox logs in: `password`, or `oauth2` (SASL XOAUTH2 with a refresh token; `provider`
    google or microsoft presets the token endpoint and the servers, `custom` needs `token_url`).
    Secrets are write-only; on a change, an OAuth2 client secret or refresh token left out keeps the
    stored one of the same provider."""

    type: Literal["password", "oauth2"]
    password: Annotated[str, Field(min_length=1, max_length=1000, repr=False,
                                   json_schema_extra={"writeOnly": True})] = None
    provider: Literal["google", "microsoft", "custom"] = None
    client_id: Annotated[str, Field(min_length=1, max_length=500)] = None
    client_secret: WriteOnlySecret = None
    refresh_token: WriteOnlySecret = None
    token_url: Annotated[str, Field(min_length=1, max_length=2000,
                                    description="https (http only to loopback); default: the provider's")] = None
    tenant: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9.\-]+$",
                                 description="Microsoft's directory (default common)")] = None
    scope: Annotated[str, Field(min_length=1, max_length=1000)] = None


class MailboxAuthShown(Resource):
    """How the mailbox logs in, without a secret."""

    type: Literal["password", "oauth2"]
    provider: str | None = None
    client_id: str | None = None
    token_url: str | None = None
    scope: str | None = None
    has_refresh_token: bool | None = None


class CreateMailbox(Body):
    """A `password` or an `auth`; hosts and ports left out are the OAuth2 provider's presets."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Text
    imap_host: Host = None
    imap_port: Port = None
    imap_tls: bool = None
    imap_starttls: bool = None
    smtp_host: Host = None
    smtp_port: Port = None
    smtp_starttls: bool = None
    tls_verify: bool = None
    tls_ca_pem: CaPem = None
    username: Text
    # plain str so it reaches the service; repr=False keeps it out of reprs and logs
    password: Annotated[str, Field(min_length=1, max_length=1000, repr=False,
                                   json_schema_extra={"writeOnly": True})] = None
    auth: MailboxAuth = None
    enabled: bool = None
    addresses: Addresses = None


class MailboxQuery(Paged):
    enabled: bool | None = None


class Mailbox(Resource):
    """A mailbox's settings; the password is never answered (`has_password` says whether one is set)."""

    id: uuid.UUID
    name: str
    email: str
    imap_host: str
    imap_port: int
    imap_tls: bool
    smtp_host: str
    smtp_port: int
    smtp_starttls: bool
    username: str
    has_password: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime
    imap_starttls: bool
    tls_verify: bool
    tls_ca_pem: str | None
    auth: MailboxAuthShown
    addresses: list[str]


@API.route("/mailboxes", "POST", permission="mailboxes:write", summary="Add a mailbox", tag="mailboxes",
           body=CreateMailbox, status=201, location="/mailboxes/{id}", response=Mailbox, statuses=(409,))
def create_mailbox(body: CreateMailbox):
    return tenant_call("mailsync", "create_mailbox", payload(body))


@API.route("/mailboxes", "GET", permission="mailboxes:read", summary="List mailboxes", tag="mailboxes",
           query=MailboxQuery, response=page_of(Mailbox))
def list_mailboxes(query: MailboxQuery):
    return tenant_call("mailsync", "list_mailboxes", filters(query), query.limit, query.cursor)


@API.route("/mailboxes/<uuid:mailbox_id>", "GET", permission="mailboxes:read", summary="Get a mailbox",
           tag="mailboxes", response=Mailbox)
def get_mailbox(mailbox_id: str):
    return tenant_call("mailsync", "get_mailbox", mailbox_id)


class UpdateMailbox(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)] = None
    email: Text = None
    imap_host: Annotated[str, Field(min_length=1, max_length=253)] = None
    imap_port: Port = None
    imap_tls: bool = None
    imap_starttls: bool = None
    smtp_host: Annotated[str, Field(min_length=1, max_length=253)] = None
    smtp_port: Port = None
    smtp_starttls: bool = None
    tls_verify: bool = None
    tls_ca_pem: Annotated[str, Field(max_length=100_000, description='"" removes the mailbox\'s own CA')] = None
    username: Text = None
    password: Annotated[str, Field(min_length=1, max_length=1000, repr=False,
                                   json_schema_extra={"writeOnly": True})] = None
    auth: MailboxAuth = None
    enabled: bool = None
    addresses: Annotated[Addresses, Field(description="the whole list ([] removes every alias)")] = None


class Deleted(Resource):
    id: uuid.UUID
    deleted: bool


@API.route("/mailboxes/<uuid:mailbox_id>", "PATCH", permission="mailboxes:write", summary="Change a mailbox",
           tag="mailboxes", body=UpdateMailbox, response=Mailbox, statuses=(409,))
def update_mailbox(mailbox_id: str, body: UpdateMailbox):
    return tenant_call("mailsync", "update_mailbox", mailbox_id, payload(body))


@API.route("/mailboxes/<uuid:mailbox_id>", "DELETE", permission="mailboxes:write", summary="Remove a mailbox",
           tag="mailboxes", response=Deleted)
def delete_mailbox(mailbox_id: str):
    return tenant_call("mailsync", "delete_mailbox", mailbox_id)


# --- intake: folders, pause/resume, connection test, status ---

Folder = Annotated[str, Field(min_length=1, max_length=200)]


class WatchFolders(Body):
    folders: list[Folder] = Field(min_length=1, max_length=20)


class MailboxStatus(Resource):
    """Where a mailbox's sync stands: connected (IDLE or polling), its last sync, its last error, the
    messages still waiting on the server."""

    mailbox_id: uuid.UUID
    enabled: bool
    paused: bool
    folders: list[str]
    connected: bool
    mode: Literal["idle", "poll"] | None
    last_sync_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    backlog: int


class ConnectionTest(Resource):
    """`ok`, or why not: `kind` is dns, connect, tls, auth, oauth2 (the token endpoint refused the refresh),
    folder, secret or protocol, `reason` says it."""

    ok: bool
    kind: str | None = None
    reason: str | None = None
    idle: bool | None = None
    folders: dict[str, int] | None = None


@API.route("/mailboxes/<uuid:mailbox_id>/folders", "PUT", permission="mailboxes:write", tag="mailboxes",
           summary="Set the folders a mailbox's sync watches", body=WatchFolders, response=MailboxStatus)
def watch_folders(mailbox_id: str, body: WatchFolders):
    return tenant_call("mailsync", "watch_folders", mailbox_id, payload(body))


@API.route("/mailboxes/<uuid:mailbox_id>/pause", "POST", permission="mailboxes:write", tag="mailboxes",
           summary="Pause a mailbox's sync (its position is kept)", response=MailboxStatus)
def pause_mailbox(mailbox_id: str):
    return tenant_call("mailsync", "pause_mailbox", mailbox_id)


@API.route("/mailboxes/<uuid:mailbox_id>/resume", "POST", permission="mailboxes:write", tag="mailboxes",
           summary="Resume a mailbox's sync where it stopped", response=MailboxStatus)
def resume_mailbox(mailbox_id: str):
    return tenant_call("mailsync", "resume_mailbox", mailbox_id)


@API.route("/mailboxes/<uuid:mailbox_id>/test", "POST", permission="mailboxes:write", tag="mailboxes",
           summary="Test a mailbox's IMAP connection (why it fails: DNS, TLS, auth, OAuth2, folder)",
           response=ConnectionTest)
def test_mailbox_connection(mailbox_id: str):
    return tenant_call("mailsync", "test_mailbox_connection", mailbox_id)


@API.route("/mailboxes/<uuid:mailbox_id>/status", "GET", permission="mailboxes:read", tag="mailboxes",
           summary="A mailbox's sync status", response=MailboxStatus)
def mailbox_status(mailbox_id: str):
    return tenant_call("mailsync", "get_mailbox_status", mailbox_id)


# --- stored mail: the unassigned queue (the team triages it) and the quarantine (admins) ---

class Mail(Resource):
    """A message intake stored: `unassigned` until a member assigns its customer, `quarantined` when it
    could not be parsed (its raw bytes kept: `GET /mail/{id}/raw`)."""

    id: uuid.UUID
    mailbox_id: uuid.UUID
    folder: str
    status: Literal["imported", "unassigned", "quarantined"]
    internet_message_id: str | None
    subject: str
    sender_email: str | None
    sender_name: str | None
    sent_at: datetime | None
    received_at: datetime
    size: int
    oversized: bool
    quarantine_reason: str | None
    customer_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    assigned_by: uuid.UUID | None
    assigned_at: datetime | None
    created_at: datetime


class MailQuery(Paged):
    mailbox_id: uuid.UUID | None = None


class AssignMail(Body):
    customer_id: uuid.UUID


@API.route("/mail/unassigned", "GET", permission="mail:triage", tag="mail", query=MailQuery,
           summary="Mail whose sender matched no customer, waiting to be assigned", response=page_of(Mail))
def list_unassigned(query: MailQuery):
    return tenant_call("mailsync", "list_mail", {**filters(query), "status": "unassigned"}, query.limit, query.cursor)


@API.route("/mail/<uuid:mail_id>/assign", "POST", permission="mail:triage", tag="mail", body=AssignMail,
           summary="Assign an unassigned message to a customer (it becomes that customer's mail)",
           response=Mail, statuses=(409,))
def assign_mail(mail_id: str, body: AssignMail):
    roles.check_customer_reference(g.identity, body.customer_id)
    return tenant_call("mailsync", "assign_mail", mail_id, payload(body))


@API.route("/mail/quarantine", "GET", permission="mailboxes:read", tag="mail", query=MailQuery,
           summary="Mail that could not be parsed (raw bytes kept)", response=page_of(Mail))
def list_quarantine(query: MailQuery):
    return tenant_call("mailsync", "list_mail", {**filters(query), "status": "quarantined"}, query.limit,
                       query.cursor)


@API.route("/mail/<uuid:mail_id>/raw", "GET", permission="mailboxes:read", tag="mail",
           summary="A stored message's exact bytes as received", produces="message/rfc822")
def mail_raw(mail_id: str):
    doc = tenant_call("mailsync", "get_mail_raw", mail_id)
    name = doc.get("filename") or f"{mail_id}.eml"
    return Response(base64.b64decode(doc.get("content_base64") or ""), mimetype="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
