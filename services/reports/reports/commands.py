"""Input shapes the reports service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reports.weeks import zone

MAX_WEEKS = 104


class VolumeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    weeks: int = Field(default=12, ge=1, le=MAX_WEEKS)


class UpdateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(min_length=1, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        zone(v)
        return v
