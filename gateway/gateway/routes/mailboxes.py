"""`/mailboxes`: support mailboxes and their server settings (mailsync service)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from gateway.api import API, Body, Paged, Resource, filters, page_of, payload
from gateway.rpc import tenant_call

Text = Annotated[str, Field(min_length=1, max_length=320)]
Port = Annotated[int, Field(ge=1, le=65535)]


class CreateMailbox(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Text
    imap_host: Annotated[str, Field(min_length=1, max_length=253)]
    imap_port: Port = None
    imap_tls: bool = None
    smtp_host: Annotated[str, Field(min_length=1, max_length=253)]
    smtp_port: Port = None
    smtp_starttls: bool = None
    username: Text
    # plain str so it reaches the service; repr=False keeps it out of reprs and logs
    password: Annotated[str, Field(min_length=1, max_length=1000, repr=False, json_schema_extra={"writeOnly": True})]
    enabled: bool = None


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
