from __future__ import annotations

import uuid
from typing import Literal, get_args

from pydantic import AwareDatetime

from custops.events import EventData, contract

# The directory vocabulary, written once (Literal for models and OpenAPI, tuple derived for code).
Tier = Literal["enterprise", "mid_market", "smb"]
TIERS: tuple[str, ...] = get_args(Tier)
# owner: all; admin: all but billing; member: assigned customers; contractor: a limited view of
# assigned customers; portal: a contact's own company; read_only: reads, writes nothing
Role = Literal["owner", "admin", "member", "contractor", "portal", "read_only"]
ROLES: tuple[str, ...] = get_args(Role)
# the first day of a tenant's week
WeekStart = Literal["monday", "sunday", "saturday"]
WEEK_STARTS: tuple[str, ...] = get_args(WeekStart)


@contract("customers", "customer.created")
class CustomerCreated(EventData):
    """A customer account was created."""

    customer_id: uuid.UUID
    name: str
    tier: Tier
    domains: list[str]
    owner_id: uuid.UUID | None = None


@contract("customers", "customer.updated")
class CustomerUpdated(EventData):
    """A customer account changed; `changes` maps each changed field to its new value."""

    customer_id: uuid.UUID
    changes: dict[str, object]


@contract("customers", "contact.created")
class ContactCreated(EventData):
    """A contact person was added to a customer."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    email: str


@contract("customers", "contact.archived")
class ContactArchived(EventData):
    """A contact was archived (soft-deleted): kept for history, left out of contact lists by
    default, and no longer accepted as the contact of a new ticket."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    email: str
    archived_at: AwareDatetime


