"""`/forms` (customers service): the form builder, links that send a form to a customer, submissions.

Managers build forms (sections of 21 field types, required flags, conditional visibility: show a
field when an earlier one has an answer) and send one to a customer by link. The link token is the
credential, told once: `GET /forms/by-link/{token}` and `POST /forms/by-link/{token}/submissions` need
no bearer token (like `POST /portal/accept`). Unknown token → 404; withdrawn, expired or used up → 410;
answers that do not fit → 422 naming each field (`answers.<key>`). Staff read a customer's submissions
(scoped: the customers they work on).

A form's ticket rule asks the tickets service for a ticket (source `form`) from a submission; the
submission shows its `ticket_id` once the tickets service told it. The satisfaction survey
(`/survey-settings`) sends the tenant's survey form to a resolved ticket's requester; the score lands
on the ticket and the customer. Portal users fill in the tenant's portal-visible forms
(`/portal/forms`) as their contact, for their own company (docs/forms.md)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from flask import g
from pydantic import Field

from custops.contracts.tickets import Priority
from gateway import roles, rpc
from gateway.api import API, Body, Paged, Resource, page_of, payload
from gateway.problems import Problem
from gateway.rpc import tenant_call

FieldKey = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]
FieldType = Literal["short_text", "long_text", "number", "currency", "email", "phone", "url", "date", "date_time",
                    "single_select", "multi_select", "radio", "checkbox", "yes_no", "rating", "nps", "csat",
                    "file_upload", "address", "hidden", "section_heading"]
Token = Annotated[str, Field(min_length=1, max_length=200)]


class FormField(Body):
    key: FieldKey = Field(description="unique in the form; the key of its answer")
    type: FieldType = Field(description="rating 1–5, nps 0–10, csat 1–5; checkbox: one tick box; file_upload: a "
                                        "reference `{file_id|url, name, content_type, size}`; address `{line1, "
                                        "line2, city, region, postal_code, country}`; section_heading: no answer")
    label: Annotated[str, Field(min_length=1, max_length=150)]
    help: Annotated[str, Field(max_length=150)] = None
    required: bool = None
    options: Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=15)] = Field(
        default=None, description="single_select, multi_select, radio")
    min: float | None = Field(default=None, description="number: the least value; multi_select: fewest choices")
    max: float | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = Field(default=None, description="currency: ISO 4217")
    allow_negative: bool = None
    visible_when: dict[str, Any] | None = Field(
        default=None, description="`{field, equals}` or `{field, in: [...]}`: shown only when the earlier field "
                                  "`field` has that answer; a hidden field is neither required nor kept")


class FormSection(Body):
    key: FieldKey
    title: Annotated[str, Field(max_length=100)] = None
    fields: Annotated[list[FormField], Field(max_length=15)] = None


class FormDefinition(Body):
    """Bounded so the largest form (10 sections of 15 fields) fits a request body (docs/api.md)."""

    sections: Annotated[list[FormSection], Field(min_length=1, max_length=10)]


class TaskRule(Body):
    project: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the customer's project (by name) the task goes to; made when the customer has none")
    title: Annotated[str, Field(min_length=1, max_length=300)]
    when: dict[str, Any] | None = Field(default=None, description="`{field, equals}` or `{field, in}`: only such "
                                                                  "submissions create a task")


class TicketRule(Body):
    subject: Annotated[str, Field(min_length=1, max_length=300)] = Field(description="the new ticket's subject")
    priority: Priority = Field(default=None, description="default normal")
    category: Annotated[str, Field(min_length=1, max_length=50)] = Field(
        default=None, description="default general (a category removed since: general)")
    when: dict[str, Any] | None = Field(default=None, description="`{field, equals}` or `{field, in}`: only such "
                                                                  "submissions open a ticket")


class CreateForm(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] = None
    definition: FormDefinition
    task_rule: TaskRule | None = Field(default=None, description="a submission creates a task")
    ticket_rule: TicketRule | None = Field(default=None, description="a submission opens a ticket (source form)")
    portal_visible: bool = Field(default=None, description="portal users fill it in (`/portal/forms`)")


class UpdateForm(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)] = None
    description: Annotated[str, Field(max_length=2000)] = None
    definition: FormDefinition = Field(default=None, description="a new definition is a new version")
    task_rule: TaskRule | None = None
    ticket_rule: TicketRule | None = None
    portal_visible: bool = None


class Form(Resource):
    id: uuid.UUID
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    task_rule: dict[str, Any] | None
    ticket_rule: dict[str, Any] | None = None
    portal_visible: bool = False
    field_count: int = Field(description="fields that take an answer")
    created_at: datetime
    updated_at: datetime


class CreateFormLink(Body):
    form_id: uuid.UUID
    contact_id: uuid.UUID | None = Field(default=None, description="the contact it is for (a contact of the customer)")
    multiple: bool = Field(default=None, description="takes many submissions (default: one)")
    expires_in_days: int | None = Field(default=None, ge=1, le=365, description="default: no expiry")
    prefill: Annotated[dict[str, Annotated[str, Field(max_length=1000)]], Field(max_length=50)] = Field(
        default=None, description="values of the form's hidden fields")


class FormLink(Resource):
    id: uuid.UUID
    form_id: uuid.UUID
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None
    multiple: bool
    submission_count: int
    expires_at: datetime | None
    created_at: datetime
    token: str = Field(description="the link's token: shown this once (`/forms/by-link/{token}`)")


class LinkedForm(Resource):
    form_id: uuid.UUID
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    multiple: bool
    expires_at: datetime | None


class SubmitForm(Body):
    answers: Annotated[dict[str, Any], Field(max_length=300)] = Field(description="answers by field key")


class Submission(Resource):
    id: uuid.UUID
    form_id: uuid.UUID
    form_version: int
    link_id: uuid.UUID | None
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None
    answers: dict[str, Any] = Field(description="the visible, valid answers")
    scores: list[dict[str, Any]] = Field(description="CSAT/NPS answers `{field, type, score, max, category}`")
    task_id: uuid.UUID | None = Field(description="the task the form's rule created")
    submitted_at: datetime
    ticket_id: uuid.UUID | None = Field(default=None, description="the ticket the form's ticket rule opened "
                                                                  "(null until the tickets service told it)")
    survey_ticket_id: uuid.UUID | None = Field(default=None, description="the resolved ticket whose satisfaction "
                                                                         "survey this answers")
    via: Literal["link", "portal"] = "link"


class SubmissionQuery(Paged):
    form_id: uuid.UUID | None = None


@API.route("/forms", "GET", permission="forms:read", tag="forms", query=Paged, response=page_of(Form),
           summary="Forms, newest first")
def list_forms(query: Paged):
    return tenant_call("customers", "list_forms", query.limit, query.cursor)


@API.route("/forms", "POST", permission="forms:write", tag="forms", body=CreateForm, status=201,
           location="/forms/{id}", response=Form, summary="Create a form (sections, fields, conditions)")
def create_form(body: CreateForm):
    return tenant_call("customers", "create_form", payload(body))


@API.route("/forms/<uuid:form_id>", "GET", permission="forms:read", tag="forms", response=Form, summary="A form")
def get_form(form_id: str):
    return tenant_call("customers", "get_form", form_id)


@API.route("/forms/<uuid:form_id>", "PATCH", permission="forms:write", tag="forms", body=UpdateForm, response=Form,
           summary="Change a form (a new definition is a new version)")
def update_form(form_id: str, body: UpdateForm):
    return tenant_call("customers", "update_form", form_id, payload(body))


@API.route("/customers/<uuid:customer_id>/form-links", "POST", permission="forms:write", tag="forms",
           body=CreateFormLink, status=201, response=FormLink,
           summary="Send a form to a customer: a link (its token told once), one or many submissions")
def create_form_link(customer_id: str, body: CreateFormLink):
    roles.check_customer(g.identity, customer_id)
    given = payload(body)
    form_id = given.pop("form_id")
    return tenant_call("customers", "create_form_link", form_id, customer_id, given)


# No bearer token: the link's token is the credential.
@API.route("/forms/by-link/<token>", "GET", permission=None, tag="forms", response=LinkedForm, statuses=(404, 410),
           summary="The form a link opens")
def form_by_link(token: str):
    return rpc.call("customers", "form_by_link", token)


@API.route("/forms/by-link/<token>/submissions", "POST", permission=None, tag="forms", body=SubmitForm, status=201,
           response=Submission, statuses=(404, 410),
           summary="Submit a form through its link (validated; attached to the customer)")
def submit_form_by_link(token: str, body: SubmitForm):
    return rpc.call("customers", "submit_form_by_link", token, payload(body))


@API.route("/customers/<uuid:customer_id>/form-submissions", "GET", permission="forms:read", tag="forms",
           query=SubmissionQuery, response=page_of(Submission), summary="A customer's form submissions, newest first")
def list_customer_submissions(customer_id: str, query: SubmissionQuery):
    roles.check_customer(g.identity, customer_id)
    wanted = {"form_id": str(query.form_id)} if query.form_id else {}
    return tenant_call("customers", "list_customer_submissions", customer_id, wanted, query.limit, query.cursor)


# --- satisfaction surveys: a resolved ticket's requester is asked (CSAT/NPS) ---

class SurveySettings(Resource):
    enabled: bool
    form_id: uuid.UUID | None = Field(description="the survey form (it asks a csat or nps question)")
    delay_minutes: int = Field(description="after the ticket is resolved (0: at once)")
    expires_in_days: int = Field(description="how long the survey's link lives")


class PutSurveySettings(Body):
    enabled: bool = None
    form_id: uuid.UUID | None = None
    delay_minutes: int = Field(default=None, ge=0, le=43_200)
    expires_in_days: int = Field(default=None, ge=1, le=365)


@API.route("/survey-settings", "GET", permission="forms:read", tag="forms", response=SurveySettings,
           summary="The satisfaction survey sent when a ticket is resolved")
def get_survey_settings():
    return tenant_call("customers", "get_survey_settings")


@API.route("/survey-settings", "PUT", permission="forms:write", tag="forms", body=PutSurveySettings,
           response=SurveySettings, summary="Change the satisfaction survey (the keys given)")
def put_survey_settings(body: PutSurveySettings):
    return tenant_call("customers", "put_survey_settings", payload(body))


# --- the portal: a portal user fills in the tenant's portal-visible forms for their own company ---

class PortalForm(Resource):
    id: uuid.UUID
    name: str
    description: str
    definition: dict[str, Any]
    version: int
    updated_at: datetime


def _portal_user() -> tuple[str, str]:
    """The portal user's company and contact; managers (who may look at what the portal offers)
    submit nothing: they are no contact."""
    identity = g.identity
    if identity.role != "portal" or not identity.customer_id or not getattr(identity, "contact_id", None):
        raise Problem(422, "only a portal user submits a form in the portal",
                      [{"field": "answers", "message": "submitted as a portal user's contact only"}])
    return identity.customer_id, identity.contact_id


@API.route("/portal/forms", "GET", permission="forms:respond", tag="portal", query=Paged,
           response=page_of(PortalForm), summary="The forms the portal offers, newest first")
def list_portal_forms(query: Paged):
    return tenant_call("customers", "list_portal_forms", query.limit, query.cursor)


@API.route("/portal/forms/<uuid:form_id>", "GET", permission="forms:respond", tag="portal", response=PortalForm,
           summary="A form the portal offers (any other: 404)")
def get_portal_form(form_id: str):
    return tenant_call("customers", "get_portal_form", form_id)


@API.route("/portal/forms/<uuid:form_id>/submissions", "POST", permission="forms:respond", tag="portal",
           body=SubmitForm, status=201, response=Submission,
           summary="Submit a portal form as yourself, for your company")
def submit_portal_form(form_id: str, body: SubmitForm):
    customer_id, contact_id = _portal_user()
    return tenant_call("customers", "submit_portal_form", form_id, customer_id, contact_id, payload(body))
