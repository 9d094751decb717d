"""Reads and writes of the help-desk setup and of ticket messages, inside the caller's session:
teams, canned responses, tenant categories, messages. Every query is scoped by `tenant_id`.

Each setup change adds its event (`team.*`, `canned_response.*`, `category.*`) to the outbox in the
caller's transaction, so the audit log misses none; a write that changes nothing adds none.

Ticket rows themselves (status moves, assignment, the effect of a message) change through
`tickets.ticket_store`, so their events and SLA hooks happen the same way everywhere.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops import outbox, shapes
from custops.contracts.tickets import (CannedResponseCreated, CannedResponseDeleted, CategoryAdded, CategoryRemoved,
                                       TeamArchived, TeamCreated, TeamUpdated)
from custops.errors import Conflict, InvalidInput, NotFound
from tickets import workflow
from tickets.models import canned_responses, teams, ticket_categories, ticket_messages

MESSAGE_FIELDS = ("id", "ticket_id", "kind", "internal", "body", "author_member_id", "author_contact_id",
                  "entered_by_member_id", "created_at")
TEAM_FIELDS = ("id", "name", "member_ids", "created_at", "archived_at")
CANNED_FIELDS = ("id", "name", "body", "created_at")


def unpaged(items: list[dict]) -> dict:
    """The list page shape (`items`, `next_cursor`, `total`) of a list that is never paged (a tenant's
    teams, canned responses, categories, a ticket's messages are small)."""
    return {"items": items, "next_cursor": None, "total": len(items)}


# --- messages ---

# what a message says of its mail (issue 8, tickets.mail_threading): null on one that never was mail
MAIL_FIELDS = ("internet_message_id", "automatic", "thread_reason", "thread_note", "delivery_status",
               "delivery_error", "sent_at")


def message_shape(row) -> dict:
    return shapes.doc({**dict.fromkeys(MAIL_FIELDS), **row, "internal": row["kind"] == "note"},
                      MESSAGE_FIELDS + MAIL_FIELDS)


def insert_message(session: Session, message: dict) -> None:
    session.execute(ticket_messages.insert().values(**message))


def messages(session: Session, tenant_id, ticket_id, include_internal: bool) -> list[dict]:
    """A ticket's messages, oldest first; internal notes only when `include_internal` is True."""
    stmt = select(ticket_messages).where(ticket_messages.c.tenant_id == tenant_id,
                                         ticket_messages.c.ticket_id == ticket_id)
    if include_internal is not True:  # anything but an explicit True hides notes
        stmt = stmt.where(ticket_messages.c.kind != "note")
    rows = session.execute(stmt.order_by(ticket_messages.c.created_at, ticket_messages.c.id)).mappings().all()
    return [message_shape(r) for r in rows]


# --- teams ---

def team_shape(row) -> dict:
    return shapes.doc(row, TEAM_FIELDS)


def create_team(session: Session, tenant_id, name: str, member_ids: list, at: datetime) -> dict:
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": name, "member_ids": member_ids,
           "next_index": 0, "created_at": at, "archived_at": None}
    inserted = session.execute(insert(teams).values(**row).on_conflict_do_nothing().returning(teams.c.id))
    if inserted.first() is None:
        raise Conflict(f"a team named {name!r} exists")
    outbox.add(session, tenant_id, TeamCreated(team_id=row["id"], name=name, member_ids=member_ids, created_at=at))
    return team_shape(row)


def list_teams(session: Session, tenant_id, include_archived: bool = False) -> list[dict]:
    stmt = select(teams).where(teams.c.tenant_id == tenant_id)
    if not include_archived:
        stmt = stmt.where(teams.c.archived_at.is_(None))
    rows = session.execute(stmt.order_by(teams.c.name, teams.c.created_at, teams.c.id)).mappings()
    return [team_shape(r) for r in rows]


def _missing_or_archived(session: Session, tenant_id, team_id) -> Exception:
    """Why a statement over working teams matched nothing: the team is archived, or not there."""
    if session.execute(select(teams.c.id).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)).first():
        return Conflict(f"team {team_id} is archived and cannot change")
    return NotFound(f"team {team_id} not found")


def _team_values(row, fields) -> dict:
    """Team fields as they travel in `team.updated` (member ids as strings)."""
    return {k: [str(m) for m in row[k]] if k == "member_ids" else row[k] for k in fields}


def update_team(session: Session, tenant_id, team_id, changes: dict, at: datetime) -> dict:
    """`changes` holds name and/or member_ids; a name another working team has is a Conflict, and so
    is any change to an archived team. Only what really changes is told (`team.updated`)."""
    if "name" in changes and session.execute(select(teams.c.id).where(
            teams.c.tenant_id == tenant_id, teams.c.name == changes["name"], teams.c.id != team_id,
            teams.c.archived_at.is_(None))).first():
        raise Conflict(f"a team named {changes['name']!r} exists")
    current = session.execute(select(teams).where(
        teams.c.tenant_id == tenant_id, teams.c.id == team_id, teams.c.archived_at.is_(None))
        .with_for_update()).mappings().first()
    if current is None:
        raise _missing_or_archived(session, tenant_id, team_id)
    changed = [k for k, v in changes.items() if current[k] != v]
    if not changed:
        return team_shape(current)
    row = session.execute(update(teams).where(teams.c.id == team_id).values(**{k: changes[k] for k in changed})
                          .returning(*teams.c)).mappings().one()
    outbox.add(session, tenant_id, TeamUpdated(team_id=team_id, name=row["name"], changes=_team_values(row, changed),
                                               previous=_team_values(current, changed), updated_at=at))
    return team_shape(row)


