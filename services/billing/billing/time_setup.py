"""A tenant's time setup: its time categories (each billable or internal by default), the billing
defaults of customers and projects, the stopwatch's rules, and the named timesheet approvers —
input shapes and SQL. The defaults feed `billing.billability`; a change applies to time written
from then on (an entry keeps what was decided when it was written: raw facts are not rewritten).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from billing.models import billing_defaults, time_categories, time_settings, timesheet_approvers
from billing.timers import DEFAULT_LIMIT_MINUTES, MAX_ENTRY_MINUTES
from custops.errors import Conflict, InvalidInput, NotFound

Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(str.strip)]


class NewCategory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    billable: bool


class CategoryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    billable: bool = None
    archived: bool = None


class DefaultValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    billable: bool | None  # null removes the default


class SettingsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timer_limit_minutes: int = Field(default=None, ge=15, le=MAX_ENTRY_MINUTES, strict=True)
    idle_stop_minutes: int | None = Field(default=None, ge=5, le=MAX_ENTRY_MINUTES, strict=True)
    one_timer_per_member: bool = None


class Approvers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approver_ids: list[uuid.UUID] = Field(max_length=50)


DEFAULT_SETTINGS = {"timer_limit_minutes": DEFAULT_LIMIT_MINUTES, "idle_stop_minutes": None,
                    "one_timer_per_member": True}
Level = Literal["customer", "project"]


# --- categories

def category_shape(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "billable": row["billable"],
            "archived": row["archived_at"] is not None,
            "created_at": row["created_at"].isoformat() if row["created_at"] else None}


def list_categories(session: Session, tenant_id: uuid.UUID) -> list[dict]:
    rows = session.execute(select(time_categories).where(time_categories.c.tenant_id == tenant_id)
                           .order_by(time_categories.c.name)).mappings().all()
    return [category_shape(r) for r in rows]


def category_named(session: Session, tenant_id: uuid.UUID, name: str):
    return session.execute(select(time_categories).where(
        time_categories.c.tenant_id == tenant_id, time_categories.c.name == name)).mappings().first()


def add_category(session: Session, tenant_id: uuid.UUID, cmd: NewCategory, now: datetime) -> dict:
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "billable": cmd.billable,
           "archived_at": None, "created_at": now}
    inserted = session.execute(insert(time_categories).values(**row).on_conflict_do_nothing()
                               .returning(time_categories.c.id)).first()
    if inserted is None:
        raise Conflict(f"a time category named {cmd.name!r} exists already")
    return row


def load_category(session: Session, tenant_id: uuid.UUID, category_id: uuid.UUID) -> dict:
    row = session.execute(select(time_categories).where(
        time_categories.c.tenant_id == tenant_id, time_categories.c.id == category_id).with_for_update()
    ).mappings().first()
    if row is None:
        raise NotFound(f"time category {category_id} not found")
    return dict(row)


def change_category(session: Session, row: dict, values: dict) -> None:
    session.execute(update(time_categories).where(time_categories.c.id == row["id"]).values(**values))


def usable_category(session: Session, tenant_id: uuid.UUID, name: str | None, keep: str | None = None):
    """The category an entry names (None: none), refusing an unknown or archived one on `category`
    — an archived one only when it is not the one the entry already has (`keep`)."""
    if name is None:
        return None
    row = category_named(session, tenant_id, name)
    if row is None or (row["archived_at"] is not None and name != keep):
        raise InvalidInput("unknown time category", [{"field": "category",
                                                      "message": f"{name!r} is not a time category of this tenant"}])
    return row


# --- billing defaults

def default_of(session: Session, tenant_id: uuid.UUID, level: Level, subject_id) -> bool | None:
    if subject_id is None:
        return None
    return session.execute(select(billing_defaults.c.billable).where(
        billing_defaults.c.tenant_id == tenant_id, billing_defaults.c.level == level,
        billing_defaults.c.subject_id == subject_id)).scalar_one_or_none()


def set_default(session: Session, tenant_id: uuid.UUID, level: Level, subject_id: uuid.UUID,
                billable: bool | None, now: datetime) -> bool | None:
    """Set (or with None remove) a default; answers the previous value."""
    c = billing_defaults.c
    previous = session.execute(select(c.billable).where(c.tenant_id == tenant_id, c.level == level,
                                                        c.subject_id == subject_id).with_for_update()
                               ).scalar_one_or_none()
    if billable is None:
        session.execute(delete(billing_defaults).where(c.tenant_id == tenant_id, c.level == level,
                                                       c.subject_id == subject_id))
    else:
        stmt = insert(billing_defaults).values(tenant_id=tenant_id, level=level, subject_id=subject_id,
                                               billable=billable, updated_at=now)
        session.execute(stmt.on_conflict_do_update(index_elements=[c.tenant_id, c.level, c.subject_id],
                                                   set_={"billable": billable, "updated_at": now}))
    return previous


# --- settings

def settings_of(session: Session, tenant_id: uuid.UUID, for_update: bool = False) -> dict:
    stmt = select(time_settings).where(time_settings.c.tenant_id == tenant_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        return dict(DEFAULT_SETTINGS)
    return {k: row[k] for k in DEFAULT_SETTINGS}


def save_settings(session: Session, tenant_id: uuid.UUID, values: dict, now: datetime) -> None:
    stmt = insert(time_settings).values(tenant_id=tenant_id, updated_at=now, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=[time_settings.c.tenant_id],
                                               set_={**values, "updated_at": now}))


# --- approvers

def approvers_of(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> set[uuid.UUID]:
    c = timesheet_approvers.c
    return set(session.execute(select(c.approver_id).where(c.tenant_id == tenant_id, c.member_id == member_id)
                               ).scalars())


def approved_members(session: Session, tenant_id: uuid.UUID, approver_id: uuid.UUID) -> list[uuid.UUID]:
    c = timesheet_approvers.c
    return list(session.execute(select(c.member_id).where(c.tenant_id == tenant_id, c.approver_id == approver_id)
                                ).scalars())


def set_approvers(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID, approver_ids: list[uuid.UUID],
                  now: datetime) -> None:
    c = timesheet_approvers.c
    session.execute(delete(timesheet_approvers).where(c.tenant_id == tenant_id, c.member_id == member_id))
    if approver_ids:
        session.execute(insert(timesheet_approvers), [
            {"tenant_id": tenant_id, "member_id": member_id, "approver_id": a, "created_at": now}
            for a in dict.fromkeys(approver_ids)])
