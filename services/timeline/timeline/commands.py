"""Input shapes the timeline service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

# How far ahead of our clock a caller's `occurred_at` may be (their clock may run fast).
CLOCK_SKEW = timedelta(minutes=5)

# what an activity can be linked to (`links` keys)
LINK_KEYS = ("ticket_id", "task_id", "project_id", "mail_message_id", "time_entry_id")
Visibility = Literal["internal", "customer"]
ActorType = Literal["member", "contact", "system"]
KIND = r"^[a-z][a-z0-9_]{1,39}$"
ACTIVITY_TYPE = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


def _strip(v: str | None) -> str | None:
    if v is None:
        return v
    v = v.strip()
    if not v:
        raise ValueError("must not be blank")
    return v


def _not_in_future(v: datetime | None) -> datetime | None:
    if v is not None and v > datetime.now(timezone.utc) + CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return v


class Links(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    mail_message_id: uuid.UUID | None = None
    time_entry_id: uuid.UUID | None = None

    def stored(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.model_dump().items() if v is not None}


class LogInteraction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern=KIND)
    summary: str = Field(min_length=1, max_length=1000)
    # Internal unless said otherwise: a hand-logged call or note must never leak to a portal
    # user because someone forgot a flag. `visibility` says the same as `internal` (either may be given).
    internal: bool | None = None
    visibility: Visibility | None = None
    occurred_at: AwareDatetime | None = None
    fields: dict = Field(default_factory=dict)
    links: Links = Field(default_factory=Links)

    _summary = field_validator("summary")(classmethod(lambda cls, v: _strip(v)))
    _future = field_validator("occurred_at")(classmethod(lambda cls, v: _not_in_future(v)))

    @model_validator(mode="after")
    def _one_visibility(self):
        if self.internal is not None and self.visibility is not None and \
                self.internal != (self.visibility == "internal"):
            raise ValueError("internal and visibility disagree")
        return self

    def is_internal(self) -> bool:
        if self.visibility is not None:
            return self.visibility == "internal"
        return True if self.internal is None else self.internal


class CorrectInteraction(BaseModel):
    """An edit: the fields given replace the current version's; `fields` replaces the whole set."""

    model_config = ConfigDict(extra="forbid")

    summary: str | None = Field(default=None, min_length=1, max_length=1000)
    visibility: Visibility | None = None
    occurred_at: AwareDatetime | None = None
    fields: dict | None = None
    links: Links | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    expected_revision: int | None = Field(default=None, ge=1)

    _summary = field_validator("summary")(classmethod(lambda cls, v: _strip(v)))
    _future = field_validator("occurred_at")(classmethod(lambda cls, v: _not_in_future(v)))

    @model_validator(mode="after")
    def _something(self):
        if all(getattr(self, f) is None for f in ("summary", "visibility", "occurred_at", "fields", "links")):
            raise ValueError("name at least one of summary, visibility, occurred_at, fields, links")
        return self


class RetractInteraction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    expected_revision: int | None = Field(default=None, ge=1)

    _reason = field_validator("reason")(classmethod(lambda cls, v: _strip(v)))


class ActivityFilters(BaseModel):
    """What a timeline query may filter on (per customer, or across the tenant)."""

    model_config = ConfigDict(extra="forbid")

    types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    # `interaction.` or `ticket.`: every type of that kind
    type_prefix: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*\.$")
    actor_type: ActorType | None = None
    actor_id: uuid.UUID | None = None
    visibility: Visibility | None = None
    include_internal: bool = True  # the caller's right to see internal entries (the gateway decides)
    occurred_from: AwareDatetime | None = None  # inclusive
    occurred_to: AwareDatetime | None = None  # exclusive
    links: Links = Field(default_factory=Links)
    q: str | None = Field(default=None, min_length=1, max_length=200)
    human_only: bool = False
    include_retracted: bool = False
    # across the tenant: one customer, or the scope of the caller (the gateway's `visible_customer_ids`)
    customer_id: uuid.UUID | None = None
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)

    @field_validator("types")
    @classmethod
    def _types(cls, v):
        import re

        for t in v or ():
            if not re.match(ACTIVITY_TYPE, t) or len(t) > 100:
                raise ValueError(f"not an activity type: {t[:100]}")
        return v

    @field_validator("q")
    @classmethod
    def _q(cls, v):
        return _strip(v)

    @model_validator(mode="after")
    def _range(self):
        if self.occurred_from and self.occurred_to and self.occurred_from >= self.occurred_to:
            raise ValueError("occurred_from must be before occurred_to")
        return self


class HeatmapQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date | None = None  # in the tenant's calendar, inclusive (default: 29 days before end)
    end: date | None = None  # inclusive (default: the tenant's today)
    bucket: Literal["day", "week", "month"] = "day"
    quiet_days: int = Field(default=14, ge=1, le=365)
    filters: ActivityFilters = Field(default_factory=ActivityFilters)

    def resolved(self, today: date) -> "HeatmapQuery":
        end = self.end or (today if self.start is None else max(today, self.start))
        return self.model_copy(update={"end": end, "start": self.start or end - timedelta(days=29)})

    @model_validator(mode="after")
    def _range(self):
        if self.start is None or self.end is None:
            return self
        if self.end < self.start:
            raise ValueError("end must not be before start")
        limit = {"day": 366, "week": 3 * 366, "month": 5 * 366}[self.bucket]
        if (self.end - self.start).days >= limit:
            raise ValueError(f"at most {limit} days for {self.bucket} buckets")
        return self


class DefineInteractionType(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    fields: list = Field(default_factory=list)


class SaveView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    filters: dict = Field(default_factory=dict)
    shared: bool = False
    is_default: bool = False

    _name = field_validator("name")(classmethod(lambda cls, v: _strip(v)))


class UpdateView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=80)
    filters: dict | None = None
    shared: bool | None = None
    is_default: bool | None = None

    _name = field_validator("name")(classmethod(lambda cls, v: _strip(v)))
