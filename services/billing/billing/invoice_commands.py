"""Input shapes of the money entrypoints (validated here again: services trust no caller).

Amounts are integers of the currency's minor unit (`billing.money`), never decimals or floats;
a tax rate is parts per million (20 % = 200000); a percentage discount basis points (10 % = 1000).
"""
from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from billing.invoice_maths import GROUPINGS, PPM
from billing.money import EXPONENTS
from billing.rounding import INCREMENTS, SCOPES

MAX_AMOUNT = 10**15  # minor units: a quadrillion cents is past any invoice
Amount = Field(ge=0, le=MAX_AMOUNT, strict=True)
Text = Field(max_length=5_000)
ShortText = Field(max_length=500)


def _currency(v: str) -> str:
    if v not in EXPONENTS:
        raise ValueError("must be an ISO 4217 currency code (e.g. EUR, USD, JPY)")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def given(self) -> dict:
        return {name: getattr(self, name) for name in self.model_fields_set}


class BillingProfile(_Strict):
    """The tenant's invoicing profile: only the fields given change."""

    company_name: str = Field(default=None, max_length=500)
    address: str = Field(default=None, max_length=2_000)
    payment_details: str = Field(default=None, max_length=2_000)
    number_prefix: str = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9\-_/]*$")
    credit_note_prefix: str = Field(default=None, max_length=20, pattern=r"^[A-Za-z0-9\-_/]*$")
    rounding_increment: Literal[INCREMENTS] = None  # type: ignore[valid-type]
    rounding_scope: Literal[SCOPES] = None  # type: ignore[valid-type]
    line_grouping: Literal[GROUPINGS] = None  # type: ignore[valid-type]
    default_currency: str = None
    payment_terms_days: int = Field(default=None, ge=0, le=365, strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v):
        if v is None:
            raise ValueError("must not be null")
        return v

    @field_validator("default_currency")
    @classmethod
    def _iso(cls, v):
        return _currency(v)


class CustomerBilling(_Strict):
    currency: str = None
    tax_name: str = Field(default=None, max_length=100)
    tax_rate_ppm: int = Field(default=None, ge=0, le=PPM, strict=True)
    reverse_charge: bool = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365, strict=True)
    billing_address: str = Field(default=None, max_length=2_000)
    tax_id: str = Field(default=None, max_length=100)

    @field_validator("currency", "tax_name", "tax_rate_ppm", "reverse_charge", "billing_address", "tax_id",
                     mode="before")
    @classmethod
    def _not_null(cls, v):
        if v is None:
            raise ValueError("must not be null")
        return v

    @field_validator("currency")
    @classmethod
    def _iso(cls, v):
        return _currency(v)


class CreateRate(_Strict):
    hourly_amount: int = Amount
    currency: str
    effective_from: date
    category: str | None = Field(default=None, min_length=1, max_length=100)
    project_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None

    @field_validator("currency")
    @classmethod
    def _iso(cls, v):
        return _currency(v)


class RateFilters(_Strict):
    currency: str | None = None


class CreateFixedFee(_Strict):
    customer_id: uuid.UUID
    project_id: uuid.UUID
    amount: int = Amount
    currency: str
    bill_on: date
    description: str = Field(default="Fixed fee", min_length=1, max_length=500)

    @field_validator("currency")
    @classmethod
    def _iso(cls, v):
        return _currency(v)


class CreateRetainer(_Strict):
    customer_id: uuid.UUID
    project_id: uuid.UUID | None = None
    currency: str
    monthly_fee: int = Amount
    included_minutes: int = Field(ge=0, le=31 * 24 * 60, strict=True)
    overage_hourly: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, strict=True)
    starts_on: date
    ends_on: date | None = None
    description: str = Field(default="Retainer", min_length=1, max_length=500)

    @field_validator("currency")
    @classmethod
    def _iso(cls, v):
        return _currency(v)

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class SetBudget(_Strict):
    kind: Literal["hours", "money"]
    amount: int = Field(ge=1, le=MAX_AMOUNT, strict=True, description="minutes (hours budget) or minor units")
    currency: str | None = None
    customer_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _money_has_currency(self):
        if self.kind == "money":
            if self.currency is None:
                raise ValueError("a money budget names its currency")
            _currency(self.currency)
        elif self.currency is not None:
            raise ValueError("an hours budget has no currency")
        return self


class DraftInvoice(_Strict):
    customer_id: uuid.UUID
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self):
        if self.date_to < self.date_from:
            raise ValueError("'to' must not be before 'from'")
        if (self.date_to - self.date_from).days > 366:
            raise ValueError("a period is at most a year")
        return self


class AddLine(_Strict):
    """An expense or item (quantity x unit price), or a discount: a fixed `discount_amount` (given
    positive, stored as a negative line) or `discount_bp` of the other lines' amounts."""

    kind: Literal["expense", "item", "discount"]
    description: str = Field(min_length=1, max_length=500)
    quantity: int = Field(default=1, ge=1, le=1_000_000, strict=True)
    unit_price: int = Field(default=0, ge=0, le=MAX_AMOUNT, strict=True)
    discount_amount: int | None = Field(default=None, ge=1, le=MAX_AMOUNT, strict=True)
    discount_bp: int | None = Field(default=None, ge=1, le=10_000, strict=True)
    taxable: bool = True

    @model_validator(mode="after")
    def _discount_shape(self):
        if self.kind == "discount":
            if (self.discount_amount is None) == (self.discount_bp is None):
                raise ValueError("a discount gives either discount_amount or discount_bp")
        elif self.discount_amount is not None or self.discount_bp is not None:
            raise ValueError("only a discount line has discount_amount or discount_bp")
        return self

    def row(self) -> dict:
        if self.kind == "discount":
            return {"kind": "discount", "description": self.description, "quantity": 1, "unit_price": 0,
                    "amount": -(self.discount_amount or 0), "discount_bp": self.discount_bp, "taxable": self.taxable}
        return {"kind": self.kind, "description": self.description, "quantity": self.quantity,
                "unit_price": self.unit_price, "taxable": self.taxable}


class UpdateLine(_Strict):
    description: str = Field(default=None, min_length=1, max_length=500)
    quantity: int = Field(default=None, ge=1, le=1_000_000, strict=True)
    unit_price: int = Field(default=None, ge=0, le=MAX_AMOUNT, strict=True)
    taxable: bool = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, v):
        if v is None:
            raise ValueError("must not be null")
        return v


class SetNotes(_Strict):
    notes: str = Field(max_length=5_000)


class IssueInvoice(_Strict):
    issue_date: date | None = None


class RecordPayment(_Strict):
    amount: int = Field(ge=1, le=MAX_AMOUNT, strict=True)
    paid_on: date
    method: str = Field(default="", max_length=100)
    reference: str = Field(default="", max_length=200)


class VoidInvoice(_Strict):
    reason: str = Field(min_length=1, max_length=1_000)


class CreditNote(_Strict):
    amount: int = Field(ge=1, le=MAX_AMOUNT, strict=True)
    reason: str = Field(min_length=1, max_length=1_000)
    issue_date: date | None = None


class OverdueDay(_Strict):
    today: date | None = None


class InvoiceFilters(_Strict):
    customer_id: uuid.UUID | None = None
    status: Literal["draft", "issued", "paid", "void"] | None = None
    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)


ExportFormat = Literal["invoices_csv", "quickbooks_online", "quickbooks_iif"]
