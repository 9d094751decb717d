"""The activity log's RPCs: interactions logged by hand and corrected, the timeline of a customer and
of the tenant, the export, the heatmaps, the tenant's interaction types.

Each activity records its actor: the author the event names (`summaries`), else the envelope's
actor (who made the change). Answers carry `actor` (the id; null for the system) and `actor_type`
(`member`, `contact`, `system`; null on activities older than actor types), `visibility`
(`internal` or `customer`, the same as `internal`), `recorded_at`, `links`, and the version:
`activity_id` (the activity's id for good, the first version's), `id` (this version's), `revision`.

Corrections (edit, retract) apply to interactions logged by hand only: an activity recorded from
another service's event is that service's fact (correct it there: its correction event lands here
as an activity of its own). An edit or a retraction appends a new version (an activity carrying
`revision`, `correction_reason` and the corrector in `data.corrected_by`) and points the replaced one
at it; nothing is rewritten (a trigger refuses it). Readers see the current version; `history`
returns every version, first to last. A retracted activity is hidden unless `include_retracted`.

Queries about a customer ask the customers service first (never its tables): an unknown customer,
or another tenant's, is a 404 rather than an empty timeline.
"""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert

from custops import outbox, pagination
from custops.caller import current_actor
from custops.contracts.timeline import InteractionCorrected, InteractionLogged, InteractionTypeDefined
from custops.errors import EXPECTED, Conflict, InvalidInput, NotFound
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from timeline import activity_months, heatmap, interaction_types, queries
from timeline.commands import (ActivityFilters, CorrectInteraction, DefineInteractionType, HeatmapQuery,
                               LogInteraction, RetractInteraction)
from timeline.models import activities, interaction_types as interaction_types_table, tenant_settings
from timeline.recorded_events import know_account, row_of
from timeline.summaries import describe

a = activities.c
EXPORT_MAX_PAGE = 1000
EXPORT_COLUMNS = ["activity_id", "id", "customer_id", "occurred_at", "recorded_at", "type", "visibility",
                  "actor_type", "actor", "summary", "links", "fields", "revision"]


def shape(row) -> dict:
    kind = row["type"]
    return {
        "id": str(row["id"]),
        "activity_id": str(row.get("root_id") or row["id"]),
        "customer_id": str(row["customer_id"]),
        "type": kind,
        "occurred_at": row["occurred_at"].isoformat(),
        "recorded_at": row["created_at"].isoformat() if row.get("created_at") else None,
        "summary": row["summary"],
        "internal": row["internal"],
        "visibility": "internal" if row["internal"] else "customer",
        "subject_type": row["subject_type"],
        "subject_id": str(row["subject_id"]) if row["subject_id"] else None,
        "actor": str(row["actor"]) if row["actor"] else None,
        "actor_type": row["actor_type"],
        "links": row.get("links") or {},
        "fields": (row["data"] or {}).get("fields", {}) if kind.startswith("interaction.") else None,
        "revision": row.get("revision", 1),
        "retracted": row.get("retracted", False),
        "correction_reason": row.get("correction_reason"),
        "data": row["data"],
    }


def _export_row(row) -> list:
    import json

    doc = shape(row)
    return [doc["activity_id"], doc["id"], doc["customer_id"], doc["occurred_at"], doc["recorded_at"], doc["type"],
            doc["visibility"], doc["actor_type"], doc["actor"], doc["summary"],
            json.dumps(doc["links"], sort_keys=True) if doc["links"] else "",
            json.dumps(doc["fields"], sort_keys=True) if doc["fields"] else "", doc["revision"]]


