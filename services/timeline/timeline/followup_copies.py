"""What follow-ups need to know of other services, copied from their events (never their tables):
the members (who may be assigned, and their timezone: a member's "today") and the tenant's business
calendar (where "next business day" lands). The tenant's timezone is the activity log's copy
(`timeline.models.tenant_settings`).

Members (`directory_members`) as tickets keeps them (tickets.member_copies): `member.created` adds
one (with its timezone; a portal user is marked, never assignable), `member.updated` moves its
timezone on when it changed, `member.deactivated` / `member.reactivated` whether it is active. The
timezone and the activity each keep the `occurred_at` of the event that set them, so a late older
event changes neither. A member not copied yet is asked of the customers service (`get_member`)
and its answer copied as older than any event.

The calendar (`business_calendars`): `business_calendar.changed` carries only the fields that
changed (`changes`), so each field is kept with the calendar version that told it, and a field is
replaced only by a newer version: events arriving out of order still leave the newest value of
each field. A field never told is the default calendar's (Monday to Friday in the tenant's zone).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import NamedTuple

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops.entrypoints import PoisonMessage, consumes
from custops.errors import InvalidInput, NotFound
from timeline.followup_models import business_calendars, directory_members
from timeline.followups import BusinessDays
from timeline.models import tenant_settings

ASKED_AS_OF = datetime(1970, 1, 1, tzinfo=timezone.utc)
CALENDAR_FIELDS = ("timezone", "weekly_slots", "holidays", "always_open")


class Member(NamedTuple):
    timezone: str | None
    active: bool | None
    portal: bool


class FollowupCopies:
    """Consumers of the member and calendar events (a mixin `TimelineService` inherits)."""

    @consumes("customers", "member.created")
    def followups_on_member_created(self, session, envelope, data):
        remember_member(session, _tenant(envelope), data.member_id, envelope.occurred_at, timezone=data.timezone,
                        active=True, portal=data.role == "portal")

    @consumes("customers", "member.updated")
    def followups_on_member_updated(self, session, envelope, data):
        if "timezone" in data.changes:
            remember_member(session, _tenant(envelope), data.member_id, envelope.occurred_at,
                            timezone=data.changes["timezone"])

    @consumes("customers", "member.deactivated")
    def followups_on_member_deactivated(self, session, envelope, data):
        remember_member(session, _tenant(envelope), data.member_id, envelope.occurred_at, active=False)

    @consumes("customers", "member.reactivated")
    def followups_on_member_reactivated(self, session, envelope, data):
        remember_member(session, _tenant(envelope), data.member_id, envelope.occurred_at, active=True)

    @consumes("tickets", "business_calendar.changed")
    def followups_on_business_calendar_changed(self, session, envelope, data):
        remember_calendar(session, _tenant(envelope), data.version, data.changes)


def _tenant(envelope):
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    return envelope.tenant_id


_UNSET = object()


def remember_member(session: Session, tenant_id, member_id, as_of: datetime, timezone=_UNSET,
                    active: bool | None = None, portal: bool | None = None) -> None:
    """Copy what an event told of a member as of `as_of`; each part only over an older one."""
    c = directory_members.c
    told_tz = timezone is not _UNSET
    stmt = insert(directory_members).values(
        tenant_id=tenant_id, member_id=member_id, timezone=timezone if told_tz else None,
        timezone_as_of=as_of if told_tz else None, active=active,
        active_as_of=None if active is None else as_of, portal=bool(portal))
    told = stmt.excluded
    newer_tz = or_(c.timezone_as_of.is_(None), c.timezone_as_of < told.timezone_as_of)
    newer_activity = or_(c.active_as_of.is_(None), c.active_as_of < told.active_as_of)
    set_ = {
        "timezone": case((newer_tz, told.timezone), else_=c.timezone) if told_tz else c.timezone,
        "timezone_as_of": func.greatest(c.timezone_as_of, told.timezone_as_of),
        "active": case((newer_activity, told.active), else_=c.active),
        "active_as_of": func.greatest(c.active_as_of, told.active_as_of),
    }
    if portal is not None:
        set_["portal"] = told.portal
    session.execute(stmt.on_conflict_do_update(index_elements=[c.tenant_id, c.member_id], set_=set_))


def member(session: Session, tenant_id, member_id, ask) -> Member:
    """The member as copied; asked of the customers service (`ask(member_id)` -> its `get_member`
    answer, NotFound for none) when not copied or its activity not known, and the answer copied."""
    c = directory_members.c
    row = session.execute(select(c.timezone, c.active, c.portal).where(
        c.tenant_id == tenant_id, c.member_id == member_id)).first()
    if row is not None and row.active is not None:
        return Member(row.timezone, row.active, row.portal)
    answer = ask(member_id)
    remember_member(session, tenant_id, member_id, ASKED_AS_OF, timezone=answer.get("timezone"),
                    active=bool(answer.get("active", True)), portal=answer.get("role") == "portal")
    return Member(answer.get("timezone"), bool(answer.get("active", True)), answer.get("role") == "portal")


def assignable(session: Session, tenant_id, member_id, ask, field: str = "assignee_id") -> Member:
    """The member, if a follow-up may be assigned to them: an active team member of this tenant."""
    try:
        found = member(session, tenant_id, member_id, ask)
    except NotFound:
        found = None
    if found is None or found.portal:
        raise InvalidInput("unknown member", [{"field": field, "message": "no such team member in this tenant"}])
    if not found.active:
        raise InvalidInput("inactive member", [{"field": field, "message": "this member is deactivated"}])
    return found


def tenant_timezone(session: Session, tenant_id) -> str | None:
    return session.execute(select(tenant_settings.c.timezone).where(
        tenant_settings.c.tenant_id == tenant_id)).scalar()


def member_timezone(session: Session, tenant_id, member_id) -> str | None:
    """The member's own timezone as copied (None: the tenant's)."""
    c = directory_members.c
    return session.execute(select(c.timezone).where(c.tenant_id == tenant_id, c.member_id == member_id)).scalar()


def remember_calendar(session: Session, tenant_id, version: int, changes: dict) -> None:
    """Merge the fields a `business_calendar.changed` of `version` told, each over an older version."""
    told = {k: v for k, v in changes.items() if k in CALENDAR_FIELDS}
    if not told:
        return
    session.execute(insert(business_calendars).values(tenant_id=tenant_id).on_conflict_do_nothing())
    for field, value in told.items():
        session.execute(_MERGE_FIELD, {"field": field, "value": json.dumps(value), "version": version,
                                       "tenant_id": tenant_id})


_MERGE_FIELD = text("""
    UPDATE business_calendars
       SET fields = jsonb_set(fields, ARRAY[CAST(:field AS text)], CAST(:value AS jsonb)),
           versions = jsonb_set(versions, ARRAY[CAST(:field AS text)], to_jsonb(CAST(:version AS int)))
     WHERE tenant_id = :tenant_id
       AND COALESCE(CAST(versions ->> CAST(:field AS text) AS int), 0) < :version""")


def business_days(session: Session, tenant_id) -> BusinessDays:
    fields = session.execute(select(business_calendars.c.fields).where(
        business_calendars.c.tenant_id == tenant_id)).scalar() or {}
    return BusinessDays.from_copy(fields, tenant_timezone(session, tenant_id))


__all__ = ["FollowupCopies", "Member", "assignable", "business_days", "member", "member_timezone",
           "remember_calendar", "remember_member", "tenant_timezone"]