def archive_team(session: Session, tenant_id, team_id, at: datetime) -> dict:
    """Archive the team (an archived one stays as it is, and nothing is told)."""
    row = session.execute(update(teams).where(
        teams.c.tenant_id == tenant_id, teams.c.id == team_id, teams.c.archived_at.is_(None)).values(
        archived_at=at).returning(*teams.c)).mappings().first()
    if row is not None:
        outbox.add(session, tenant_id, TeamArchived(team_id=team_id, name=row["name"], archived_at=at))
        return team_shape(row)
    row = session.execute(select(teams).where(teams.c.tenant_id == tenant_id, teams.c.id == team_id)
                          ).mappings().first()
    if row is None:
        raise NotFound(f"team {team_id} not found")
    return team_shape(row)


# --- canned responses ---

def canned_shape(row) -> dict:
    return shapes.doc(row, CANNED_FIELDS)


def create_canned_response(session: Session, tenant_id, name: str, body: str, at: datetime) -> dict:
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": name, "body": body, "created_at": at}
    inserted = session.execute(insert(canned_responses).values(**row).on_conflict_do_nothing()
                               .returning(canned_responses.c.id))
    if inserted.first() is None:
        raise Conflict(f"a canned response named {name!r} exists")
    outbox.add(session, tenant_id, CannedResponseCreated(canned_response_id=row["id"], name=name, body=body,
                                                         created_at=at))
    return canned_shape(row)


def list_canned_responses(session: Session, tenant_id) -> list[dict]:
    rows = session.execute(select(canned_responses).where(canned_responses.c.tenant_id == tenant_id)
                           .order_by(canned_responses.c.name)).mappings()
    return [canned_shape(r) for r in rows]


def load_canned_response(session: Session, tenant_id, canned_id) -> dict:
    row = session.execute(select(canned_responses).where(
        canned_responses.c.tenant_id == tenant_id, canned_responses.c.id == canned_id)).mappings().first()
    if row is None:
        raise NotFound(f"canned response {canned_id} not found")
    return dict(row)


def delete_canned_response(session: Session, tenant_id, canned_id, at: datetime) -> None:
    name = session.execute(delete(canned_responses).where(
        canned_responses.c.tenant_id == tenant_id, canned_responses.c.id == canned_id)
        .returning(canned_responses.c.name)).scalar()
    if name is None:
        raise NotFound(f"canned response {canned_id} not found")
    outbox.add(session, tenant_id, CannedResponseDeleted(canned_response_id=canned_id, name=name, deleted_at=at))


# --- categories ---

def categories(session: Session, tenant_id) -> list[str]:
    """The built-in categories, then the tenant's own in name order."""
    extensions = session.execute(select(ticket_categories.c.name).where(
        ticket_categories.c.tenant_id == tenant_id).order_by(ticket_categories.c.name)).scalars().all()
    return [*workflow.BUILT_IN_CATEGORIES, *extensions]


def category_or_general(session: Session, tenant_id, category: str) -> str:
    """The category if the tenant still has it, else `general` (for a ticket the system opens)."""
    return category if category in categories(session, tenant_id) else "general"


def remove_category(session: Session, tenant_id, name: str, at: datetime) -> None:
    """Tickets keep the name they have (a plain value on the ticket); only new uses are refused."""
    if name in workflow.BUILT_IN_CATEGORIES:
        raise Conflict(f"{name} is a built-in category and cannot be removed")
    deleted = session.execute(delete(ticket_categories).where(
        ticket_categories.c.tenant_id == tenant_id, ticket_categories.c.name == name))
    if deleted.rowcount == 0:
        raise NotFound(f"category {name} not found")
    outbox.add(session, tenant_id, CategoryRemoved(name=name, removed_at=at))


def check_category(session: Session, tenant_id, category: str) -> None:
    if category in workflow.BUILT_IN_CATEGORIES:  # no need to read the tenant's own
        return
    if category not in categories(session, tenant_id):
        raise InvalidInput("unknown category", [{"field": "category", "message": "not a category of this tenant"}])


def add_category(session: Session, tenant_id, name: str, at: datetime) -> None:
    if name in workflow.BUILT_IN_CATEGORIES:
        raise Conflict(f"{name} is a built-in category")
    inserted = session.execute(insert(ticket_categories).values(tenant_id=tenant_id, name=name)
                               .on_conflict_do_nothing().returning(ticket_categories.c.name))
    if inserted.first() is None:
        raise Conflict(f"the category {name} exists")
    outbox.add(session, tenant_id, CategoryAdded(name=name, added_at=at))

