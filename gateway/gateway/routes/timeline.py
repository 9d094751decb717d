"""The timeline (timeline service): a customer's activities, interactions logged and corrected, the
tenant-wide activity feed and its CSV export, heatmaps, interaction kinds, saved views.

Who sees what (`gateway.roles`): staff see the customers of their scope; a portal user sees only the
`customer`-visible activities of their own company (never heatmaps, views or internal entries); the
internal entries of a customer need `timeline:internal` (a contractor: their assignment's
`internal_access`). Across the tenant (`/activity`, heatmaps) a scoped role's rows are its customers'
(`customer_ids`), and internal entries need `timeline:internal` by role — a contractor's per-customer
internal access applies to that customer's own timeline only.

A saved view (`view=<id>`) supplies filters; the parameters given with it win. It never widens what
the reader sees: the reader's scope is applied after the view's filters.

`GET /activity/export.csv` streams like the audit export: page by page (`EXPORT_PAGE_ROWS`), at most
`EXPORT_MAX_ROWS` rows; a bad filter or a service that is down is a problem document before the
first byte.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from flask import Response, g, stream_with_context
from pydantic import Field

from custops.contracts.timeline import InteractionKind
from custops.validation import Date, Instant
from gateway import roles
from gateway.api import API, Body, Paged, Query, Resource, page_of, payload
from gateway.problems import Problem
from gateway.routes.audit import _csv_line
from gateway.rpc import tenant_call

EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE_ROWS = 1000

ActivityType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=100)]
LINKS = ("ticket_id", "task_id", "project_id", "mail_message_id", "time_entry_id")


class ActivityFilterQuery(Query):
    type: list[ActivityType] | None = Field(
        default=None, max_length=50, description="only activities of these types (repeat the parameter for several): "
                                                 "an event type (`ticket.created`) or `interaction.<kind>`")
    type_prefix: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*\.$",
                                    description="every type of a kind: `interaction.`, `ticket.`, `task.`")
    actor_type: Literal["member", "contact", "system"] | None = None
    actor_id: uuid.UUID | None = Field(default=None, description="the member or contact who did it")
    visibility: Literal["internal", "customer"] | None = None
    occurred_from: Instant | None = Field(default=None, alias="from", description="inclusive")
    occurred_to: Instant | None = Field(default=None, alias="to", description="exclusive")
    ticket_id: uuid.UUID | None = Field(default=None, description="linked to this ticket")
    task_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    mail_message_id: uuid.UUID | None = None
    time_entry_id: uuid.UUID | None = None
    q: str | None = Field(default=None, min_length=1, max_length=200,
                          description="full-text search over summaries (words are stemmed; `\"a phrase\"`, `or`, "
                                      "`-word`)")
    human_only: bool | None = Field(default=None, description="only activities of members and contacts")
    include_retracted: bool | None = Field(default=None, description="show retracted interactions too")
    view: uuid.UUID | None = Field(default=None, description="apply a saved view's filters (these parameters win)")


class TimelineQuery(ActivityFilterQuery, Paged):
    pass


class ActivityQuery(ActivityFilterQuery, Paged):
    customer_id: uuid.UUID | None = None


class ActivityExportQuery(ActivityFilterQuery):
    customer_id: uuid.UUID | None = None


class HeatmapQuery(Query):
    start: Date | None = Field(default=None, description="first day (the tenant's calendar), inclusive "
                                                         "(default: 29 days before `end`)")
    end: Date | None = Field(default=None, description="last day, inclusive (default: the tenant's today)")
    bucket: Literal["day", "week", "month"] = "day"
    quiet_days: int = Field(default=14, ge=1, le=365,
                            description="an account with no human activity for this many days is quiet (listed first)")
    type: list[ActivityType] | None = Field(default=None, max_length=50)
    type_prefix: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*\.$")
    actor_type: Literal["member", "contact", "system"] | None = None
    visibility: Literal["internal", "customer"] | None = None
    human_only: bool | None = None
    customer_id: uuid.UUID | None = None


class Links(Body):
    ticket_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    mail_message_id: uuid.UUID | None = None
    time_entry_id: uuid.UUID | None = None


class LogInteraction(Body):
    kind: InteractionKind | Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")] = Field(
        description="a built-in kind or one of the tenant's own (`GET /interaction-types`)")
    summary: str = Field(min_length=1, max_length=1000)
    internal: bool = None
    visibility: Literal["internal", "customer"] = Field(default=None, description="the same as `internal` "
                                                        "(default: internal)")
    occurred_at: Instant = Field(default=None, description="when it happened (default: now); not in the future")
    fields: dict = Field(default=None, description="the kind's structured fields (a call's `duration_minutes` "
                                                   "and `direction`, a meeting's `attendees`...)")
    links: Links = None


class CorrectInteraction(Body):
    summary: str = Field(default=None, min_length=1, max_length=1000)
    visibility: Literal["internal", "customer"] = None
    occurred_at: Instant = None
    fields: dict = Field(default=None, description="replaces the whole set of fields")
    links: Links = None
    reason: str = Field(default=None, min_length=1, max_length=500)
    expected_revision: int = Field(default=None, ge=1, description="refuse (409) if the activity has moved on")


class RetractInteraction(Body):
    reason: str = Field(min_length=1, max_length=500)
    expected_revision: int = Field(default=None, ge=1)


class Activity(Resource):
    id: uuid.UUID = Field(description="this version's id")
    activity_id: uuid.UUID = Field(description="the activity's id for good (its first version's)")
    customer_id: uuid.UUID
    type: str = Field(description="the event type (`ticket.created`...) or `interaction.<kind>`")
    occurred_at: datetime
    recorded_at: datetime | None
    summary: str
    internal: bool = Field(description="team-only: never shown to portal users or contractors")
    visibility: Literal["internal", "customer"]
    subject_type: str | None
    subject_id: uuid.UUID | None
    actor: uuid.UUID | None = Field(description="who did it: the id of the member or contact `actor_type` names; "
                                                "null for the system or when not known")
    actor_type: Literal["member", "contact", "system"] | None = Field(
        description="what `actor` is: a team member, a customer's contact, or the system itself (an SLA clock, "
                    "an automatic rule); null on activities recorded before actors were")
    links: dict[str, str]
    fields: dict | None = Field(description="an interaction's structured fields (null for events)")
    revision: int
    retracted: bool
    correction_reason: str | None
    data: dict = Field(description="the event's payload as it was published")


class HeatmapAccount(Resource):
    customer_id: uuid.UUID
    counts: list[int] = Field(description="one count per bucket, in the order of `buckets`")
    total: int
    last_human_at: datetime | None
    days_since_human: int | None
    quiet: bool


class Heatmap(Resource):
    timezone: str
    week_start: str
    bucket: str
    quiet_days: int
    buckets: list[date] = Field(description="each bucket's first day, in the tenant's calendar")
    quiet_count: int
    accounts: list[HeatmapAccount] = Field(description="quiet accounts first (longest quiet first), then the busiest")


class MemberRow(Resource):
    member_id: uuid.UUID
    counts: list[int]
    total: int


class MemberHeatmap(Resource):
    timezone: str
    week_start: str
    bucket: str
    buckets: list[date]
    members: list[MemberRow]


class InteractionTypeField(Resource):
    name: str
    kind: str
    required: bool
    label: str


class InteractionType(Resource):
    kind: str
    label: str
    built_in: bool
    fields: list[InteractionTypeField]


class DefineInteractionType(Body):
    label: str = Field(min_length=1, max_length=80)
    fields: list[dict] = Field(default=None, max_length=30, description="`{name, kind, required, choices, minimum, "
                                                                         "maximum, label}` each")


class SaveView(Body):
    name: str = Field(min_length=1, max_length=80)
    filters: dict = Field(default=None, description="the timeline filters (`types`, `type_prefix`, `actor_type`, "
                                                    "`actor_id`, `visibility`, `occurred_from`, `occurred_to`, "
                                                    "`links`, `q`, `human_only`, `include_retracted`, `customer_id`)")
    shared: bool = Field(default=None, description="listed to the whole team (read-only for them)")
    is_default: bool = Field(default=None, description="the member's default view (one at most)")


class UpdateView(Body):
    name: str = Field(default=None, min_length=1, max_length=80)
    filters: dict = None
    shared: bool = None
    is_default: bool = None


class SavedView(Resource):
    id: uuid.UUID
    member_id: uuid.UUID
    name: str
    filters: dict
    shared: bool
    is_default: bool
    mine: bool
    created_at: datetime
    updated_at: datetime


# --- filters ---------------------------------------------------------------------------------------

def _given_filters(query) -> dict:
    """The service's filter document from the query parameters given."""
    wanted: dict = {}
    if query.type:
        wanted["types"] = query.type
    for name in ("type_prefix", "actor_type", "visibility", "q", "human_only", "include_retracted"):
        value = getattr(query, name, None)
        if value is not None:
            wanted[name] = value
    if getattr(query, "actor_id", None) is not None:
        wanted["actor_id"] = str(query.actor_id)
    for name in ("occurred_from", "occurred_to"):
        if getattr(query, name, None) is not None:
            wanted[name] = getattr(query, name).isoformat()
    links = {k: str(getattr(query, k)) for k in LINKS if getattr(query, k, None) is not None}
    if links:
        wanted["links"] = links
    if getattr(query, "customer_id", None) is not None:
        wanted["customer_id"] = str(query.customer_id)
    return wanted


