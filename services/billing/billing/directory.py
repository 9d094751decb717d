"""The members and tenants billing has been told of (`member.*`, `tenant.*` from the customers
service), for whose week is which: a member's timezone, the tenant's zone and week start, and who
is on the team (timesheet reminders go to active team members); and the names of projects, tasks
and members (`project.*`, `task.*`, `member.*`) for invoice lines.

Names: a copy updated by events (DESIGN: a service keeps what it needs of others' data from their
events, never reads their database), not one RPC per draft — a draft of 50,000 entries needs a
few dozen names, and the copy has them without a round trip to the work plan or a dependency on it
being up. A name not copied yet (a project older than billing's subscription) is asked of its
owner once at draft time and kept as older than any event. The names are then frozen on the
invoice's lines (`invoice_lines.project_name`, ...): a project renamed after the draft changes
neither the draft nor the issued invoice.

Each copy keeps the `occurred_at` of the event that set it last; an older event arriving late is
ignored (one `as_of` per row: a late event about another field of the row is ignored too — the
next event about the member carries the current profile). A member or tenant not copied yet is
asked of the customers service (`get_member`, `get_tenant`) and its answer kept as older than any
event, so the events still win. An unknown member has the tenant's zone, an unknown tenant UTC's.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from billing import weeks
from billing.models import directory_members, directory_names, directory_tenants
from custops.entrypoints import PoisonMessage, consumes
from custops.errors import NotFound

ASKED_AS_OF = datetime(1970, 1, 1, tzinfo=timezone.utc)
TEAM_ROLES = ("owner", "admin", "member", "contractor", "read_only")


class Zone(NamedTuple):
    timezone: str
    week_start: str  # monday | sunday | saturday


class DirectoryCopies:
    """Consumers of the customers service's member and tenant events (a mixin of `BillingService`)."""

    @consumes("customers", "member.created")
    def on_member_created(self, session, envelope, data):
        copy_member(session, _tenant(envelope), data.member_id, envelope.occurred_at,
                    role=data.role, active=True, timezone=data.timezone)
        copy_name(session, _tenant(envelope), "member", data.member_id, data.name, envelope.occurred_at)

    @consumes("customers", "member.updated")
    def on_member_updated(self, session, envelope, data):
        if "timezone" in data.changes:
            copy_member(session, _tenant(envelope), data.member_id, envelope.occurred_at,
                        timezone=data.changes["timezone"])
        if data.changes.get("name"):
            copy_name(session, _tenant(envelope), "member", data.member_id, data.changes["name"],
                      envelope.occurred_at)

    @consumes("customers", "project.created")
    def on_project_created(self, session, envelope, data):
        copy_name(session, _tenant(envelope), "project", data.project_id, data.name, envelope.occurred_at)

    @consumes("customers", "project.updated")
    def on_project_updated(self, session, envelope, data):
        if data.changes.get("name"):
            copy_name(session, _tenant(envelope), "project", data.project_id, data.changes["name"],
                      envelope.occurred_at)

    @consumes("customers", "project.deleted")
    def on_project_deleted(self, session, envelope, data):
        # kept, not removed: time on a deleted project may still be on an invoice
        copy_name(session, _tenant(envelope), "project", data.project_id, data.name, envelope.occurred_at)

    @consumes("customers", "task.created")
    def on_task_created(self, session, envelope, data):
        copy_name(session, _tenant(envelope), "task", data.task_id, data.title, envelope.occurred_at)

    @consumes("customers", "task.updated")
    def on_task_updated(self, session, envelope, data):
        if data.changes.get("title"):
            copy_name(session, _tenant(envelope), "task", data.task_id, data.changes["title"], envelope.occurred_at)

    @consumes("customers", "task.deleted")
    def on_task_deleted(self, session, envelope, data):
        copy_name(session, _tenant(envelope), "task", data.task_id, data.title, envelope.occurred_at)

    @consumes("customers", "member.role_changed")
    def on_member_role_changed(self, session, envelope, data):
        copy_member(session, _tenant(envelope), data.member_id, envelope.occurred_at, role=data.role)

    @consumes("customers", "member.deactivated")
    def on_member_deactivated(self, session, envelope, data):
        copy_member(session, _tenant(envelope), data.member_id, envelope.occurred_at, active=False)

    @consumes("customers", "member.reactivated")
    def on_member_reactivated(self, session, envelope, data):
        copy_member(session, _tenant(envelope), data.member_id, envelope.occurred_at, active=True)

    @consumes("customers", "tenant.created")
    def on_tenant_created(self, session, envelope, data):
        copy_tenant(session, data.tenant_id, data.timezone, data.week_start, envelope.occurred_at)

    @consumes("customers", "tenant.updated")
    def on_tenant_updated(self, session, envelope, data):
        copy_tenant(session, data.tenant_id, data.timezone, data.week_start, envelope.occurred_at)


def _tenant(envelope) -> uuid.UUID:
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    return envelope.tenant_id


_UNSET = object()


def copy_member(session: Session, tenant_id, member_id, as_of: datetime, *, role=_UNSET, active=_UNSET,
                timezone=_UNSET) -> None:
    """Copy what an event tells of a member, unless the copy is newer."""
    told = {k: v for k, v in (("role", role), ("active", active), ("timezone", timezone)) if v is not _UNSET}
    c = directory_members.c
    stmt = insert(directory_members).values(tenant_id=tenant_id, member_id=member_id, as_of=as_of, **told)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[c.tenant_id, c.member_id], where=c.as_of <= stmt.excluded.as_of,
        set_={**{k: getattr(stmt.excluded, k) for k in told}, "as_of": stmt.excluded.as_of}))


