"""Input shapes of the follow-up commands and queries (validated here: services trust no caller)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from custops.contracts.timeline import FollowupPreset, FollowupSubjectType
from custops.validation import Instant
from timeline.commands import CLOCK_SKEW
from timeline.followups import DEFAULT_GRACE_MINUTES, MAX_GRACE_MINUTES

Note = Field(min_length=1, max_length=2000)


def _not_blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateFollowup(_Strict):
    assignee_id: uuid.UUID
    due_at: Instant
    note: str = Note
    subject_type: FollowupSubjectType | None = None
    subject_id: uuid.UUID | None = None
    overdue_after_minutes: int = Field(default=DEFAULT_GRACE_MINUTES, ge=0, le=MAX_GRACE_MINUTES)

    @field_validator("note")
    @classmethod
    def _note_not_blank(cls, v: str) -> str:
        return _not_blank(v)

    @field_validator("due_at")
    @classmethod
    def _not_past(cls, v: datetime) -> datetime:
        if v < datetime.now(timezone.utc) - CLOCK_SKEW:
            raise ValueError("must not be in the past")
        return v

    @model_validator(mode="after")
    def _subject_whole(self):
        if (self.subject_type is None) != (self.subject_id is None):
            raise ValueError("subject_type and subject_id go together")
        return self


class UpdateFollowup(_Strict):
    note: str = Note

    @field_validator("note")
    @classmethod
    def _note_not_blank(cls, v: str) -> str:
        return _not_blank(v)


class Postpone(_Strict):
    """Exactly one of `preset` and `until`."""

    preset: FollowupPreset | None = None
    until: Instant | None = None
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _one_target(self):
        if (self.preset is None) == (self.until is None):
            raise ValueError("give exactly one of preset and until")
        return self


class Complete(_Strict):
    resolution: str = Note

    @field_validator("resolution")
    @classmethod
    def _resolution_not_blank(cls, v: str) -> str:
        return _not_blank(v)


class Reassign(_Strict):
    assignee_id: uuid.UUID


class Cancel(_Strict):
    reason: str | None = Field(default=None, max_length=500)


class FollowupFilters(_Strict):
    assignee_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    # the customers a scoped caller may see (the gateway's scope); None: the whole tenant
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)
    status: list[str] | None = Field(default=None, min_length=1, max_length=3)
    subject_type: FollowupSubjectType | None = None
    subject_id: uuid.UUID | None = None
    due_from: Instant | None = None
    due_to: Instant | None = None

    @field_validator("status")
    @classmethod
    def _statuses(cls, v):
        if v is not None and not set(v) <= {"open", "completed", "cancelled"}:
            raise ValueError("each must be open, completed or cancelled")
        return v


class AnalyticsQuery(_Strict):
    due_from: Instant
    due_to: Instant
    assignee_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _ordered(self):
        if self.due_to <= self.due_from:
            raise ValueError("due_to must be after due_from")
        return self