@contract("customers", "contact.portal_invited")
class ContactPortalInvited(EventData):
    """A contact with portal access was sent a one-time invitation (never the link token itself);
    exchanging it makes them a portal user (`member.created` with role portal, `token.created`)."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    invite_id: uuid.UUID
    email: str
    expires_at: AwareDatetime


@contract("customers", "contact.portal_revoked")
class ContactPortalRevoked(EventData):
    """A contact's portal access was taken away; its portal user, if any, is deactivated with it
    (`member.deactivated`)."""

    contact_id: uuid.UUID
    customer_id: uuid.UUID
    email: str


@contract("customers", "tenant.created")
class TenantCreated(EventData):
    """A tenant (a team using custops) was created; carries its settings."""

    tenant_id: uuid.UUID
    name: str
    timezone: str = "UTC"  # IANA zone: "this week" in reports, the SLA calendar's default zone
    locale: str = "en"  # BCP 47 language tag
    week_start: WeekStart = "monday"


@contract("customers", "tenant.updated")
class TenantUpdated(EventData):
    """A tenant's settings changed; carries the full current settings (consumers upsert them)
    and `changes`, the fields that changed with their new values."""

    tenant_id: uuid.UUID
    name: str
    timezone: str
    changes: dict[str, object] = {}
    locale: str = "en"  # BCP 47 language tag
    week_start: WeekStart = "monday"


# --- access: members (team users) and their API tokens. The actor who made each change (and the
# request it came from) is on the envelope; these carry what an audit record and a gateway need.
# The audit log (customers.audit) takes every event; gateways also take member.role_changed,
# member.deactivated and token.revoked to drop cached logins. Never a token or its hash.


@contract("customers", "member.created")
class MemberCreated(EventData):
    """A member was added to the tenant (a team user, or a portal user of `customer_id`)."""

    member_id: uuid.UUID
    email: str
    name: str
    role: Role
    customer_id: uuid.UUID | None = None
    timezone: str | None = None


@contract("customers", "member.updated")
class MemberUpdated(EventData):
    """A member's profile changed (name, timezone): `changes` maps each changed field to its new
    value, `previous` to its old one. A role change is told by `member.role_changed`."""

    member_id: uuid.UUID
    email: str
    changes: dict[str, object]
    previous: dict[str, object] = {}


@contract("customers", "member.reactivated")
class MemberReactivated(EventData):
    """A deactivated member may sign in again (the tokens revoked with the deactivation stay revoked)."""

    member_id: uuid.UUID
    email: str
    role: Role


@contract("customers", "token.created")
class TokenCreated(EventData):
    """An API token was issued to a member. Carries its display fields only (never the token or its
    hash)."""

    token_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    prefix: str
    read_only: bool = False
    expires_at: AwareDatetime | None = None


@contract("customers", "member.role_changed")
class MemberRoleChanged(EventData):
    """A member's role changed. Gateways drop what they cached about the member's tokens."""

    member_id: uuid.UUID
    email: str
    previous_role: Role
    role: Role


@contract("customers", "member.deactivated")
class MemberDeactivated(EventData):
    """A member was deactivated: none of their tokens works any more (`revoked_token_ids` are the
    ones this revoked; gateways drop every cached token of the member). History keeps naming them."""

    member_id: uuid.UUID
    email: str
    role: Role
    deactivated_at: AwareDatetime
    revoked_token_ids: list[uuid.UUID] = []


@contract("customers", "token.revoked")
class TokenRevoked(EventData):
    """An API token was revoked. Gateways drop it from their caches at once."""

    token_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    prefix: str
    revoked_at: AwareDatetime


@contract("customers", "customer.team_changed")
class CustomerTeamChanged(EventData):
    """A member joined or left a customer's account team, or their access to its internal notes and
    timeline entries changed (`internal_access`, for contractors). Gateways drop the member's cached
    customer scope at once."""

    customer_id: uuid.UUID
    member_id: uuid.UUID
    change: Literal["added", "updated", "removed"]
    internal_access: bool = False


# --- the work plan (issue 11): customer lifecycle and custom fields, projects, tasks, onboarding
# plans. Every change is told (and so audited); timeline and reports follow projects and tasks from
# these. Dates are ISO dates (`YYYY-MM-DD`, the tenant's calendar days), instants UTC.

LifecycleStage = Literal["onboarding", "active", "renewal", "churned"]
LIFECYCLE_STAGES: tuple[str, ...] = get_args(LifecycleStage)
TaskCategory = Literal["todo", "in_progress", "blocked", "done"]


@contract("customers", "customer.lifecycle_changed")
class CustomerLifecycleChanged(EventData):
    """A customer moved to another lifecycle stage (`previous_stage` null: its first one)."""

    customer_id: uuid.UUID
    stage: LifecycleStage
    previous_stage: LifecycleStage | None = None
    changed_at: AwareDatetime


@contract("customers", "custom_field.defined")
class CustomFieldDefined(EventData):
    """The tenant defined (or redefined) a custom field of customers."""

    custom_field_id: uuid.UUID
    key: str
    label: str
    type: str
    options: list[str] = []
    required: bool = False
    created: bool = True


@contract("customers", "custom_field.removed")
class CustomFieldRemoved(EventData):
    """The tenant removed a custom field; customers' values of it are no longer shown."""

    custom_field_id: uuid.UUID
    key: str


@contract("customers", "work_settings.changed")
class WorkSettingsChanged(EventData):
    """The tenant's board columns (`columns`: key, name, category, order) or project statuses changed;
    carries the full current lists."""

    columns: list[dict[str, object]]
    project_statuses: list[str]


@contract("customers", "project.created")
class ProjectCreated(EventData):
    """A project of a customer was created (by hand, or by applying an onboarding template:
    `template_id`/`template_version`)."""

    project_id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    status: str
    start_date: str | None = None
    target_date: str | None = None
    template_id: uuid.UUID | None = None
    template_version: int | None = None
    portal_shared: bool = False


@contract("customers", "project.updated")
class ProjectUpdated(EventData):
    """A project changed: `changes` maps each changed field to its new value, `previous` to its old one."""

    project_id: uuid.UUID
    customer_id: uuid.UUID
    changes: dict[str, object]
    previous: dict[str, object] = {}