def copy_tenant(session: Session, tenant_id, timezone_name: str, week_start: str, as_of: datetime) -> None:
    c = directory_tenants.c
    stmt = insert(directory_tenants).values(tenant_id=tenant_id, timezone=timezone_name, week_start=week_start,
                                            as_of=as_of)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[c.tenant_id], where=c.as_of <= stmt.excluded.as_of,
        set_={"timezone": stmt.excluded.timezone, "week_start": stmt.excluded.week_start,
              "as_of": stmt.excluded.as_of}))


def copy_name(session: Session, tenant_id, kind: str, object_id, name: str, as_of: datetime) -> None:
    """Copy a project's, task's or member's name, unless the copy is newer (a late event loses)."""
    c = directory_names.c
    stmt = insert(directory_names).values(tenant_id=tenant_id, kind=kind, object_id=object_id, name=str(name),
                                          as_of=as_of)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[c.tenant_id, c.kind, c.object_id], where=c.as_of <= stmt.excluded.as_of,
        set_={"name": stmt.excluded.name, "as_of": stmt.excluded.as_of}))


NAME_SOURCES = {"project": ("get_project", "name"), "task": ("get_task", "title"), "member": ("get_member", "name")}


def copied_names(session: Session, tenant_id, wanted: dict[str, set]) -> dict[str, dict]:
    """`{kind: {id: name}}` of the wanted ids (`{kind: {ids}}`) that are copied."""
    found: dict[str, dict] = {kind: {} for kind in wanted}
    for kind, ids in wanted.items():
        if ids:
            c = directory_names.c
            for object_id, name in session.execute(select(c.object_id, c.name).where(
                    c.tenant_id == tenant_id, c.kind == kind, c.object_id.in_(list(ids)))).tuples():
                found[kind][object_id] = name
    return found


def names_of(db, rpc, tenant_id: uuid.UUID, wanted: dict[str, set]) -> dict[str, dict]:
    """The names of the wanted projects, tasks and members: from the copy; one not copied is asked
    of its owner (once: the answer is copied as older than any event), and left out when unknown
    there too (the line then says "Project 1a2b3c4d")."""
    with db.read() as session:
        found = copied_names(session, tenant_id, wanted)
    missing = [(kind, i) for kind, ids in wanted.items() for i in ids if i not in found[kind]]
    asked = []
    for kind, object_id in missing:
        method, field = NAME_SOURCES[kind]
        answer = _ask(rpc, method, tenant_id, object_id)
        if answer and answer.get(field):
            asked.append((kind, object_id, answer[field]))
            found[kind][object_id] = answer[field]
    if asked:
        with db.transaction() as session:
            for kind, object_id, name in asked:
                copy_name(session, tenant_id, kind, object_id, name, ASKED_AS_OF)
    return found


def _copied(session: Session, tenant_id, member_id):
    member = session.execute(select(directory_members).where(
        directory_members.c.tenant_id == tenant_id, directory_members.c.member_id == member_id)).mappings().first()
    tenant = session.execute(select(directory_tenants).where(
        directory_tenants.c.tenant_id == tenant_id)).mappings().first()
    return member, tenant


def zone_of(db, rpc, tenant_id: uuid.UUID, member_id: uuid.UUID) -> Zone:
    """The member's zone and the tenant's week start, from the copies, else asked (and copied)."""
    with db.read() as session:
        member, tenant = _copied(session, tenant_id, member_id)
    if member is None or tenant is None:
        asked_member = _ask(rpc, "get_member", tenant_id, member_id) if member is None else None
        asked_tenant = _ask(rpc, "get_tenant", tenant_id) if tenant is None else None
        with db.transaction() as session:
            if asked_member is not None:
                copy_member(session, tenant_id, member_id, ASKED_AS_OF, role=asked_member["role"],
                            active=asked_member["active"], timezone=asked_member.get("timezone"))
            if asked_tenant is not None:
                copy_tenant(session, tenant_id, asked_tenant["timezone"], asked_tenant["week_start"], ASKED_AS_OF)
            member, tenant = _copied(session, tenant_id, member_id)
    tenant_zone = tenant["timezone"] if tenant else None
    return Zone(weeks.member_zone(member["timezone"] if member else None, tenant_zone),
                tenant["week_start"] if tenant else "monday")


def _ask(rpc, method: str, *ids) -> dict | None:
    try:
        return rpc.call("customers", method, *(str(i) for i in ids))
    except NotFound:
        return None


def team_members(session: Session, tenant_id: uuid.UUID | None = None):
    """Active team members copied (tenant, member, zone), for the reminders."""
    m, t = directory_members.c, directory_tenants.c
    stmt = (select(m.tenant_id, m.member_id, m.timezone, t.timezone.label("tenant_timezone"), t.week_start)
            .select_from(directory_members.outerjoin(directory_tenants, t.tenant_id == m.tenant_id))
            .where(m.active.is_(True), m.role.in_(TEAM_ROLES)))
    if tenant_id is not None:
        stmt = stmt.where(m.tenant_id == tenant_id)
    return session.execute(stmt).mappings().all()
