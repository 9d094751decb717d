"""The team members the tickets service has been told of, so a reply or an assignment is checked
without asking the customers service (`get_member`, ~3-7 ms of its CPU a call) about a member it
knows (issue 14).

The copy is `directory_members` (tenant, member, role, active): `member.created` adds a member,
`member.role_changed` moves its role on, `member.deactivated` / `member.reactivated` its role and
whether it is active. Role and active each keep the `occurred_at` of the event that set them last,
so an older event arriving late changes neither (a role change does not say whether the member is
active, so it leaves that alone; told first, it leaves it unknown). A member not in the copy, or
whose activity is unknown, is asked of the customers service as before, which refuses an unknown or
other tenant's member exactly as it always has; its answer is kept as older than any event, so the
events still win. The copy is keyed by tenant: another tenant's member is never found in it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import NamedTuple

from sqlalchemy import case, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops.entrypoints import PoisonMessage, consumes
from tickets.models import directory_members

# what the customers service answered is older than any event about the member
ASKED_AS_OF = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Member(NamedTuple):
    role: str
    active: bool


class MemberCopies:
    """Consumers of the customers service's member events (a mixin `TicketsService` inherits)."""

    @consumes("customers", "member.created")
    def on_member_created(self, session, envelope, data):
        remember(session, _tenant(envelope), data.member_id, data.role, True, envelope.occurred_at)

    @consumes("customers", "member.role_changed")
    def on_member_role_changed(self, session, envelope, data):
        remember(session, _tenant(envelope), data.member_id, data.role, None, envelope.occurred_at)

    @consumes("customers", "member.deactivated")
    def on_member_deactivated(self, session, envelope, data):
        remember(session, _tenant(envelope), data.member_id, data.role, False, envelope.occurred_at)

    @consumes("customers", "member.reactivated")
    def on_member_reactivated(self, session, envelope, data):
        remember(session, _tenant(envelope), data.member_id, data.role, True, envelope.occurred_at)


def _tenant(envelope):
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    return envelope.tenant_id


def remember(session: Session, tenant_id, member_id, role: str, active: bool | None, as_of: datetime) -> None:
    """Copy a member's role (and whether it is active, None: not told) as of `as_of`; each of the two
    only when what is copied of it is older."""
    c = directory_members.c
    stmt = insert(directory_members).values(
        tenant_id=tenant_id, member_id=member_id, role=role, role_as_of=as_of,
        active=active, active_as_of=None if active is None else as_of)
    told = stmt.excluded
    # NULL < x is NULL, so a told activity (active_as_of set) replaces an unknown one, never the reverse
    newer_activity = or_(c.active_as_of.is_(None), c.active_as_of < told.active_as_of)
    session.execute(stmt.on_conflict_do_update(index_elements=[c.tenant_id, c.member_id], set_={
        "role": case((c.role_as_of < told.role_as_of, told.role), else_=c.role),
        "role_as_of": func.greatest(c.role_as_of, told.role_as_of),
        "active": case((newer_activity, told.active), else_=c.active),
        "active_as_of": func.greatest(c.active_as_of, told.active_as_of),  # GREATEST skips NULLs
    }))


def remember_asked(session: Session, tenant_id, member_id, member: Member) -> None:
    """Copy what the customers service answered for a member not (wholly) copied yet (any event wins)."""
    remember(session, tenant_id, member_id, member.role, member.active, ASKED_AS_OF)


def copied(session: Session, tenant_id, member_id) -> Member | None:
    """The copy's member of this tenant; None when not copied or its activity is not known."""
    c = directory_members.c
    row = session.execute(select(c.role, c.active).where(c.tenant_id == tenant_id, c.member_id == member_id)).first()
    return None if row is None or row.active is None else Member(row.role, row.active)


def copied_many(session: Session, tenant_id, member_ids) -> dict:
    """`copied` for several members in one statement: {member_id: Member} of those copied with a
    known activity."""
    c = directory_members.c
    rows = session.execute(select(c.member_id, c.role, c.active).where(
        c.tenant_id == tenant_id, c.member_id.in_(member_ids), c.active.is_not(None)))
    return {row.member_id: Member(row.role, row.active) for row in rows}
