"""Input shapes the customers service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone as dt_timezone
from typing import Annotated, Any, Literal, get_args

from pydantic import (AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

from custops.contracts.customers import WeekStart
from custops.validation import Date
from customers import custom_fields, domains, locales, timezones

Role = Literal["owner", "admin", "member", "contractor", "portal", "read_only"]
ROLES: tuple[str, ...] = get_args(Role)
Tier = Literal["enterprise", "mid_market", "smb"]

MAX_DOMAINS = 50


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _email(v: str) -> str:
    return domains.normalise_email(v)


# each item validated on its own, so an error names its position (`domains.1`)
DomainName = Annotated[str, AfterValidator(domains.normalise_domain)]


def _domain_set(v: list[str]) -> list[str]:
    return sorted(set(v))


def _iana_zone(v: str) -> str:
    if not timezones.is_zone(v):
        raise ValueError("not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)")
    return v


# Bounded before it is looked up; the longest IANA names are ~30 characters.
TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_iana_zone)]


def _bcp47(v: str) -> str:
    tag = locales.canonical(v)
    if tag is None:
        raise ValueError("not a BCP 47 language tag (e.g. en, en-GB, de-CH, pt-BR, zh-Hant-TW)")
    return tag


Locale = Annotated[str, Field(min_length=2, max_length=locales.MAX_LENGTH), AfterValidator(_bcp47)]


class CreateTenant(_Input):
    name: str = Field(min_length=1, max_length=200)
    owner_email: str = Field(max_length=320)
    owner_name: str | None = Field(default=None, max_length=200)
    timezone: TimeZone = "UTC"

    _check_email = field_validator("owner_email")(_email)


class UpdateTenantSettings(_Input):
    """Only the fields present change; none of them may be null."""

    name: str = Field(default=None, min_length=1, max_length=200)
    timezone: TimeZone = None
    locale: Locale = None
    week_start: WeekStart = None

    def changes(self) -> dict:
        return {field: getattr(self, field) for field in self.model_fields_set}


class CreateMember(_Input):
    email: str = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    timezone: TimeZone | None = None  # null: the tenant's
    # validate_default: the rule below must also run when customer_id is left out
    customer_id: uuid.UUID | None = Field(default=None, validate_default=True)

    _check_email = field_validator("email")(_email)

    @field_validator("customer_id")
    @classmethod
    def _only_portal_users_belong_to_a_customer(cls, v, info: ValidationInfo):
        role = info.data.get("role")
        if role == "portal" and v is None:
            raise ValueError("required for portal users")
        if role is not None and role != "portal" and v is not None:
            raise ValueError("only portal users belong to a customer")
        return v


class UpdateMember(_Input):
    """Only the fields present change; `timezone: null` makes the member follow the tenant's zone."""

    name: str = Field(default=None, min_length=1, max_length=200)
    timezone: TimeZone | None = None
    role: Role = None

    def changes(self) -> dict:
        return {field: getattr(self, field) for field in self.model_fields_set}


class MemberFilters(_Input):
    role: Role | None = None
    active: bool | None = None  # None: active and deactivated members
    q: str | None = Field(default=None, min_length=1, max_length=200)  # in names and addresses


class IssueToken(_Input):
    label: str = Field(min_length=1, max_length=100)
    expires_at: AwareDatetime | None = None
    read_only: bool = False

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, v: datetime | None) -> datetime | None:
        if v is not None and v <= datetime.now(dt_timezone.utc):
            raise ValueError("must lie in the future")
        return v


LifecycleStage = Literal["onboarding", "active", "renewal", "churned"]
# custom-field values by key, checked against the tenant's definitions (`customers.custom_fields`)
CustomFieldValues = Annotated[dict[str, Any], Field(max_length=100)]


class CreateCustomer(_Input):
    name: str = Field(min_length=1, max_length=200)
    tier: Tier
    domains: list[DomainName] = Field(default_factory=list, max_length=MAX_DOMAINS)
    owner_id: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage = "onboarding"
    start_date: Date | None = None
    renewal_date: Date | None = None
    custom_fields: CustomFieldValues = Field(default_factory=dict)

    _as_set = field_validator("domains")(_domain_set)


class UpdateCustomer(_Input):
    """Only the fields present change; `owner_id: null` removes the owner. The defaults of the
    other fields are never used (absent means unchanged) and an explicit null breaks their type."""

    name: str = Field(default=None, min_length=1, max_length=200)
    tier: Tier = None
    domains: list[DomainName] = Field(default=None, max_length=MAX_DOMAINS)
    owner_id: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage = None
    start_date: Date | None = None  # a new start date re-plans the customer's onboarding plans
    renewal_date: Date | None = None
    exec_sponsor_contact_id: uuid.UUID | None = None
    custom_fields: CustomFieldValues = None  # merged: a key given null removes its value

    _as_set = field_validator("domains")(_domain_set)

    def changes(self) -> dict:
        return {field: getattr(self, field) for field in self.model_fields_set}


class CustomerFilters(_Input):
    tier: Tier | None = None
    owner_id: uuid.UUID | None = None
    lifecycle_stage: LifecycleStage | None = None
    renewal_before: Date | None = None
    # `key:value` filters on custom fields, all of which must hold
    custom_field: list[Annotated[str, Field(min_length=3, max_length=300, pattern=r"^[a-z][a-z0-9_]*:.+$")]] | None = (
        Field(default=None, max_length=10))
    q: str | None = Field(default=None, max_length=200)
    # only these customers (the gateway's scope of a member: the customers they own or work on)
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)


class PutCustomField(_Input):
    """A custom field of the tenant's customers (`customers.custom_fields`)."""

    label: str = Field(min_length=1, max_length=200)
    type: custom_fields.FieldType
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list,
                                                                              max_length=custom_fields.MAX_OPTIONS)
    required: bool = False

    @model_validator(mode="after")
    def _options_for_selects(self):
        selects = self.type in ("select", "multi_select")
        if selects and not self.options:
            raise ValueError("a select field needs options")
        if not selects and self.options:
            raise ValueError("only select fields have options")
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must be distinct")
        return self


class PutTeamMember(_Input):
    internal_access: bool = False


class ContactFilters(_Input):
    include_archived: bool = False


class CreateContact(_Input):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    portal_access: bool = False

    _check_email = field_validator("email")(_email)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return v or None


class InvitePortalUser(_Input):
    """How long the invite lives (`customers.portal`): whole days within the bounds."""

    expires_in_days: int | None = Field(default=None, ge=1, le=30)
