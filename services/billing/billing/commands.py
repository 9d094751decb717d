"""Input shapes the billing service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from custops.errors import InvalidInput

MAX_MINUTES_PER_ENTRY = 24 * 60
MAX_TAGS = 20
# how far in the future a start or an end may be (clocks of clients differ a little)
CLOCK_SLACK = timedelta(minutes=5)


def _tags(v: list[str]) -> list[str]:
    """Tags trimmed, empty ones dropped, each once, in the order given."""
    seen: list[str] = []
    for tag in (t.strip() for t in v):
        if tag and tag not in seen:
            seen.append(tag)
    return seen


Tags = Annotated[list[Annotated[str, Field(max_length=50)]], Field(max_length=MAX_TAGS), AfterValidator(_tags)]
Category = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(str.strip)]
Reason = Annotated[str, Field(max_length=2000)]


def not_ahead(v: datetime | None) -> datetime | None:
    if v is not None and v > datetime.now(timezone.utc) + CLOCK_SLACK:
        raise ValueError("must not be in the future")
    return v


def span_minutes(started_at: datetime, ended_at: datetime) -> int:
    """Whole minutes between a start and an end, rounded half up (raw time; rounding for invoices is
    the tenant's rule at invoicing)."""
    return (int((ended_at - started_at).total_seconds()) + 30) // 60


def check_span(started_at: datetime | None, ended_at: datetime | None, minutes: int | None) -> int | None:
    """The minutes of an entry given as a start and an end (both or neither), or `minutes`."""
    if (started_at is None) != (ended_at is None):
        raise ValueError("give both 'started_at' and 'ended_at', or neither")
    if started_at is None:
        return minutes
    if ended_at <= started_at:
        raise ValueError("'ended_at' must be after 'started_at'")
    span = span_minutes(started_at, ended_at)
    if not 1 <= span <= MAX_MINUTES_PER_ENTRY:
        raise ValueError(f"from 'started_at' to 'ended_at' must be 1 to {MAX_MINUTES_PER_ENTRY} minutes")
    if minutes is not None and minutes != span:
        raise ValueError(f"'minutes' ({minutes}) differs from the span of 'started_at'..'ended_at' ({span})")
    return span


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def latest_work_date(today: date) -> date:
    # A tenant's local "today" can be a day ahead of UTC (UTC+14 at most); later than that is a typo.
    return today + timedelta(days=1)


def not_in_future(v: date | None) -> date | None:
    if v is not None and v > latest_work_date(utc_today()):
        raise ValueError("must not be in the future")
    return v


class LogTime(BaseModel):
    """A time entry: `minutes`, or `started_at` and `ended_at` (then `minutes` is their span).
    `billable` is the entry's own say (see `billing.billability`: without it the category, the
    project or the customer decides; an override of theirs needs a `billable_reason`). `work_date`
    defaults to the member's local day of `started_at`, else their local today (the service knows
    the zone)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    # whose time it is; None: the caller's own (logging a colleague's time is the gateway's to allow)
    member_id: uuid.UUID | None = None
    minutes: int | None = Field(default=None, ge=1, le=MAX_MINUTES_PER_ENTRY, strict=True)
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    billable: bool | None = None
    billable_reason: Reason | None = None
    category: Category | None = None
    tags: Tags = []
    work_date: date | None = None
    note: str = Field(default="", max_length=10_000)

    @field_validator("work_date")
    @classmethod
    def _not_in_future(cls, v: date | None) -> date | None:
        return not_in_future(v)

    @field_validator("started_at", "ended_at")
    @classmethod
    def _not_ahead(cls, v: datetime | None) -> datetime | None:
        return not_ahead(v)

    def checked(self) -> "LogTime":
        """The entry with its minutes settled from the span (`InvalidInput` on the field at fault)."""
        try:
            self.minutes = check_span(self.started_at, self.ended_at, self.minutes)
        except ValueError as exc:
            raise field_problem("started_at" if self.started_at is None else "ended_at", str(exc)) from None
        if self.minutes is None:
            raise field_problem("minutes", "give 'minutes', or 'started_at' and 'ended_at'")
        return self


class CorrectTime(BaseModel):
    """A correction of a time entry: only the fields given change (`ticket_id`, `project_id`,
    `task_id`, `activity_id`, `category`, `started_at`/`ended_at`: null detaches or clears); the
    other fields cannot be null. The same bounds as `LogTime`. `confirmed: true` confirms an entry
    that needs it (a timer that ran past the limit)."""

    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID = None
    customer_id: uuid.UUID = None
    ticket_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    work_date: date = None
    minutes: int = Field(default=None, ge=1, le=MAX_MINUTES_PER_ENTRY, strict=True)
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    billable: bool = None
    billable_reason: Reason | None = None
    category: Category | None = None
    tags: Tags = None
    note: str = Field(default=None, max_length=10_000)
    confirmed: bool = None

    @field_validator("member_id", "customer_id", "work_date", "minutes", "billable", "note", "tags", "confirmed",
                     mode="before")
    @classmethod
    def _not_null(cls, v):
        if v is None:
            raise ValueError("must not be null")
        return v

    @field_validator("work_date")
    @classmethod
    def _not_in_future(cls, v: date) -> date:
        return not_in_future(v)

    @field_validator("started_at", "ended_at")
    @classmethod
    def _not_ahead(cls, v: datetime | None) -> datetime | None:
        return not_ahead(v)

    def given(self) -> dict:
        """The fields the correction sets, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def field_problem(field: str, message: str) -> InvalidInput:
    return InvalidInput("the input is not valid", [{"field": field, "message": message}])


class DateRange(BaseModel):
    """An inclusive range of work dates; either end may be open."""

    model_config = ConfigDict(extra="forbid")

    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")

    @field_validator("date_to")
    @classmethod
    def _not_before_start(cls, v: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("date_from")
        if v is not None and start is not None and v < start:
            raise ValueError("must not be before 'from'")
        return v


class TimeEntryFilters(DateRange):
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    billable: bool | None = None
    category: str | None = Field(default=None, max_length=100)
    # only these customers' entries (the gateway's scope of a member: the customers they own or work on)
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)


class SummaryRange(DateRange):
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")


class StartTimer(BaseModel):
    """A timer for the caller: on a ticket, a task or a timeline activity of a customer (or just the
    customer). `billable` / `billable_reason` / `category` are what its entry will say (decided by
    the precedence when it stops; checked already at the start, so a timer never runs undecided)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    category: Category | None = None
    billable: bool | None = None
    billable_reason: Reason | None = None
    note: str = Field(default="", max_length=10_000)
    tags: Tags = []


class TimerFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID | None = None
    live: bool = True  # running or paused only
    # the members whose timers the caller may see (None: everyone's: a manager)
    member_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)
