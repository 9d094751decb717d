"""Input shapes the reports service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from custops.contracts.reports import DEFAULT_REPORT_WEEKS, MAX_REPORT_WEEKS


class VolumeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    # the same bound the gateway's OpenAPI document publishes (one constant for both)
    weeks: int = Field(default=DEFAULT_REPORT_WEEKS, ge=1, le=MAX_REPORT_WEEKS)
