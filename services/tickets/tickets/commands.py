"""Input shapes the tickets service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Priority = Literal["low", "normal", "high", "urgent"]
Source = Literal["email", "portal", "manual", "api"]


class CreateTicket(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    priority: Priority = "normal"
    source: Source = "api"

    @field_validator("subject")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be blank")
        return v


class TicketFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = None
    priority: Priority | None = None
    customer_id: uuid.UUID | None = None