@contract("customers", "project.deleted")
class ProjectDeleted(EventData):
    """A project was deleted with its tasks (`task_ids`)."""

    project_id: uuid.UUID
    customer_id: uuid.UUID
    name: str
    task_ids: list[uuid.UUID] = []


@contract("customers", "task.created")
class TaskCreated(EventData):
    """A task was added to a project (`step_key`: the template step it was planned from)."""

    task_id: uuid.UUID
    project_id: uuid.UUID
    customer_id: uuid.UUID
    title: str
    status: str
    category: TaskCategory
    assignee_id: uuid.UUID | None = None
    start_date: str | None = None
    due_date: str | None = None
    milestone: bool = False
    weight: int = 1
    portal_visible: bool = False
    depends_on: list[uuid.UUID] = []
    step_key: str | None = None


@contract("customers", "task.updated")
class TaskUpdated(EventData):
    """A task's fields changed (title, assignee, dates, dependencies, ...): `changes` maps each changed
    field to its new value, `previous` to its old one. A status change is `task.moved` (and
    `task.completed` / `task.reopened` when it crosses done)."""

    task_id: uuid.UUID
    project_id: uuid.UUID
    customer_id: uuid.UUID
    changes: dict[str, object]
    previous: dict[str, object] = {}


@contract("customers", "task.moved")
class TaskMoved(EventData):
    """A task moved on the board: to another column (status) and/or position."""

    task_id: uuid.UUID
    project_id: uuid.UUID
    customer_id: uuid.UUID
    status: str
    category: TaskCategory
    position: int
    previous_status: str
    previous_category: TaskCategory
    previous_position: int


@contract("customers", "task.completed")
class TaskCompleted(EventData):
    """A task became done: who (`completed_by`, null: the system) and when. Carries what reports need
    without a join: its due date (the plan), milestone flag, weight and template step."""

    task_id: uuid.UUID
    project_id: uuid.UUID
    customer_id: uuid.UUID
    title: str
    completed_by: uuid.UUID | None = None
    completed_at: AwareDatetime
    due_date: str | None = None
    milestone: bool = False
    weight: int = 1
    step_key: str | None = None
    template_id: uuid.UUID | None = None


@contract("customers", "task.reopened")
class TaskReopened(EventData):
    """A done task was moved back out of done."""

    task_id: uuid.UUID
    project_id: uuid.UUID
    customer_id: uuid.UUID
    status: str
    category: TaskCategory


@contract("customers", "task.deleted")
class TaskDeleted(EventData):
    """A task was deleted (its dependencies on and from it with it)."""

    task_id: uuid.UUID
    project_id: uuid.UUID
    customer_id: uuid.UUID
    title: str


@contract("customers", "onboarding.template_saved")
class OnboardingTemplateSaved(EventData):
    """An onboarding template was created or edited: each save is a new `version` (plans applied from
    an earlier one keep it until upgraded)."""

    template_id: uuid.UUID
    name: str
    version: int
    step_count: int
    business_days: bool = False


@contract("customers", "onboarding.applied")
class OnboardingApplied(EventData):
    """A template was applied to a customer: the plan (`project_id`) and its tasks were created in
    one transaction from `start_date` (Day 0). `steps` lists each step's task and planned dates."""

    project_id: uuid.UUID
    customer_id: uuid.UUID
    template_id: uuid.UUID
    template_version: int
    start_date: str
    target_date: str | None = None
    steps: list[dict[str, object]] = []


@contract("customers", "onboarding.replanned")
class OnboardingReplanned(EventData):
    """A running plan was re-planned (`reason`: the customer's start date changed, or the plan was
    upgraded to a newer template version): `moves` lists each task that moved (`task_id`, `from`
    and `to` start/due dates). Done tasks never move."""

    project_id: uuid.UUID
    customer_id: uuid.UUID
    reason: Literal["start_date_changed", "template_upgraded"]
    start_date: str
    moves: list[dict[str, object]] = []
    template_version: int | None = None
    # added within v1 (additive, issue 12): the plan's target date after the re-plan (its latest due
    # date; reports' completion within target)
    target_date: str | None = None