def _filters(query, per_customer: bool) -> dict:
    wanted = _given_filters(query)
    if getattr(query, "view", None) is not None:
        if g.identity.member_id is None:
            raise Problem(404, f"view {query.view} not found")
        view = tenant_call("timeline", "get_view", g.identity.member_id, str(query.view))
        saved = dict(view["filters"])
        if per_customer:
            saved.pop("customer_id", None)  # the path names the customer
        wanted = {**saved, **wanted}
    return wanted


def _tenant_wide(wanted: dict) -> dict:
    """The reader's scope over a tenant-wide filter: a portal user's own company's customer-visible rows,
    a scoped member's customers; internal entries by role."""
    identity = g.identity
    portal = roles.customer_scope(identity)
    if portal is not None:
        wanted["customer_ids"] = [portal]
    elif (visible := roles.visible_customer_ids(identity)) is not None:
        wanted["customer_ids"] = visible
    if not roles.allowed(identity.role, "timeline:internal"):
        wanted["include_internal"] = False
    return wanted


# --- a customer's timeline --------------------------------------------------------------------------

@API.route("/customers/<uuid:customer_id>/timeline", "GET", permission="timeline:read",
           summary="A customer's activity timeline, newest first (at one instant: the latest fact first), with "
                   "the total of the filtered set", tag="timeline", query=TimelineQuery, response=page_of(Activity))
