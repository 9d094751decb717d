"""`/sla`: SLA policies, the business-hours calendar and SLA settings (tickets service), a ticket's
SLA timers, and the recompute jobs a change queues. Staff read them; only owners and admins change them.

A change answers at once (same status codes and documents as before, plus `recompute`: the job that
recomputes the open tickets' timers in the background, or null when the write changed nothing); the
job's progress is `GET /sla/recompute-jobs/{id}`. Reading a job is `sla:read`, as reading the
configuration it follows."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from custops.contracts.customers import Tier
from custops.contracts.tickets import Priority, SlaTimer, Status
from custops.validation import Date
from gateway.api import API, Body, Paged, Resource, page_of, payload
from gateway.routes.tickets import check_visible_ticket
from gateway.rpc import tenant_call

Minutes = Annotated[int, Field(gt=0, le=525_600, description="business minutes, 1..525,600 (a year's worth)")]
WEEKDAY_PATTERN = r"^([0-6]|mon|tue|wed|thu|fri|sat|sun)$"
Weekday = Annotated[str, Field(pattern=WEEKDAY_PATTERN)]
ClockTime = Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
Slot = Annotated[list[ClockTime], Field(min_length=2, max_length=2, description='["HH:MM", "HH:MM"]: start, end')]

WEEKLY_SLOTS = (
    "The working hours of each weekday, in the calendar's `timezone`: keys are weekdays, `0` (Monday) to `6` "
    "(Sunday), or `mon`..`sun`; values are lists of `[start, end]` slots in 24-hour `HH:MM` local wall-clock "
    "time, several per day allowed (e.g. `[[\"09:00\", \"12:30\"], [\"13:30\", \"18:00\"]]`), not "
    "overlapping; an end of `24:00` runs to midnight. A weekday left out is closed. Answers use `0`..`6`. "
    "Bounds: at most 12 slots a day, and at least 60 minutes of working time a week (so that a deadline of "
    "the largest target stays within about 170 years).")
HOLIDAY_WINDOW = "each within 1 January ten years ago .. 31 December ten years ahead"


class PutPolicy(Body):
    """The policy for a tier and/or a priority (both null: the tenant default). A target left out or
    null means no target for that timer."""

    tier: Tier | None = None
    priority: Priority | None = None
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None


class PutCalendar(Body):
    """Replaces the calendar. Writing the calendar that is stored already changes nothing (no new
    version, no recompute)."""

    timezone: Annotated[str, Field(min_length=1, max_length=64, description=(
        "an IANA zone, e.g. Europe/Berlin; left out: the tenant's timezone"))] = None
    weekly_slots: dict[Weekday, Annotated[list[Slot], Field(max_length=12)]] = Field(
        default=None, description=WEEKLY_SLOTS,
        json_schema_extra={"propertyNames": {"pattern": WEEKDAY_PATTERN}, "additionalProperties": False})
    holidays: Annotated[list[Date], Field(max_length=2000, description=(
        f"closed local dates, at most 2,000, {HOLIDAY_WINDOW} (dates already stored may stay)"))] = None
    always_open: bool = Field(default=None, description="24/7: no slots and no holidays")


class ImportHolidays(Body):
    ics: str = Field(min_length=1, max_length=100_000, description=(
        "an iCalendar (RFC 5545) text, at most 100,000 characters: one VCALENDAR with 1 to 1,000 VEVENTs, each "
        "covering at most 31 days; the dates of its events become holidays. One-off events outside the holiday "
        f"window ({HOLIDAY_WINDOW}) are ignored and counted. At most 50 events recur, by yearly rules only "
        "(FREQ=YEARLY with BYMONTH, BYMONTHDAY or BYDAY with an ordinal within -4..4; EXDATE and RDATE honoured), "
        "starting 1970 or later; they are expanded from 1 January this year through 31 December five years on. "
        "Anything else is a 422 and changes nothing; holidays already there are not added again."))


class LoadPublicHolidays(Body):
    region: Annotated[str, Field(pattern=r"^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$", description=(
        "a country (ISO 3166-1 alpha-2, e.g. `FR`) or one of its subdivisions (ISO 3166-2, e.g. `DE-BY`, "
        "`US-NY`) known to the `holidays` package; an unknown one is a 422 naming `region`"))]
    years: Annotated[list[Annotated[int, Field(ge=1970, le=2100)]], Field(min_length=1, max_length=10, description=(
        f"1 to 10 years, {HOLIDAY_WINDOW}"))]


class Escalation(Body):
    raise_priority: bool = Field(default=None, description="raise the priority one step on a breach")
    reassign_to: uuid.UUID | None = Field(default=None, description="the member a breached ticket is given to")


class PutSettings(Body):
    pause_statuses: Annotated[list[Status], Field(max_length=10)] = Field(
        default=None, description="statuses in which SLA clocks stop (not `resolved` or `closed`)")
    warning_fraction: Annotated[float, Field(ge=0.01, le=1)] = Field(
        default=None, description="the share of a target after which a warning is sent (default 0.8; at least "
                                  "0.01: a lead of almost nothing warned at the start of a paused timer)")
    escalation: Escalation = None


# --- what the routes answer ---

JobStatus = Literal["queued", "running", "done", "failed", "superseded"]


class RecomputeJob(Resource):
    """A recompute of the open tickets' SLA timers after a configuration change, in the background.
    Until it reaches a ticket, the ticket's timers show the versions they were computed with."""

    id: uuid.UUID
    reason: Literal["calendar", "holidays", "policy", "settings", "timezone", "tier"] = Field(
        description="what changed: `timezone` the tenant's (the default calendar's), `tier` a customer's")
    status: JobStatus = Field(description=(
        "queued, running, done; failed (`error` says why; a later change recomputes again); superseded: a "
        "newer change's job (`superseded_by`) recomputes the same tickets"))
    customer_id: uuid.UUID | None = Field(description="a tier change: only this customer's tickets")
    calendar_version: int = Field(description="the calendar version when the job was queued")
    settings_version: int = Field(description="the settings version when the job was queued")
    policy_versions: dict[str, int] = Field(description="each policy's id and version when the job was queued")
    total: int | None = Field(description="tickets to recompute, counted when the job starts (null while queued)")
    done: int = Field(description="tickets recomputed so far")
    superseded_by: uuid.UUID | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


