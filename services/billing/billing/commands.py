"""Input shapes the billing service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

MAX_MINUTES_PER_ENTRY = 24 * 60


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
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    # whose time it is; None: the caller's own (logging a colleague's time is the gateway's to allow)
    member_id: uuid.UUID | None = None
    minutes: int = Field(ge=1, le=MAX_MINUTES_PER_ENTRY, strict=True)
    billable: bool = True
    work_date: date | None = None
    note: str = Field(default="", max_length=10_000)

    @field_validator("work_date")
    @classmethod
    def _not_in_future(cls, v: date | None) -> date | None:
        return not_in_future(v)

    @model_validator(mode="after")
    def _default_today(self):
        if self.work_date is None:
            self.work_date = utc_today()
        return self


class CorrectTime(BaseModel):
    """A correction of a time entry: only the fields given change (`ticket_id: null` detaches the
    entry from its ticket); the other fields cannot be null. The same bounds as `LogTime`."""

    model_config = ConfigDict(extra="forbid")

    member_id: uuid.UUID = None
    customer_id: uuid.UUID = None
    ticket_id: uuid.UUID | None = None
    work_date: date = None
    minutes: int = Field(default=None, ge=1, le=MAX_MINUTES_PER_ENTRY, strict=True)
    billable: bool = None
    note: str = Field(default=None, max_length=10_000)

    @field_validator("member_id", "customer_id", "work_date", "minutes", "billable", "note", mode="before")
    @classmethod
    def _not_null(cls, v):
        if v is None:
            raise ValueError("must not be null")
        return v

    @field_validator("work_date")
    @classmethod
    def _not_in_future(cls, v: date) -> date:
        return not_in_future(v)

    def given(self) -> dict:
        """The fields the correction sets, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


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
    # only these customers' entries (the gateway's scope of a member: the customers they own or work on)
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)


class SummaryRange(DateRange):
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
