"""`/onboarding-templates` and applying one to a customer (customers service). A template's steps sit at
Day offsets from the customer's start date (optionally business days of the tenant calendar), with
dependencies, milestones, owner roles and estimates. Saving a template makes a new version; plans
applied from an earlier one keep theirs until upgraded (`/projects/{id}/template-upgrade`). Applying
creates the plan — a project and all its tasks — in one call, idempotently: the `Idempotency-Key`
header or `idempotency_key` names the plan, and a retry answers the same plan (200, `created: false`)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from flask import g, jsonify, request
from pydantic import Field

from custops.validation import MAX_INTEGER, Date
from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, page_of, payload
from gateway.problems import Problem
from gateway.routes.projects import Project
from gateway.rpc import tenant_call

StepKey = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class StepChecklistItem(Body):
    text: Annotated[str, Field(min_length=1, max_length=100)]
    done: bool = False


class TemplateStep(Body):
    key: StepKey
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=300)] = None
    day: Annotated[int, Field(ge=-3650, le=3650)] = Field(description="Day offset from the customer's start date "
                                                                      "(Day 0)")
    duration: Annotated[int, Field(ge=1, le=365)] = Field(default=None, description="days (default 1)")
    depends_on: Annotated[list[StepKey], Field(max_length=5)] = Field(default=None, description="step keys it "
                                                                                                 "waits for")
    milestone: bool = None
    first_value: bool = Field(default=None, description="the milestone of the customer's first value (reports)")
    owner_role: Literal["owner", "account_team"] | None = Field(
        default=None, description="resolved when applied: the customer's owner, or its account team's first member")
    estimate: Annotated[float, Field(ge=0, le=100_000, multiple_of=0.01)] | None = None
    estimate_unit: Literal["hour", "day"] = None
    weight: Annotated[int, Field(ge=0, le=1000)] = None
    portal_visible: bool = None
    checklist: Annotated[list[StepChecklistItem], Field(max_length=3)] = None
    forms: Annotated[list[Annotated[str, Field(min_length=1, max_length=60)]], Field(max_length=2)] = Field(
        default=None, description="forms to send with the step (by name)")


class SaveTemplate(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    business_days: bool = Field(default=None, description="Day offsets count open days of the tenant's business "
                                                          "calendar (holidays and closed weekdays skipped)")
    # bounded so the largest template fits a request body (docs/api.md); the service takes longer ones
    steps: Annotated[list[TemplateStep], Field(min_length=1, max_length=100)]


class TemplateQuery(Query):
    version: Annotated[int, Field(ge=1, le=MAX_INTEGER)] | None = Field(default=None,
                                                                      description="an earlier version")


class Template(Resource):
    id: uuid.UUID
    name: str
    version: int = Field(description="the version shown")
    current_version: int
    business_days: bool
    steps: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class ApplyTemplate(Body):
    template_id: uuid.UUID
    version: Annotated[int, Field(ge=1, le=MAX_INTEGER)] = Field(default=None,
                                                                 description="default: the current version")
    start_date: Date = Field(default=None, description="Day 0; default: the customer's start date")
    name: Annotated[str, Field(min_length=1, max_length=200)] = None
    portal_shared: bool = None
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default=None, description="names the plan (or the `Idempotency-Key` header); default: one plan per "
                                  "template and customer")


class AppliedPlan(Resource):
    created: bool = Field(description="false: a retry, answered with the plan made before")
    project: Project


@API.route("/onboarding-templates", "GET", permission="templates:read", tag="onboarding",
           summary="Onboarding templates (their current versions), newest first", query=Paged,
           response=page_of(Template))
def list_templates(query: Paged):
    return tenant_call("customers", "list_templates", query.limit, query.cursor)


@API.route("/onboarding-templates", "POST", permission="templates:write", tag="onboarding", body=SaveTemplate,
           status=201, location="/onboarding-templates/{id}", response=Template,
           summary="Create an onboarding template (version 1)")
def create_template(body: SaveTemplate):
    return tenant_call("customers", "create_template", payload(body))


@API.route("/onboarding-templates/<uuid:template_id>", "GET", permission="templates:read", tag="onboarding",
           summary="An onboarding template (its current version, or `version`)", query=TemplateQuery,
           response=Template)
def get_template(template_id: str, query: TemplateQuery):
    return tenant_call("customers", "get_template", template_id, query.version)


@API.route("/onboarding-templates/<uuid:template_id>", "PUT", permission="templates:write", tag="onboarding",
           body=SaveTemplate, response=Template,
           summary="Save a new version of a template (running plans keep theirs until upgraded)")
def update_template(template_id: str, body: SaveTemplate):
    return tenant_call("customers", "update_template", template_id, payload(body))


@API.route("/customers/<uuid:customer_id>/onboarding", "POST", permission="projects:write", tag="onboarding",
           body=ApplyTemplate, status=201, response=AppliedPlan,
           summary="Apply an onboarding template to a customer: the plan and all its tasks, idempotently")
def apply_template(customer_id: str, body: ApplyTemplate):
    roles.check_customer(g.identity, customer_id)
    given = payload(body)
    header = request.headers.get("Idempotency-Key")
    if header is not None:
        if not 1 <= len(header) <= 200:
            raise Problem(400, "invalid Idempotency-Key header", [{"field": "Idempotency-Key",
                                                                   "message": "1 to 200 characters"}])
        if given.get("idempotency_key", header) != header:
            raise Problem(422, "two idempotency keys", [{"field": "idempotency_key",
                                                         "message": "differs from the Idempotency-Key header"}])
        given["idempotency_key"] = header
    answer = tenant_call("customers", "apply_template", customer_id, given)
    response = jsonify(answer)
    if answer.get("created", True):
        response.status_code = 201
        project_id = (answer.get("project") or {}).get("id")
        if project_id:
            response.headers["Location"] = f"{API.prefix}/projects/{project_id}"
    # else a retry: 200 with the plan made before, nothing new
    return response
