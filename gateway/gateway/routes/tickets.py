"""`/tickets` and the help desk around them (tickets service): messages, assignment, teams, canned
responses and categories. Portal users see and open their own company's tickets only, post only
customer (`inbound`) messages and never see internal notes."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from flask import g
from pydantic import Field, model_validator

from custops.contracts.tickets import STATUSES, TRANSITIONS, MessageKind, Priority, Source, Status
from custops.errors import NotFound
from custops.validation import Instant
from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, filters, page_of, payload
from gateway.problems import Problem
from gateway.rpc import call, tenant_call

Category = Annotated[str, Field(min_length=1, max_length=50)]  # built-in or the tenant's own
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(max_length=20)]
Text = Annotated[str, Field(min_length=1, max_length=100_000)]

STATUS_RULES = (
    "The status to move to. Allowed moves: "
    + "; ".join(f"`{old}` → " + (", ".join(f"`{new}`" for new in STATUSES if new in TRANSITIONS[old]) or "none")
                for old in STATUSES)
    + ". Moving to the current status changes nothing; any other move is a 422. `pending`: our team is the "
      "blocker; `waiting_on_customer`: the customer is (it pauses SLA clocks by default, see /sla/settings).")

# what a portal user may set when opening a ticket (assignment and triage are the team's job)
_PORTAL_CREATE_FIELDS = {"customer_id", "subject", "description", "priority", "contact_id", "category", "source"}


class CreateTicket(Body):
    customer_id: uuid.UUID
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(max_length=100_000)] = None
    priority: Priority = None
    source: Source = None
    contact_id: uuid.UUID | None = None
    category: Category = None
    assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    tags: Tags = None


class UpdateTicket(Body):
    subject: Annotated[str, Field(min_length=1, max_length=300)] = None
    priority: Priority = None
    category: Category = None
    tags: Tags = None
    contact_id: uuid.UUID | None = None


class ChangeStatus(Body):
    status: Status = Field(description=STATUS_RULES)


class AddMessage(Body):
    kind: MessageKind = Field(description="`inbound`: the customer's message; `reply`: a public reply; "
                                          "`note`: an internal note (never shown to portal users)")
    body: Text
    author_contact_id: uuid.UUID | None = Field(
        default=None, description="who wrote an `inbound` message: a contact of the ticket's customer (a portal "
                                  "user writes as their own contact); the caller is recorded as who entered it")


class Assign(Body):
    """Exactly one of: `assignee_id` (a member, or null to unassign) or `team_id` (round-robin)."""

    assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID = None

    @model_validator(mode="after")
    def _one_of(self):
        if len(self.model_fields_set & {"assignee_id", "team_id"}) != 1:
            raise ValueError("give exactly one of assignee_id or team_id")
        return self


class TicketQuery(Paged):
    status: Status | None = None
    priority: Priority | None = None
    customer_id: uuid.UUID | None = None
    assignee: Literal["none"] | uuid.UUID | None = None
    category: Category | None = None
    tag: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    breached: bool | None = None
    due_before: Instant | None = Field(default=None, description="tickets with an unmet SLA deadline before "
                                                                "this instant (ISO 8601 with offset)")


class TeamQuery(Query):
    include_archived: bool = Field(default=False, description="list archived teams too")


class CreateTeam(Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    member_ids: Annotated[list[uuid.UUID], Field(max_length=500)] = None


class UpdateTeam(Body):
    name: Annotated[str, Field(min_length=1, max_length=100)] = None
    member_ids: Annotated[list[uuid.UUID], Field(max_length=500)] = None


class CreateCannedResponse(Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    body: Text


class RenderCannedResponse(Body):
    ticket_id: uuid.UUID


class AddCategory(Body):
    name: Category


# --- what the routes answer ---

class Ticket(Resource):
    id: uuid.UUID
    number: int = Field(description="the ticket's number in the tenant, from 1")
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None
    subject: str
    description: str
    priority: Priority
    status: Status
    source: Source
    category: str
    assignee_id: uuid.UUID | None
    team_id: uuid.UUID | None
    tags: list[str]
    follows_ticket_id: uuid.UUID | None = Field(description="the closed ticket this one continues")
    first_responded_at: datetime | None
    last_customer_message_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    form_submission_id: uuid.UUID | None = Field(default=None, description="source form: the form submission "
                                                                           "whose ticket rule opened it")
    csat_score: int | None = Field(default=None, description="the requester's CSAT (1–5) in the satisfaction "
                                                             "survey sent when it was resolved")
    nps_score: int | None = Field(default=None, description="the requester's NPS (0–10) in that survey")
    survey_answered_at: datetime | None = None


class Message(Resource):
    id: uuid.UUID
    ticket_id: uuid.UUID
    kind: MessageKind
    internal: bool = Field(description="an internal note: never shown to portal users, never mailed")
    body: str
    author_member_id: uuid.UUID | None = Field(description="the agent who wrote a reply or note; null on a "
                                                           "customer message")
    author_contact_id: uuid.UUID | None = Field(description="the contact who wrote a customer message (null: "
                                                            "not a known contact)")
    entered_by_member_id: uuid.UUID | None = Field(description="who entered it (an agent typing in a phoned-in "
                                                               "message, a portal user); null: it came by mail")
    created_at: datetime
    # mail (issue 8): null on a message that never was mail
    internet_message_id: str | None = Field(None, description="its Message-ID (without angle brackets): the "
                                                              "mail's, or ours for a public reply")
    automatic: str | None = Field(None, description="auto_reply, bounce, list or loop: automatic mail, attached "
                                                    "as such (it never reopens a ticket nor counts for the SLA)")
    thread_reason: str | None = Field(None, description="why an incoming mail was put on this ticket")
    thread_note: str | None = Field(None, description="the threading decision in words")
    delivery_status: str | None = Field(None, description="a public reply's mail: queued, sent, failed, bounced")
    delivery_error: str | None = Field(None, description="why its mail failed or bounced")
    sent_at: datetime | None = Field(None, description="when the SMTP server accepted its mail")


class MessageAdded(Resource):
    message: Message
    ticket: Ticket = Field(description="the ticket after the message (a customer message on a closed "
                                       "ticket starts a new one, linked by `follows_ticket_id`)")


class Team(Resource):
    id: uuid.UUID
    name: str
    member_ids: list[uuid.UUID] = Field(description="round-robin order")
    created_at: datetime
    archived_at: datetime | None = Field(description="archived: its tickets keep it, it takes no new ones")


class CannedResponse(Resource):
    id: uuid.UUID
    name: str
    body: str
    created_at: datetime


class RenderedResponse(Resource):
    id: uuid.UUID
    ticket_id: uuid.UUID
    body: str


class TicketCategory(Resource):
    name: str
    built_in: bool


class Deleted(Resource):
    id: uuid.UUID
    deleted: bool


class CategoryRemoved(Resource):
    name: str
    deleted: bool


def _not_found(ticket_id: str) -> Problem:
    return Problem(404, f"ticket {ticket_id} not found")


def _visible_ticket(ticket_id: str) -> dict:
    """The ticket, if this identity may see it (a ticket of a customer outside its scope does not exist
    for it: another company's for a portal user, one of a customer not theirs for a scoped member)."""
    ticket = tenant_call("tickets", "get_ticket", ticket_id)
    if not roles.may_see_customer(g.identity, ticket["customer_id"]):
        raise _not_found(ticket_id)
    return ticket


def check_visible_ticket(ticket_id: str) -> None:
    """404 before a change to a ticket this identity may not see (one look-up, only when it is scoped)."""
    if roles.visible_customer_ids(g.identity) is not None:
        _visible_ticket(ticket_id)


# --- tickets ---

@API.route("/tickets", "POST", permission="tickets:write", summary="Open a ticket", tag="tickets",
           body=CreateTicket, status=201, location="/tickets/{id}", response=Ticket)
def create_ticket(body: CreateTicket):
    if roles.customer_scope(g.identity) is not None and not roles.may_see_customer(g.identity, body.customer_id):
        raise Problem(403, "portal users open tickets for their own company only")
    roles.check_customer_reference(g.identity, body.customer_id)
    given = payload(body)
    if roles.customer_scope(g.identity) is not None:
        refused = sorted(set(given) - _PORTAL_CREATE_FIELDS)
        if refused:
            raise Problem(403, f"portal users cannot set {', '.join(refused)}")
        given["source"] = "portal"
        if g.identity.contact_id and "contact_id" not in given:  # opened by that contact, unless they name another
            given["contact_id"] = g.identity.contact_id
    return tenant_call("tickets", "create_ticket", given)


@API.route("/tickets", "GET", permission="tickets:read", tag="tickets", query=TicketQuery,
           summary="List tickets, newest first, with the total count of the filtered set",
           response=page_of(Ticket))
def list_tickets(query: TicketQuery):
    wanted = filters(query)
    scope = roles.customer_scope(g.identity)
    if scope is not None:
        if query.customer_id is not None and str(query.customer_id) != scope:
            raise Problem(403, "portal users see their own company's tickets only")
        wanted["customer_id"] = scope
    elif (visible := roles.visible_customer_ids(g.identity)) is not None:
        wanted["customer_ids"] = visible
    return tenant_call("tickets", "list_tickets", wanted, query.limit, query.cursor)


@API.route("/tickets/<uuid:ticket_id>", "GET", permission="tickets:read", summary="Get a ticket", tag="tickets",
           response=Ticket)
def get_ticket(ticket_id: str):
    return _visible_ticket(ticket_id)


@API.route("/tickets/<uuid:ticket_id>", "PATCH", permission="tickets:manage", tag="tickets", body=UpdateTicket,
           summary="Change a ticket's subject, priority, category, tags or contact", response=Ticket)
def update_ticket(ticket_id: str, body: UpdateTicket):
    check_visible_ticket(ticket_id)
    return tenant_call("tickets", "update_ticket", ticket_id, payload(body))


@API.route("/tickets/<uuid:ticket_id>/status", "POST", permission="tickets:status",
           summary="Move a ticket to another status", tag="tickets", body=ChangeStatus, response=Ticket)
def change_status(ticket_id: str, body: ChangeStatus):
    check_visible_ticket(ticket_id)
    return tenant_call("tickets", "change_status", ticket_id, body.status)


@API.route("/tickets/<uuid:ticket_id>/messages", "POST", permission="tickets:write", tag="tickets",
           body=AddMessage, status=201,
           summary="Add a customer message, a public reply or an internal note (answers {message, ticket})",
           response=MessageAdded)
def add_message(ticket_id: str, body: AddMessage):
    message = payload(body)
    if roles.customer_scope(g.identity) is not None:
        if body.kind != "inbound":
            raise Problem(403, "portal users post customer messages only")
        # a portal user writes as their own contact, never as another (of any company)
        own_contact = getattr(g.identity, "contact_id", None)
        if body.author_contact_id is not None and str(body.author_contact_id) != own_contact:
            raise Problem(403, "portal users write as their own contact only",
                          [{"field": "author_contact_id", "message": "must be your own contact or left out"}])
        message["source"] = "portal"
        if own_contact is not None:
            message["author_contact_id"] = own_contact
    check_visible_ticket(ticket_id)
    if g.identity.member_id is not None:
        # the caller entered it; they wrote it only when it is theirs (a reply or note)
        message["entered_by_member_id"] = g.identity.member_id
        if body.kind != "inbound":
            message["author_member_id"] = g.identity.member_id
    return tenant_call("tickets", "add_message", ticket_id, message)


@API.route("/tickets/<uuid:ticket_id>/messages", "GET", permission="tickets:read", tag="tickets",
           summary="A ticket's messages, oldest first (internal notes only for staff who may see them)",
           response=page_of(Message))
def list_messages(ticket_id: str):
    ticket = _visible_ticket(ticket_id)
    include_internal = roles.may_see_internal(g.identity, ticket["customer_id"], "tickets:internal")
    return tenant_call("tickets", "list_messages", ticket_id, include_internal)


@API.route("/tickets/<uuid:ticket_id>/assign", "POST", permission="tickets:manage", tag="tickets", body=Assign,
           summary="Assign a ticket to a member, or round-robin within a team", response=Ticket)
def assign_ticket(ticket_id: str, body: Assign):
    check_visible_ticket(ticket_id)
    if "team_id" in body.model_fields_set:
        return tenant_call("tickets", "assign_round_robin", ticket_id, str(body.team_id))
    return tenant_call("tickets", "assign_ticket", ticket_id, payload(body))


# --- teams ---

@API.route("/teams", "GET", permission="helpdesk:read", tag="helpdesk", query=TeamQuery,
           summary="List the assignment teams (archived ones with include_archived=true)", response=page_of(Team))
def list_teams(query: TeamQuery):
    return tenant_call("tickets", "list_teams", filters(query))


@API.route("/teams", "POST", permission="helpdesk:write", summary="Create an assignment team", tag="helpdesk",
           body=CreateTeam, status=201, response=Team, statuses=(409,))
def create_team(body: CreateTeam):
    return tenant_call("tickets", "create_team", payload(body))


@API.route("/teams/<uuid:team_id>", "PATCH", permission="helpdesk:write", tag="helpdesk", body=UpdateTeam,
           summary="Rename a team or change its members", response=Team, statuses=(409,))
def update_team(team_id: str, body: UpdateTeam):
    return tenant_call("tickets", "update_team", team_id, payload(body))


@API.route("/teams/<uuid:team_id>", "DELETE", permission="helpdesk:write", tag="helpdesk", response=Team,
           summary="Archive a team: its tickets keep it, it takes no new tickets or edits, lists hide it by default")
def archive_team(team_id: str):
    return tenant_call("tickets", "archive_team", team_id)


# --- canned responses ---

@API.route("/canned-responses", "GET", permission="helpdesk:read", summary="List the canned responses",
           tag="helpdesk", response=page_of(CannedResponse))
def list_canned_responses():
    return tenant_call("tickets", "list_canned_responses")


@API.route("/canned-responses", "POST", permission="helpdesk:write", tag="helpdesk", body=CreateCannedResponse,
           status=201, summary="Save a canned response ({{customer.name}}, {{ticket.number}}, {{agent.name}})",
           response=CannedResponse, statuses=(409,))
def create_canned_response(body: CreateCannedResponse):
    return tenant_call("tickets", "create_canned_response", payload(body))


@API.route("/canned-responses/<uuid:canned_id>", "DELETE", permission="helpdesk:write", tag="helpdesk",
           summary="Delete a canned response", response=Deleted)
def delete_canned_response(canned_id: str):
    return tenant_call("tickets", "delete_canned_response", canned_id)


@API.route("/canned-responses/<uuid:canned_id>/render", "POST", permission="helpdesk:read", tag="helpdesk",
           body=RenderCannedResponse, summary="A canned response filled in for a ticket, signed by the caller",
           response=RenderedResponse)
def render_canned_response(canned_id: str, body: RenderCannedResponse):
    if roles.visible_customer_ids(g.identity) is not None:  # it names the ticket's customer
        try:
            visible = roles.may_see_customer(g.identity, tenant_call("tickets", "get_ticket", str(body.ticket_id))[
                "customer_id"])
        except NotFound:
            visible = False
        if not visible:  # worded as the tickets service words a ticket of another tenant
            raise Problem(422, "unknown ticket", [{"field": "ticket_id", "message": "no such ticket in this tenant"}])
    agent_name = None
    if g.identity.member_id is not None:
        agent_name = call("customers", "get_member", g.identity.tenant_id, g.identity.member_id)["name"]
    return tenant_call("tickets", "render_canned_response", canned_id, str(body.ticket_id), agent_name)


# --- categories ---

@API.route("/ticket-categories", "GET", permission="tickets:read", tag="tickets",
           summary="The ticket categories: built-in and the tenant's own", response=page_of(TicketCategory))
def list_categories():
    return tenant_call("tickets", "list_categories")


@API.route("/ticket-categories", "POST", permission="helpdesk:write", tag="helpdesk", body=AddCategory,
           status=201, summary="Add a ticket category", response=TicketCategory, statuses=(409,))
def add_category(body: AddCategory):
    return tenant_call("tickets", "add_category", body.name)


@API.route("/ticket-categories/<name>", "DELETE", permission="helpdesk:write", tag="helpdesk",
           summary="Remove a tenant category: new tickets no longer take it, existing ones keep it "
                   "(built-in categories: 409)", response=CategoryRemoved, statuses=(409,))
def remove_category(name: str):
    return tenant_call("tickets", "remove_category", name)