RECOMPUTE = Field(description="the job recomputing the open tickets' timers (null: nothing changed, no job)")


class RecomputeJobQuery(Paged):
    status: JobStatus | None = Field(default=None, description="only jobs in this status")


class Policy(Resource):
    id: uuid.UUID
    tier: Tier | None
    priority: Priority | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    version: int


class PolicyChanged(Policy):
    recompute: RecomputeJob | None = RECOMPUTE


class Calendar(Resource):
    timezone: str
    weekly_slots: dict[str, list[list[str]]] = Field(description=WEEKLY_SLOTS)
    holidays: list[str] = Field(description="closed local dates (YYYY-MM-DD), sorted")
    always_open: bool
    version: int


class CalendarChanged(Calendar):
    recompute: RecomputeJob | None = RECOMPUTE


class CalendarImported(CalendarChanged):
    imported: int = Field(description="how many dates the file held within the windows")
    added: int = Field(description="how many of them were not holidays yet (0: nothing changed, same version)")
    ignored: int = Field(description="dates of one-off events outside the holiday window, not imported")


class PublicHoliday(Resource):
    date: str = Field(description="a local date (YYYY-MM-DD)")
    name: str


class PublicHolidaysLoaded(CalendarChanged):
    region: str = Field(description="the region code, upper-cased")
    added: int = Field(description="how many of them were not holidays yet (0: nothing changed, same version)")
    public_holidays: list[PublicHoliday] = Field(description="the region's public holidays in the years asked for")


class Settings(Resource):
    pause_statuses: list[Status]
    warning_fraction: float
    escalation: dict
    version: int = Field(description="1 for the defaults; each change moves it on")


class SettingsChanged(Settings):
    recompute: RecomputeJob | None = RECOMPUTE


class Timer(Resource):
    timer: SlaTimer
    started_at: datetime | None
    target_minutes: int | None
    deadline: datetime | None
    warn_at: datetime | None
    met_at: datetime | None
    warned_at: datetime | None
    breached: bool
    breached_at: datetime | None
    breach_minutes: int | None
    policy_id: uuid.UUID | None
    policy_version: int | None
    calendar_version: int | None


class Pause(Resource):
    status: str
    started_at: datetime
    ended_at: datetime | None


class TicketSla(Resource):
    ticket_id: uuid.UUID
    timers: list[Timer]
    pauses: list[Pause]
    recompute_pending: bool = Field(description=(
        "a recompute job has still to reach this ticket: its unmet timers show the previous computation "
        "(their `policy_version` / `calendar_version`)"))
    recompute_job_id: uuid.UUID | None = Field(description="that job")


