"""Input shapes the reports service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from custops.contracts.reports import (DEFAULT_REPORT_WEEKS, DEFAULT_VOLUME_PERIODS, MAX_REPORT_WEEKS,
                                       MAX_VOLUME_PERIODS)
from custops.validation import Date

MAX_TIME_RANGE_DAYS = 366 * 2


class VolumeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    # the same bound the gateway's OpenAPI document publishes (one constant for both)
    weeks: int = Field(default=DEFAULT_REPORT_WEEKS, ge=1, le=MAX_REPORT_WEEKS)


class StatusQuery(BaseModel):
    """The status report of the tenant week containing `week` (any day of it; default: today)."""

    model_config = ConfigDict(extra="forbid")

    week: Date | None = None
    customer_id: uuid.UUID | None = None


class TimeQuery(BaseModel):
    """Time by one dimension over `date_from`..`date_to` (work dates, both included; default: the
    tenant's current week)."""

    model_config = ConfigDict(extra="forbid")

    group_by: Literal["customer", "project", "member", "category"] = "customer"
    date_from: Date | None = None
    date_to: Date | None = None
    customer_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _ordered(self):
        if self.date_from and self.date_to:
            if self.date_to < self.date_from:
                raise ValueError("date_to must not be before date_from")
            if (self.date_to - self.date_from).days > MAX_TIME_RANGE_DAYS:
                raise ValueError(f"a range spans at most {MAX_TIME_RANGE_DAYS} days")
        return self


class SlaQuery(BaseModel):
    """SLA attainment of the timers that ended on the tenant-local days date_from..date_to (default:
    the tenant's current week), or in the tenant's week or month (`period`) containing `date`
    (default: today); with the trend against the period before."""

    model_config = ConfigDict(extra="forbid")

    date_from: Date | None = None
    date_to: Date | None = None
    period: Literal["week", "month"] | None = None
    date: Date | None = None




class VolumeReportQuery(BaseModel):
    """Ticket volume per tenant week or month, the last `periods` up to the one containing `date`."""

    model_config = ConfigDict(extra="forbid")

    group_by: Literal["category", "priority", "customer", "source"] = "category"
    period: Literal["week", "month"] = "week"
    periods: int = Field(default=DEFAULT_VOLUME_PERIODS, ge=1, le=MAX_VOLUME_PERIODS)
    date: Date | None = None
    customer_id: uuid.UUID | None = None


class OnboardingQuery(BaseModel):
    """Onboarding velocity of the tenant quarter containing `quarter` (any day of it; default: today)."""

    model_config = ConfigDict(extra="forbid")

    quarter: Date | None = None
