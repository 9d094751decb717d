"""Saved views: a member's named timeline filter sets.

Decisions: a view belongs to the member who saved it; only they change or delete it. Names are
unique per member, case-insensitively. A member has at most one default view: making one the
default unsets the previous one in the same transaction. A shared view is listed to the whole team
(read-only for the others; they use its filters, subject to their own scope — a view never widens
what a member may see: the gateway applies the reader's scope to whatever filters a view holds).
The filters are those of the timeline queries (`commands.ActivityFilters`), minus what the gateway
decides for the caller (`include_internal`, `customer_ids`).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import func, or_, select, update

from custops import outbox
from custops.contracts.timeline import ActivityViewDeleted, ActivityViewSaved
from custops.errors import EXPECTED, Conflict, Forbidden, InvalidInput, NotFound
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from timeline.commands import ActivityFilters, SaveView, UpdateView
from timeline.models import saved_views

v = saved_views.c
_DECIDED_BY_THE_GATEWAY = ("include_internal", "customer_ids")


def view_filters(filters: dict) -> dict:
    """The filters as stored: validated, only those given (JSON)."""
    refused = [k for k in _DECIDED_BY_THE_GATEWAY if k in (filters or {})]
    if refused:
        raise InvalidInput("the input is not valid", [{"field": f"filters.{k}", "message": "not a view filter"}
                                                      for k in refused])
    try:
        parsed = parse(ActivityFilters, filters)
    except InvalidInput as exc:
        raise InvalidInput("the input is not valid", [
            {**e, "field": f"filters.{e['field']}"} for e in (exc.errors or [])]) from None
    return parsed.model_dump(mode="json", exclude_unset=True)


def _shape(row, member_id) -> dict:
    return {"id": str(row.id), "member_id": str(row.member_id), "name": row.name, "filters": row.filters,
            "shared": row.shared, "is_default": row.is_default and row.member_id == member_id,
            "mine": row.member_id == member_id, "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat()}


class SavedViews:
    """Mixin of `TimelineService` (needs `db`)."""

    @rpc(expected_exceptions=EXPECTED)
    def list_views(self, tenant_id, member_id):
        """The member's own views and those the team shares, the member's default first."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        with self.db.read() as session:
            rows = session.execute(select(saved_views).where(
                v.tenant_id == tenant_id, or_(v.member_id == member_id, v.shared.is_(True)))).all()
        items = sorted((_shape(r, member_id) for r in rows),
                       key=lambda d: (not d["is_default"], not d["mine"], d["name"].lower(), d["id"]))
        default = next((d["id"] for d in items if d["is_default"]), None)
        return {"items": items, "next_cursor": None, "total": len(items), "default_view_id": default}

    @rpc(expected_exceptions=EXPECTED)
    def get_view(self, tenant_id, member_id, view_id):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        view_id = parse_id(view_id, "view")
        with self.db.read() as session:
            return _shape(self._visible(session, tenant_id, member_id, view_id), member_id)

    @staticmethod
    def _visible(session, tenant_id, member_id, view_id, lock=False):
        stmt = select(saved_views).where(v.tenant_id == tenant_id, v.id == view_id,
                                         or_(v.member_id == member_id, v.shared.is_(True)))
        row = session.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise NotFound(f"view {view_id} not found")
        return row

    @staticmethod
    def _name_free(session, tenant_id, member_id, name, but=None) -> None:
        stmt = select(v.id).where(v.tenant_id == tenant_id, v.member_id == member_id,
                                  func.lower(v.name) == name.lower())
        if but is not None:
            stmt = stmt.where(v.id != but)
        if session.execute(stmt).first() is not None:
            raise Conflict(f"you already have a view named {name!r}")

    @staticmethod
    def _clear_default(session, tenant_id, member_id) -> None:
        session.execute(update(saved_views).where(v.tenant_id == tenant_id, v.member_id == member_id,
                                                  v.is_default.is_(True)).values(is_default=False))

    @rpc(expected_exceptions=EXPECTED)
    def save_view(self, tenant_id, member_id, payload):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(SaveView, payload)
        filters = view_filters(cmd.filters)
        now = datetime.now(timezone.utc)
        row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "member_id": member_id, "name": cmd.name,
               "filters": filters, "shared": cmd.shared, "is_default": cmd.is_default, "created_at": now,
               "updated_at": now}
        with self.db.transaction() as session:
            # one writer per member at a time: the name and default rules hold under concurrency
            session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"views:{tenant_id}:{member_id}"))))
            self._name_free(session, tenant_id, member_id, cmd.name)
            if cmd.is_default:
                self._clear_default(session, tenant_id, member_id)
            session.execute(saved_views.insert().values(**row))
            outbox.add(session, tenant_id, ActivityViewSaved(
                activity_view_id=row["id"], member_id=member_id, name=cmd.name, filters=filters, shared=cmd.shared,
                is_default=cmd.is_default, created=True))
        return _shape(_Row(row), member_id)

    @rpc(expected_exceptions=EXPECTED)
    def update_view(self, tenant_id, member_id, view_id, payload):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        view_id = parse_id(view_id, "view")
        cmd = parse(UpdateView, payload)
        wanted = cmd.model_dump(exclude_unset=True)
        if "filters" in wanted:
            wanted["filters"] = view_filters(cmd.filters or {})
        with self.db.transaction() as session:
            session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"views:{tenant_id}:{member_id}"))))
            row = self._visible(session, tenant_id, member_id, view_id, lock=True)
            if row.member_id != member_id:
                raise Forbidden("only the member who saved a view changes it")
            changes = {k: val for k, val in wanted.items() if val is not None and getattr(row, k) != val}
            if not changes:
                return _shape(row, member_id)
            if "name" in changes:
                self._name_free(session, tenant_id, member_id, changes["name"], but=view_id)
            if changes.get("is_default"):
                self._clear_default(session, tenant_id, member_id)
            now = datetime.now(timezone.utc)
            session.execute(update(saved_views).where(v.id == view_id).values(**changes, updated_at=now))
            after = _Row({**row._asdict(), **changes, "updated_at": now})
            outbox.add(session, tenant_id, ActivityViewSaved(
                activity_view_id=view_id, member_id=member_id, name=after.name, filters=after.filters,
                shared=after.shared, is_default=after.is_default, created=False, changes=changes))
        return _shape(after, member_id)

    @rpc(expected_exceptions=EXPECTED)
    def delete_view(self, tenant_id, member_id, view_id):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        view_id = parse_id(view_id, "view")
        with self.db.transaction() as session:
            row = self._visible(session, tenant_id, member_id, view_id, lock=True)
            if row.member_id != member_id:
                raise Forbidden("only the member who saved a view deletes it")
            session.execute(saved_views.delete().where(v.id == view_id))
            outbox.add(session, tenant_id, ActivityViewDeleted(activity_view_id=view_id, member_id=member_id,
                                                               name=row.name))
        return None


class _Row:
    """A dict read as a row (attribute access), for shaping what was just written."""

    def __init__(self, values: dict):
        self.__dict__.update(values)
