"""Input shapes the tickets service accepts (validated again here: services trust no caller)."""
from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from custops.contracts.tickets import MessageKind, Priority, Source, Status
from tickets import workflow


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _stripped(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be blank")
    return v


def _tags(v: list[str] | None) -> list[str] | None:
    return None if v is None else workflow.normalise_tags(v)


def _category(v: str | None) -> str | None:
    return None if v is None else workflow.normalise_category(v)


class CreateTicket(_Input):
    customer_id: uuid.UUID
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    priority: Priority = "normal"
    source: Source = "api"
    contact_id: uuid.UUID | None = None
    category: str = "general"
    assignee_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    tags: list[str] = Field(default=[], max_length=200)

    _strip = field_validator("subject")(_stripped)
    _check_tags = field_validator("tags")(_tags)
    _check_category = field_validator("category")(_category)


class UpdateTicket(_Input):
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    priority: Priority | None = None
    category: str | None = None
    tags: list[str] | None = Field(default=None, max_length=200)
    contact_id: uuid.UUID | None = None

    _strip = field_validator("subject")(lambda v: None if v is None else _stripped(v))
    _check_tags = field_validator("tags")(_tags)
    _check_category = field_validator("category")(_category)


class AddMessage(_Input):
    kind: MessageKind
    body: str = Field(min_length=1, max_length=100_000)
    author_member_id: uuid.UUID | None = None  # a reply's or note's author (default: who entered it)
    author_contact_id: uuid.UUID | None = None  # an inbound message's author: a contact of the customer
    entered_by_member_id: uuid.UUID | None = None  # the agent who entered it (null: it came by itself)
    # the source of the new ticket a customer message on a closed ticket starts (default: the old one's)
    source: Source | None = None

    _strip = field_validator("body")(_stripped)


class AssignTicket(_Input):
    assignee_id: uuid.UUID | None  # None: unassign


class CreateTeam(_Input):
    name: str = Field(min_length=1, max_length=100)
    member_ids: list[uuid.UUID] = Field(default=[], max_length=500)

    _strip = field_validator("name")(_stripped)


class UpdateTeam(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    member_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)

    _strip = field_validator("name")(lambda v: None if v is None else _stripped(v))


class TeamFilters(_Input):
    include_archived: bool = False


class CreateCannedResponse(_Input):
    name: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=100_000)

    _strip = field_validator("name")(_stripped)


class TicketFilters(_Input):
    status: Status | None = None
    priority: Priority | None = None
    customer_id: uuid.UUID | None = None
    assignee: Literal["none"] | uuid.UUID | None = None  # "none": unassigned tickets
    category: str | None = None
    tag: str | None = Field(default=None, min_length=1, max_length=50)
    breached: bool | None = None  # any SLA timer past its deadline unmet, or recorded as breached
    due_before: AwareDatetime | None = None  # an unmet SLA deadline before this instant
    # only these customers' tickets (the gateway's scope of a member: the customers they own or work on)
    customer_ids: list[uuid.UUID] | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _lower_tag(self):
        if self.tag is not None:
            self.tag = self.tag.strip().lower()
        return self