class ActivityLog:
    """Mixin of `TimelineService` (needs `db` and `rpc_client`)."""

    def _require_customer(self, tenant_id, customer_id) -> None:
        """Ask (never tell) the customers service: NotFound when the customer is not in this tenant."""
        self.rpc_client.call("customers", "get_customer", str(tenant_id), str(customer_id))

    # --- reading ----------------------------------------------------------------------------------

    def _page(self, conds, limit, cursor, with_total=True) -> dict:
        key, as_of, total = queries.read_cursor(cursor)
        with self.db.read() as session:
            rows = session.execute(queries.page_statement(conds, key, as_of, limit)).mappings().all()
            if total is None and with_total:
                total = session.execute(queries.count_statement(conds, as_of)).scalar_one()
        return {"items": [shape(r) for r in rows[:limit]], "total": total,
                "next_cursor": queries.next_cursor(rows, limit, as_of, total if total is not None else -1)}

    @rpc(expected_exceptions=EXPECTED)
    def list_activities(self, tenant_id, customer_id, filters=None, limit=50, cursor=None):
        """A customer's timeline, newest first, with the total of the filtered set."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        f = parse(ActivityFilters, filters or {})
        limit = pagination.clamp(limit)
        queries.read_cursor(cursor)  # refuses a bad cursor before asking anyone
        self._require_customer(tenant_id, customer_id)  # once the input is known to be good
        return self._page(queries.conditions(tenant_id, f, customer_id), limit, cursor)

    @rpc(expected_exceptions=EXPECTED)
    def list_tenant_activities(self, tenant_id, filters=None, limit=50, cursor=None):
        """Every customer's activities (or those of `customer_ids`, the caller's scope), newest first."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(ActivityFilters, filters or {})
        return self._page(queries.conditions(tenant_id, f), pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def export_activities(self, tenant_id, filters=None, cursor=None, limit=EXPORT_MAX_PAGE):
        """`{columns, rows, next_cursor}`: the tenant's activities as table rows for a CSV export."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(ActivityFilters, filters or {})
        try:
            limit = int(limit)
        except (TypeError, ValueError):
            limit = 0
        if not 1 <= limit <= EXPORT_MAX_PAGE:
            raise InvalidInput("invalid limit", [{"field": "limit", "message": f"must be 1..{EXPORT_MAX_PAGE}"}])
        key, as_of, _ = queries.read_cursor(cursor)
        conds = queries.conditions(tenant_id, f)
        with self.db.read() as session:
            rows = session.execute(queries.page_statement(conds, key, as_of, limit)).mappings().all()
        return {"columns": EXPORT_COLUMNS, "rows": [_export_row(r) for r in rows[:limit]],
                "next_cursor": queries.next_cursor(rows, limit, as_of, -1)}

    @rpc(expected_exceptions=EXPECTED)
    def activity_history(self, tenant_id, customer_id, activity_id, include_internal=True):
        """Every version of an activity (named by any of its versions' ids), first to last."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        activity_id = parse_id(activity_id, "activity")
        with self.db.read() as session:
            root = self._root_of(session, tenant_id, customer_id, activity_id)
            rows = session.execute(select(*queries.COLUMNS).where(
                a.tenant_id == tenant_id, a.customer_id == customer_id, or_(a.id == root, a.root_id == root))
                .order_by(a.revision)).mappings().all()
        if not rows or (not include_internal and rows[-1]["internal"]):
            raise NotFound(f"activity {activity_id} not found")
        visible = [r for r in rows if include_internal or not r["internal"]]
        return {"activity_id": str(root), "items": [shape(r) for r in visible], "next_cursor": None,
                "total": len(visible)}

    @staticmethod
    def _root_of(session, tenant_id, customer_id, activity_id):
        root = session.execute(select(a.root_id, a.id).where(
            a.tenant_id == tenant_id, a.customer_id == customer_id, a.id == activity_id)).first()
        if root is None:
            raise NotFound(f"activity {activity_id} not found")
        return root.root_id or root.id

    # --- heatmaps ---------------------------------------------------------------------------------

    def _clock(self, session, tenant_id) -> tuple[str, str]:
        found = session.execute(select(tenant_settings.c.timezone, tenant_settings.c.week_start)
                                .where(tenant_settings.c.tenant_id == tenant_id)).first()
        return (found.timezone, found.week_start) if found else ("UTC", "monday")

    @rpc(expected_exceptions=EXPECTED)
    def activity_heatmap(self, tenant_id, query):
        """Counts per account × bucket in the tenant's calendar; quiet accounts (no human activity in
        `quiet_days`) first (see `timeline.heatmap`)."""
        tenant_id = parse_id(tenant_id, "tenant")
        q = parse(HeatmapQuery, query)
        with self.db.read() as session:
            zone, week_start = self._clock(session, tenant_id)
            q = _resolved(q, zone)
            columns = heatmap.buckets(q.start, q.end, q.bucket, week_start)
            if activity_months.supports(q.filters):  # the read model: account months, not activities
                counts = activity_months.counts(session, tenant_id, q.filters, columns, q.bucket, week_start)
            else:
                bounds = heatmap.boundaries(columns, q.bucket, zone)
                counts = _dense(session.execute(queries.count_by(
                    a.customer_id, queries.conditions(tenant_id, q.filters), bounds)), len(columns))
            scope = q.filters.customer_ids if q.filters.customer_ids is not None else (
                [q.filters.customer_id] if q.filters.customer_id else None)
            if scope is None:
                touches = session.execute(queries.ACCOUNTS_LAST_HUMAN, {"tenant": tenant_id}).all()
            else:
                touches = session.execute(queries.NAMED_LAST_HUMAN,
                                          {"tenant": tenant_id, "customer_ids": [str(c) for c in scope]}).all()
        now = datetime.now(timezone.utc)
        last_human = dict(touches)
        if scope is not None:
            counts = {c: v for c, v in counts.items() if c in last_human}
        accounts = heatmap.arrange(counts, last_human, len(columns), now, q.quiet_days)
        return {"timezone": zone, "week_start": week_start, "bucket": q.bucket, "quiet_days": q.quiet_days,
                "buckets": [c.isoformat() for c in columns], "quiet_count": sum(1 for x in accounts if x.quiet),
                "accounts": [x.doc(now) for x in accounts]}

    @rpc(expected_exceptions=EXPECTED)
    def member_heatmap(self, tenant_id, query):
        """Counts per team member (the actor) × bucket in the tenant's calendar, busiest first."""
        tenant_id = parse_id(tenant_id, "tenant")
        q = parse(HeatmapQuery, query)
        with self.db.read() as session:
            zone, week_start = self._clock(session, tenant_id)
            q = _resolved(q, zone)
            columns = heatmap.buckets(q.start, q.end, q.bucket, week_start)
            conds = [*queries.conditions(tenant_id, q.filters), a.actor_type == "member", a.actor.is_not(None)]
            counts = _dense(session.execute(queries.count_by(
                a.actor, conds, heatmap.boundaries(columns, q.bucket, zone))), len(columns))
        members = [{"member_id": m, "counts": per, "total": sum(per)} for m, per in counts.items()]
        members.sort(key=lambda m: (-m["total"], m["member_id"]))
        return {"timezone": zone, "week_start": week_start, "bucket": q.bucket,
                "buckets": [c.isoformat() for c in columns], "members": members}

    # --- interaction types ------------------------------------------------------------------------

    def _interaction_type(self, session, tenant_id, kind: str) -> interaction_types.InteractionType:
        found = interaction_types.BUILT_IN.get(kind)
        if found is not None:
            return found
        row = session.execute(select(interaction_types_table).where(
            interaction_types_table.c.tenant_id == tenant_id, interaction_types_table.c.kind == kind)).first()
        if row is None:
            raise InvalidInput("unknown interaction kind",
                               [{"field": "kind", "message": f"no interaction kind {kind}"}])
        return interaction_types.from_stored(row.kind, row.label, row.fields)

    @rpc(expected_exceptions=EXPECTED)
    def list_interaction_types(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            own = session.execute(select(interaction_types_table).where(
                interaction_types_table.c.tenant_id == tenant_id).order_by(interaction_types_table.c.kind)).all()
        items = [t.doc() for t in interaction_types.BUILT_IN.values()] + [
            interaction_types.from_stored(r.kind, r.label, r.fields).doc() for r in own]
        return {"items": items, "next_cursor": None, "total": len(items)}

    @rpc(expected_exceptions=EXPECTED)
    def define_interaction_type(self, tenant_id, kind, payload):
        """Create or replace one of the tenant's own interaction kinds (a built-in's name is refused)."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(DefineInteractionType, payload)
        defined = interaction_types.parse_definition(kind, cmd.model_dump())
        doc = defined.doc()
        t = interaction_types_table
        with self.db.transaction() as session:
            before = session.execute(select(t.c.label, t.c.fields).where(
                t.c.tenant_id == tenant_id, t.c.kind == kind).with_for_update()).first()
            if before is not None and before.label == doc["label"] and before.fields == doc["fields"]:
                return doc  # a no-op tells nothing
            stmt = insert(t).values(tenant_id=tenant_id, kind=kind, label=doc["label"], fields=doc["fields"])
            session.execute(stmt.on_conflict_do_update(index_elements=[t.c.tenant_id, t.c.kind], set_={
                "label": stmt.excluded.label, "fields": stmt.excluded.fields,
                "updated_at": datetime.now(timezone.utc)}))
            outbox.add(session, tenant_id, InteractionTypeDefined(
                interaction_type_id=kind, label=doc["label"], fields=doc["fields"],
                previous={"label": before.label, "fields": before.fields} if before else None))
        return doc

    # --- writing ----------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def log_interaction(self, tenant_id, customer_id, payload):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        cmd = parse(LogInteraction, payload)
        with self.db.read() as session:
            kind = self._interaction_type(session, tenant_id, cmd.kind)
        fields = interaction_types.validate_fields(kind, cmd.fields)
        self._require_customer(tenant_id, customer_id)
        event = InteractionLogged(
            activity_id=uuid.uuid4(), customer_id=customer_id, kind=cmd.kind, summary=cmd.summary,
            internal=cmd.is_internal(), occurred_at=cmd.occurred_at or datetime.now(timezone.utc),
            fields=fields, links=cmd.links.stored())
        with self.db.transaction() as session:
            envelope = outbox.add(session, tenant_id, event)  # its actor: the caller
            row = row_of(event.activity_id, tenant_id, customer_id, describe(event), envelope)
            row["created_at"] = datetime.now(timezone.utc)
            session.execute(activities.insert().values(**row))
            know_account(session, tenant_id, customer_id)
        return shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def correct_interaction(self, tenant_id, customer_id, activity_id, payload):
        """Edit a hand-logged interaction: a new version with the fields given."""
        cmd = parse(CorrectInteraction, payload)
        return self._new_version(tenant_id, customer_id, activity_id, cmd, retract=False)

    @rpc(expected_exceptions=EXPECTED)
    def retract_interaction(self, tenant_id, customer_id, activity_id, payload):
        """Retract a hand-logged interaction: a last version, retracted, with the reason."""
        cmd = parse(RetractInteraction, payload)
        return self._new_version(tenant_id, customer_id, activity_id, cmd, retract=True)

    def _new_version(self, tenant_id, customer_id, activity_id, cmd, retract: bool):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        activity_id = parse_id(activity_id, "activity")
        for _ in range(3):  # a concurrent correction took the current version: read again
            with self.db.transaction() as session:
                root = self._root_of(session, tenant_id, customer_id, activity_id)
                current = session.execute(select(*queries.COLUMNS).where(
                    a.tenant_id == tenant_id, or_(a.id == root, a.root_id == root), a.superseded_by.is_(None))
                    .with_for_update()).mappings().first()
                if current is None:
                    continue
                return self._append_version(session, tenant_id, customer_id, root, dict(current), cmd, retract)
        raise Conflict(f"activity {activity_id} is being corrected by someone else; try again")

    def _append_version(self, session, tenant_id, customer_id, root, current: dict, cmd, retract: bool):
        if not current["type"].startswith("interaction."):
            raise Conflict(f"a {current['type']} activity is its service's fact: correct it there")
        if current["retracted"]:
            raise Conflict("this activity was retracted")
        if cmd.expected_revision is not None and cmd.expected_revision != current["revision"]:
            raise Conflict(f"the activity is at revision {current['revision']}, not {cmd.expected_revision}")
        data = dict(current["data"])
        new = {k: current[k] for k in ("summary", "internal", "occurred_at", "links")}
        new["fields"] = data.get("fields", {})
        if not retract:
            if cmd.summary is not None:
                new["summary"] = cmd.summary
            if cmd.visibility is not None:
                new["internal"] = cmd.visibility == "internal"
            if cmd.occurred_at is not None:
                new["occurred_at"] = cmd.occurred_at
            if cmd.links is not None:
                new["links"] = cmd.links.stored()
            if cmd.fields is not None:
                kind = self._interaction_type(session, tenant_id, current["type"].partition(".")[2])
                new["fields"] = interaction_types.validate_fields(kind, cmd.fields)
        old = {**{k: current[k] for k in ("summary", "internal", "occurred_at", "links")},
               "fields": data.get("fields", {})}
        changes = {k: {"old": _jsonable(old[k]), "new": _jsonable(new[k])} for k in new if new[k] != old[k]}
        if not retract and not changes:
            return shape(current)  # nothing changed: no version, nothing told
        version_id = uuid.uuid4()
        event = InteractionCorrected(activity_id=version_id, root_id=root, previous_id=current["id"],
                                     customer_id=customer_id, revision=current["revision"] + 1, retracted=retract,
                                     reason=cmd.reason, changes=changes)
        envelope = outbox.add(session, tenant_id, event)
        corrector = current_actor()
        data.update(summary=new["summary"], internal=new["internal"], occurred_at=_jsonable(new["occurred_at"]),
                    fields=new["fields"], links=new["links"],
                    corrected_by={"type": corrector.type, "id": str(corrector.id) if corrector.id else None})
        row = {**{k: current[k] for k in ("tenant_id", "customer_id", "type", "subject_type", "subject_id", "actor",
                                          "actor_type", "sequence")},
               "id": version_id, "root_id": root, "revision": current["revision"] + 1, "summary": new["summary"],
               "internal": new["internal"], "occurred_at": new["occurred_at"], "links": new["links"], "data": data,
               "retracted": retract, "correction_reason": cmd.reason, "source_event_id": envelope.id,
               "created_at": datetime.now(timezone.utc)}
        session.execute(activities.insert().values(**row))
        session.execute(update(activities).where(a.id == current["id"]).values(superseded_by=version_id))
        return shape(row)


def _dense(rows, width: int) -> dict[str, list[int]]:
    """`{key: [count per bucket]}` from `queries.count_by`'s rows."""
    out = {}
    for key, buckets in rows:
        counted = Counter(buckets)
        out[key] = [counted.get(b, 0) for b in range(1, width + 1)]
    return out


def _resolved(q: HeatmapQuery, zone: str) -> HeatmapQuery:
    """The range with its defaults in the tenant's calendar, validated once whole."""
    from zoneinfo import ZoneInfo

    resolved = q.resolved(datetime.now(ZoneInfo(zone)).date())
    return parse(HeatmapQuery, resolved.model_dump(mode="json"))


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value

