"""`/tickets`: support tickets (tickets service). Portal users see and open their own company's only."""
from __future__ import annotations

import uuid
from typing import Annotated, Literal

from flask import g
from pydantic import Field

from custops.contracts.tickets import Priority
from gateway import roles
from gateway.api import API, Body, Paged, filters, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call

Source = Literal["email", "portal", "manual", "api"]
Status = Annotated[str, Field(min_length=1, max_length=50)]  # the tickets service knows the statuses


class CreateTicket(Body):
    customer_id: uuid.UUID
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(max_length=100_000)] = None
    priority: Priority = None
    source: Source = None


class ChangeStatus(Body):
    status: Status


class TicketQuery(Paged):
    status: Status | None = None
    priority: Priority | None = None
    customer_id: uuid.UUID | None = None


def _not_found(ticket_id: str) -> Problem:
    return Problem(404, f"ticket {ticket_id} not found")


@API.route("/tickets", "POST", permission="tickets:write", summary="Open a ticket", tag="tickets",
           body=CreateTicket, status=201, location="/tickets/{id}")
def create_ticket(body: CreateTicket):
    if not roles.may_see_customer(g.identity, body.customer_id):
        raise Problem(403, "portal users open tickets for their own company only")
    return tenant_call("tickets", "create_ticket", payload(body))


@API.route("/tickets", "GET", permission="tickets:read", summary="List tickets, newest first", tag="tickets",
           query=TicketQuery)
def list_tickets(query: TicketQuery):
    wanted = filters(query)
    scope = roles.customer_scope(g.identity)
    if scope is not None:
        if query.customer_id is not None and str(query.customer_id) != scope:
            raise Problem(403, "portal users see their own company's tickets only")
        wanted["customer_id"] = scope
    return tenant_call("tickets", "list_tickets", wanted, query.limit, query.cursor)


@API.route("/tickets/<uuid:ticket_id>", "GET", permission="tickets:read", summary="Get a ticket", tag="tickets")
def get_ticket(ticket_id: str):
    ticket = tenant_call("tickets", "get_ticket", ticket_id)
    if not roles.may_see_customer(g.identity, ticket["customer_id"]):
        raise _not_found(ticket_id)  # another company's ticket does not exist for a portal user
    return ticket


@API.route("/tickets/<uuid:ticket_id>/status", "POST", permission="tickets:status",
           summary="Move a ticket to another status", tag="tickets", body=ChangeStatus)
def change_status(ticket_id: str, body: ChangeStatus):
    return tenant_call("tickets", "change_status", ticket_id, body.status)