def list_activities(customer_id: str, query: TimelineQuery):
    roles.check_customer(g.identity, customer_id)
    wanted = {"include_internal": roles.may_see_internal(g.identity, customer_id, "timeline:internal"),
              **_filters(query, per_customer=True)}
    return tenant_call("timeline", "list_activities", customer_id, wanted, query.limit, query.cursor)


@API.route("/customers/<uuid:customer_id>/interactions", "POST", permission="timeline:write",
           summary="Log an interaction (call, meeting, note...) on a customer's timeline", tag="timeline",
           body=LogInteraction, status=201, response=Activity)
def log_interaction(customer_id: str, body: LogInteraction):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("timeline", "log_interaction", customer_id, payload(body))


@API.route("/customers/<uuid:customer_id>/timeline/<uuid:activity_id>/corrections", "POST",
           permission="timeline:write", tag="timeline", body=CorrectInteraction, status=201, response=Activity,
           statuses=(409,), summary="Edit a logged interaction: a new version (the old one stays in its history)")
def correct_interaction(customer_id: str, activity_id: str, body: CorrectInteraction):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("timeline", "correct_interaction", customer_id, activity_id, payload(body))


@API.route("/customers/<uuid:customer_id>/timeline/<uuid:activity_id>/retraction", "POST",
           permission="timeline:write", tag="timeline", body=RetractInteraction, status=201, response=Activity,
           statuses=(409,), summary="Retract a logged interaction: a last version, hidden from the timeline")
def retract_interaction(customer_id: str, activity_id: str, body: RetractInteraction):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("timeline", "retract_interaction", customer_id, activity_id, payload(body))


@API.route("/customers/<uuid:customer_id>/timeline/<uuid:activity_id>/history", "GET",
           permission="timeline:read", tag="timeline", response=page_of(Activity),
           summary="Every version of an activity, first to last")
def activity_history(customer_id: str, activity_id: str):
    roles.check_customer(g.identity, customer_id)
    return tenant_call("timeline", "activity_history", customer_id, activity_id,
                       roles.may_see_internal(g.identity, customer_id, "timeline:internal"))


# --- across the tenant ---------------------------------------------------------------------------------

@API.route("/activity", "GET", permission="timeline:read", tag="timeline", query=ActivityQuery,
           response=page_of(Activity), statuses=(404,),  # 404: an unknown saved `view`
           summary="Every customer's activities (programmatic export), newest first, with the total")
def list_tenant_activities(query: ActivityQuery):
    wanted = _tenant_wide(_filters(query, per_customer=False))
    return tenant_call("timeline", "list_tenant_activities", wanted, query.limit, query.cursor)


