"""Input shapes the timeline service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from custops.contracts.timeline import InteractionKind

# How far ahead of our clock a caller's `occurred_at` may be (their clock may run fast).
CLOCK_SKEW = timedelta(minutes=5)


class LogInteraction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: InteractionKind
    summary: str = Field(min_length=1, max_length=1000)
    # Internal unless said otherwise: a hand-logged call or note must never leak to a portal
    # user because someone forgot a flag.
    internal: bool = True
    occurred_at: AwareDatetime | None = None

    @field_validator("summary")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v

    @field_validator("occurred_at")
    @classmethod
    def _not_in_future(cls, v: datetime | None) -> datetime | None:
        if v is not None and v > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise ValueError("must not be in the future")
        return v


class ActivityFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: list[str] | None = Field(default=None, min_length=1)
    include_internal: bool = True