@contract("customers", "form.created")
class FormCreated(EventData):
    """A form was created (`field_count` answerable fields in its definition, version 1)."""

    form_id: uuid.UUID
    name: str
    version: int
    field_count: int
    field_types: list[str] = []


@contract("customers", "form.updated")
class FormUpdated(EventData):
    """A form changed: `changes` names the changed parts (name, description, definition, task_rule);
    a new definition is a new `version` (submissions name the version they answered)."""

    form_id: uuid.UUID
    name: str
    version: int
    changes: list[str]


@contract("customers", "form.link_created")
class FormLinkCreated(EventData):
    """A link sending a form to a customer (never its token): one submission or many (`multiple`),
    until `expires_at` (null: no expiry)."""

    link_id: uuid.UUID
    form_id: uuid.UUID
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    multiple: bool = False
    expires_at: AwareDatetime | None = None


@contract("customers", "form.submitted")
class FormSubmitted(EventData):
    """A form was submitted for a customer (validated; attached to the customer's timeline).
    `summary` holds a short text per answered field (the full answers stay with the submission);
    `scores` the CSAT/NPS answers `{field, type, score, max, category}` that reports take.
    `task_id`: the task the form's rule created, if any.
    `ticket_subject` (with `ticket_priority`, `ticket_category`): the form's ticket rule asks for a
    ticket from this submission (the tickets service opens it, source `form`, and tells
    `ticket.created` with `form_submission_id`). `survey_ticket_id`: the submission answers the
    satisfaction survey sent when that ticket was resolved (its scores are that ticket's).
    `via`: how it came (`link`, or `portal`: a portal user as their contact)."""

    submission_id: uuid.UUID
    form_id: uuid.UUID
    form_name: str
    form_version: int
    customer_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    link_id: uuid.UUID | None = None
    summary: dict[str, str] = {}
    scores: list[dict[str, object]] = []
    task_id: uuid.UUID | None = None
    submitted_at: AwareDatetime
    # added within v1 (additive)
    ticket_subject: str | None = None
    ticket_priority: Literal["low", "normal", "high", "urgent"] | None = None
    ticket_category: str | None = None
    survey_ticket_id: uuid.UUID | None = None
    via: Literal["link", "portal"] = "link"


@contract("customers", "survey.requested")
class SurveyRequested(EventData):
    """A satisfaction survey (the tenant's survey form, CSAT/NPS) goes to the requester of a resolved
    ticket: a one-submission link for that contact, expiring at `expires_at`. `url` opens it and
    holds the link's token (the only place it is told: whoever sends the mail needs it, so bind a
    queue to this event only where that mail is sent). Not repeated for the same ticket."""

    link_id: uuid.UUID
    form_id: uuid.UUID
    ticket_id: uuid.UUID
    ticket_number: int | None = None
    customer_id: uuid.UUID
    contact_id: uuid.UUID
    url: str
    expires_at: AwareDatetime
    # added within v1 (additive): the contact's mail address, where the survey mail goes (None: it has none)
    contact_email: str | None = None


@contract("customers", "survey_settings.changed")
class SurveySettingsChanged(EventData):
    """The tenant's satisfaction-survey setting changed: on/off, which form, the delay after a ticket
    is resolved, how long a link lives."""

    enabled: bool
    form_id: uuid.UUID | None = None
    delay_minutes: int = 0
    expires_in_days: int = 14


@contract("customers", "import_job.finished")
class ImportJobFinished(EventData):
    """A background import of a tool's CSV export into a project ended (`status` done or failed)."""

    job_id: uuid.UUID
    project_id: uuid.UUID
    status: Literal["done", "failed"]
    rows_total: int
    created: int
    skipped: int