@API.route("/activity/export.csv", "GET", permission="timeline:read", tag="timeline", query=ActivityExportQuery,
           summary=f"Every customer's activities as CSV, newest first (at most {EXPORT_MAX_ROWS} rows)",
           produces="text/csv", statuses=(404,))  # 404: an unknown saved `view`
def export_activities(query: ActivityExportQuery):
    wanted = _tenant_wide(_filters(query, per_customer=False))
    first = tenant_call("timeline", "export_activities", wanted, None, EXPORT_PAGE_ROWS)

    def lines():
        page, sent = first, 0
        yield _csv_line(page["columns"])
        while True:
            for row in page["rows"][:EXPORT_MAX_ROWS - sent]:
                yield _csv_line(row)
            sent += len(page["rows"])
            if page["next_cursor"] is None or sent >= EXPORT_MAX_ROWS:
                return
            page = tenant_call("timeline", "export_activities", wanted, page["next_cursor"], EXPORT_PAGE_ROWS)

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="activity.csv"'})


def _heatmap_query(query: HeatmapQuery) -> dict:
    filters = _tenant_wide(_given_filters(query))
    doc = {"bucket": query.bucket, "quiet_days": query.quiet_days, "filters": filters}
    for name in ("start", "end"):
        if getattr(query, name) is not None:
            doc[name] = getattr(query, name).isoformat()
    return doc


@API.route("/activity/heatmap", "GET", permission="activity:read", tag="timeline", query=HeatmapQuery,
           response=Heatmap, summary="Activity per account and day/week/month in the tenant's calendar; "
                                     "the quiet accounts (no human activity in `quiet_days`) first")
def activity_heatmap(query: HeatmapQuery):
    return tenant_call("timeline", "activity_heatmap", _heatmap_query(query))


@API.route("/activity/heatmap/members", "GET", permission="activity:read", tag="timeline", query=HeatmapQuery,
           response=MemberHeatmap, summary="Activity per team member and day/week/month (the engagement pattern)")
def member_heatmap(query: HeatmapQuery):
    return tenant_call("timeline", "member_heatmap", _heatmap_query(query))


# --- interaction kinds ---------------------------------------------------------------------------------

@API.route("/interaction-types", "GET", permission="activity:read", tag="timeline",
           response=page_of(InteractionType), summary="The interaction kinds: built-in and the tenant's own")
def list_interaction_types():
    return tenant_call("timeline", "list_interaction_types")


@API.route("/interaction-types/<kind>", "PUT", permission="timeline:setup", tag="timeline",
           body=DefineInteractionType, response=InteractionType,
           summary="Define (or redefine) one of the tenant's own interaction kinds and its fields")
def define_interaction_type(kind: str, body: DefineInteractionType):
    return tenant_call("timeline", "define_interaction_type", kind, payload(body))


# --- saved views ---------------------------------------------------------------------------------------

def _member() -> str:
    if g.identity.member_id is None:
        raise Problem(403, "saved views belong to team members")
    return g.identity.member_id


@API.route("/activity-views", "GET", permission="activity:read", tag="timeline", response=page_of(SavedView),
           summary="Your saved timeline views and those your team shares (your default first)")
def list_views():
    return tenant_call("timeline", "list_views", _member())


@API.route("/activity-views", "POST", permission="activity:views", tag="timeline", body=SaveView, status=201,
           response=SavedView, statuses=(409,), location="/activity-views/{id}",
           summary="Save a timeline view (a named filter set)")
def save_view(body: SaveView):
    return tenant_call("timeline", "save_view", _member(), payload(body))


@API.route("/activity-views/<uuid:view_id>", "GET", permission="activity:read", tag="timeline", response=SavedView,
           summary="A saved view (yours or shared)")
def get_view(view_id: str):
    return tenant_call("timeline", "get_view", _member(), view_id)


@API.route("/activity-views/<uuid:view_id>", "PATCH", permission="activity:views", tag="timeline", body=UpdateView,
           response=SavedView, statuses=(409,), summary="Rename, refilter, share or make default one of your views")
def update_view(view_id: str, body: UpdateView):
    return tenant_call("timeline", "update_view", _member(), view_id, payload(body))


class DeletedView(Resource):
    id: uuid.UUID
    deleted: bool


@API.route("/activity-views/<uuid:view_id>", "DELETE", permission="activity:views", tag="timeline",
           response=DeletedView, summary="Delete one of your views")
def delete_view(view_id: str):
    tenant_call("timeline", "delete_view", _member(), view_id)
    return {"id": view_id, "deleted": True}