class PolicyDeleted(Resource):
    deleted: uuid.UUID = Field(description="the id of the deleted policy")
    recompute: RecomputeJob | None = RECOMPUTE


@API.route("/sla/policies", "GET", permission="sla:read", summary="List the SLA policies", tag="sla",
           response=page_of(Policy))
def list_policies():
    return tenant_call("tickets", "list_sla_policies")  # a bare list until the service answers a page


@API.route("/sla/policies", "PUT", permission="sla:write", tag="sla", body=PutPolicy,
           summary="Create or replace the SLA policy for a tier and/or priority (open tickets are recomputed "
                   "in the background: `recompute`; the same targets again change nothing)",
           response=PolicyChanged)
def put_policy(body: PutPolicy):
    return tenant_call("tickets", "put_sla_policy", payload(body))


@API.route("/sla/policies/<uuid:policy_id>", "DELETE", permission="sla:write", tag="sla",
           summary="Delete an SLA policy (not the tenant default)", response=PolicyDeleted, statuses=(409,))
def delete_policy(policy_id: str):
    return tenant_call("tickets", "delete_sla_policy", policy_id)


@API.route("/sla/calendar", "GET", permission="sla:read", summary="Get the business-hours calendar", tag="sla",
           response=Calendar)
def get_calendar():
    return tenant_call("tickets", "get_business_calendar")


@API.route("/sla/calendar", "PUT", permission="sla:write", tag="sla", body=PutCalendar,
           summary="Replace the business-hours calendar (open tickets are recomputed in the background: "
                   "`recompute`; the stored calendar again changes nothing)", response=CalendarChanged)
def put_calendar(body: PutCalendar):
    return tenant_call("tickets", "put_business_calendar", payload(body))


@API.route("/sla/calendar/holidays", "POST", permission="sla:write", tag="sla", body=ImportHolidays,
           text_bodies={"text/calendar": "ics"},
           summary="Import holidays from an iCalendar file (text/calendar body, or JSON {\"ics\": ...})",
           response=CalendarImported, statuses=(409,))
def import_holidays(body: ImportHolidays):
    return tenant_call("tickets", "import_holidays_ics", body.ics)


@API.route("/sla/calendar/public-holidays", "POST", permission="sla:write", tag="sla", body=LoadPublicHolidays,
           summary="Add a country's or region's public holidays (e.g. DE-BY, US-NY, FR) for some years to the "
                   "calendar's holidays (open tickets are recomputed in the background when any is new)",
           response=PublicHolidaysLoaded, statuses=(409,))
def load_public_holidays(body: LoadPublicHolidays):
    return tenant_call("tickets", "load_public_holidays", payload(body))


@API.route("/sla/settings", "GET", permission="sla:read", summary="Get the SLA settings", tag="sla",
           response=Settings)
def get_settings():
    return tenant_call("tickets", "get_sla_settings")


@API.route("/sla/settings", "PUT", permission="sla:write", tag="sla", body=PutSettings,
           summary="Change pause statuses, warning lead or breach escalation (open tickets are recomputed in "
                   "the background: `recompute`; the same settings again change nothing)",
           response=SettingsChanged)
def put_settings(body: PutSettings):
    return tenant_call("tickets", "put_sla_settings", payload(body))


@API.route("/tickets/<uuid:ticket_id>/sla", "GET", permission="sla:read", tag="sla",
           summary="A ticket's SLA timers (deadlines, met, breached, versions) and pause intervals",
           response=TicketSla)
def get_ticket_sla(ticket_id: str):
    check_visible_ticket(ticket_id)  # a ticket of a customer outside a scoped member's scope: 404
    return tenant_call("tickets", "get_ticket_sla", ticket_id)


@API.route("/sla/recompute-jobs", "GET", permission="sla:read", tag="sla", query=RecomputeJobQuery,
           summary="List the SLA recompute jobs configuration changes queued, newest first",
           response=page_of(RecomputeJob))
def list_recompute_jobs(query: RecomputeJobQuery):
    return tenant_call("tickets", "list_sla_recompute_jobs", query.status, query.limit, query.cursor)


@API.route("/sla/recompute-jobs/<uuid:job_id>", "GET", permission="sla:read", tag="sla",
           summary="An SLA recompute job: its status and progress (tickets done of total)", response=RecomputeJob)
def get_recompute_job(job_id: str):
    return tenant_call("tickets", "get_sla_recompute_job", job_id)
