"""Stopwatch entrypoints (a mixin of `BillingService`): start, pause, resume, touch, stop, discard,
see; and the sweep that flags timers past the tenant's limit and stops idle ones. The rules are
`billing.timers`; the SQL `billing.timer_store`; a stopped timer becomes a time entry through the
same path as a logged one (`billing.entry_service.add_entry`: billability decided, week held open).

Who: a member starts timers for themselves; they (or a manager: `member_scope` None) pause,
resume, stop or discard them. A member's timers are visible to them, to owners and admins, and to
the approvers named for them (`viewer` in `list_timers`/`get_timer`).

Every change tells its `timer.*` event (and so reaches the audit log) except a touch: a client's
heartbeat that only moves the idle clock, which would flood the log and changes no fact of the time.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from nameko.timer import timer as every

from custops.rpc_entrypoint import rpc

from billing import directory, entry_writer, references, time_setup, timer_store, weeks
from billing import timers as rules
from billing.commands import StartTimer, TimerFilters
from billing.entry_service import add_entry, member_scope_of
from billing.facts import timer_event
from custops import outbox, pagination
from custops.errors import EXPECTED, Forbidden, NotFound
from custops.validation import parse, parse_id

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TimerEntrypoints:
    def _stop_into_entry(self, session, tenant_id, timer: dict, at: datetime, settings: dict, zone, reason: str):
        """Stop a live timer (in the caller's transaction): its entry, the timer's changes, its events."""
        stopped = rules.stop(timer, at, settings["timer_limit_minutes"], reason)
        decision = entry_writer.decide(session, tenant_id, billable=timer["billable"], reason=timer["billable_reason"],
                                       category=timer["category"], project_id=timer["project_id"],
                                       customer_id=timer["customer_id"], keep_category=timer["category"])
        # a span only when it is the time run (no pauses, not cut): otherwise the minutes are the fact
        span = stopped["seconds"] >= int((at - timer["started_at"]).total_seconds()) - 1 and at > timer["started_at"] \
            and 30 <= stopped["seconds"] and stopped["minutes"] < rules.MAX_ENTRY_MINUTES
        entry = add_entry(session, tenant_id, {
            "id": uuid.uuid4(), "tenant_id": tenant_id, "member_id": timer["member_id"],
            "customer_id": timer["customer_id"], "ticket_id": timer["ticket_id"], "project_id": timer["project_id"],
            "task_id": timer["task_id"], "activity_id": timer["activity_id"],
            "work_date": weeks.local_day(timer["started_at"], zone.timezone), "minutes": stopped["minutes"],
            "started_at": timer["started_at"] if span else None, "ended_at": at if span else None,
            "category": timer["category"], "tags": list(timer["tags"] or []), "billable": decision.billable,
            "billable_source": decision.source, "billable_reason": decision.reason, "note": timer["note"],
            "entered_by_member_id": timer["member_id"], "created_at": at, "timer_id": timer["id"],
            "needs_confirmation": "over_limit" if stopped["flagged"] else None}, zone, at)
        values = {**stopped["changes"], "entry_id": entry["id"]}
        if stopped["flagged"] and timer["flagged_at"] is None:
            values["flagged_at"] = at
        after = timer_store.save(session, timer, values, at)
        outbox.add(session, tenant_id, timer_event("stopped", after, stopped["seconds"], reason=reason,
                                                   entry_id=entry["id"], minutes=stopped["minutes"],
                                                   flagged=stopped["flagged"]))
        return after

    @rpc(expected_exceptions=EXPECTED)
    def start_timer(self, tenant_id, member_id, payload):
        """Start the caller's timer; with one timer per member (the default) their live one is
        stopped first and becomes its entry (`replaced`)."""
        tenant_id, caller = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(StartTimer, payload)
        references.check(self.rpc_client, tenant_id, customer_id=cmd.customer_id, ticket_id=cmd.ticket_id,
                         ticket_customer_id=cmd.customer_id)
        project_id = references.check_work(self.rpc_client, tenant_id, cmd.customer_id, cmd.project_id, cmd.task_id)
        zone = directory.zone_of(self.db, self.rpc_client, tenant_id, caller)
        with self.db.transaction() as session:
            # refuse now what its entry could not be (an undecided billability): never a timer that cannot stop
            entry_writer.decide(session, tenant_id, billable=cmd.billable, reason=cmd.billable_reason,
                                category=cmd.category, project_id=project_id, customer_id=cmd.customer_id)
            settings = time_setup.settings_of(session, tenant_id)
            timer_store.lock_member(session, tenant_id, caller)
            now = _now()
            replaced = None
            if settings["one_timer_per_member"]:
                for live in timer_store.live_of(session, tenant_id, caller):
                    replaced = self._stop_into_entry(session, tenant_id, live, now, settings, zone, "replaced")["id"]
            row = timer_store.insert(session, {
                "id": uuid.uuid4(), "tenant_id": tenant_id, "member_id": caller, "customer_id": cmd.customer_id,
                "project_id": project_id, "ticket_id": cmd.ticket_id, "task_id": cmd.task_id,
                "activity_id": cmd.activity_id, "category": cmd.category, "billable": cmd.billable,
                "billable_reason": cmd.billable_reason, "note": cmd.note, "tags": cmd.tags, "state": "running",
                "started_at": now, "resumed_at": now, "last_activity_at": now, "created_at": now})
            outbox.add(session, tenant_id, timer_event("started", row, 0, replaced_timer_id=replaced))
        return timer_store.shape(row, now, settings["timer_limit_minutes"])

    def _act(self, tenant_id, member_id, timer_id, member_scope, action: str):
        tenant_id = parse_id(tenant_id, "tenant")
        parse_id(member_id, "member")  # the caller: the actor on the envelope says who it was
        timer_id, scope = parse_id(timer_id, "timer"), member_scope_of(member_scope)
        zone = None
        if action == "stop":
            with self.db.read() as session:
                owner = timer_store.load(session, tenant_id, timer_id)["member_id"]
            zone = directory.zone_of(self.db, self.rpc_client, tenant_id, owner)
        with self.db.transaction() as session:
            row = timer_store.load(session, tenant_id, timer_id, for_update=True)
            if scope is not None and row["member_id"] != scope:
                raise Forbidden(f"you may {action} only your own timers")
            settings = time_setup.settings_of(session, tenant_id)
            now = _now()
            if action == "stop":
                row = self._stop_into_entry(session, tenant_id, row, now, settings, zone, "stopped")
            elif action == "discard":
                row = timer_store.save(session, row, rules.discard(row, now), now)
                outbox.add(session, tenant_id, timer_event("discarded", row, row["elapsed_seconds"]))
            elif action == "touch":
                row = timer_store.save(session, row, rules.touch(row, now), now)  # no event: not a change of note
            else:
                changes = rules.pause(row, now) if action == "pause" else rules.resume(row, now)
                row = timer_store.save(session, row, changes, now)
                outbox.add(session, tenant_id, timer_event("paused" if action == "pause" else "resumed", row,
                                                           rules.elapsed_seconds(row, now)))
        return timer_store.shape(row, now, settings["timer_limit_minutes"])

    @rpc(expected_exceptions=EXPECTED)
    def pause_timer(self, tenant_id, member_id, timer_id, member_scope=None):
        return self._act(tenant_id, member_id, timer_id, member_scope, "pause")

    @rpc(expected_exceptions=EXPECTED)
    def resume_timer(self, tenant_id, member_id, timer_id, member_scope=None):
        return self._act(tenant_id, member_id, timer_id, member_scope, "resume")

    @rpc(expected_exceptions=EXPECTED)
    def touch_timer(self, tenant_id, member_id, timer_id, member_scope=None):
        """A sign of activity from the member's client: the idle-stop clock starts again."""
        return self._act(tenant_id, member_id, timer_id, member_scope, "touch")

    @rpc(expected_exceptions=EXPECTED)
    def stop_timer(self, tenant_id, member_id, timer_id, member_scope=None):
        """Stop a live timer: it becomes a time entry (`entry_id`), marked `needs_confirmation` when
        it ran past the tenant's limit."""
        return self._act(tenant_id, member_id, timer_id, member_scope, "stop")

    @rpc(expected_exceptions=EXPECTED)
    def discard_timer(self, tenant_id, member_id, timer_id, member_scope=None):
        return self._act(tenant_id, member_id, timer_id, member_scope, "discard")

    def _visible_members(self, session, tenant_id, viewer) -> list[uuid.UUID] | None:
        if viewer is None:
            return None
        viewer = parse_id(viewer, "member")
        return [viewer, *time_setup.approved_members(session, tenant_id, viewer)]

    @rpc(expected_exceptions=EXPECTED)
    def get_timer(self, tenant_id, timer_id, viewer=None):
        """A timer; `viewer` (None: a manager) sees their own and those of members they approve."""
        tenant_id, timer_id = parse_id(tenant_id, "tenant"), parse_id(timer_id, "timer")
        with self.db.read() as session:
            row = timer_store.load(session, tenant_id, timer_id)
            visible = self._visible_members(session, tenant_id, viewer)
            if visible is not None and row["member_id"] not in visible:
                raise NotFound(f"timer {timer_id} not found")
            limit = time_setup.settings_of(session, tenant_id)["timer_limit_minutes"]
        return timer_store.shape(row, _now(), limit)

    @rpc(expected_exceptions=EXPECTED)
    def list_timers(self, tenant_id, filters=None, limit=50, cursor=None, viewer=None):
        """Timers newest first (`live`: running or paused only, the default), filtered by `member_id`."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TimerFilters, filters or {})
        limit = pagination.clamp(limit)
        with self.db.read() as session:
            visible = self._visible_members(session, tenant_id, viewer)
            if f.member_id is not None:
                visible = [f.member_id] if visible is None or f.member_id in visible else []
            settings = time_setup.settings_of(session, tenant_id)
            return timer_store.page(session, tenant_id, visible, f.live, limit, cursor, _now(),
                                    settings["timer_limit_minutes"])

    # --- the sweep: limit flags and idle stops

    @every(interval=SWEEP_SECONDS)
    def sweep_timers_periodically(self):
        try:
            self.sweep_timers()
        except Exception:  # a failed sweep is retried at the next tick; it must not kill the timer
            log.exception("timer sweep failed")

    @rpc(expected_exceptions=EXPECTED)
    def sweep_timers(self, tenant_id=None, at=None):
        """Flag running timers past their tenant's limit (`timer.flagged`, once) and stop idle ones
        (`timer.stopped`, reason `idle`, their time up to their last activity). Answers the counts."""
        tenant = parse_id(tenant_id, "tenant") if tenant_id is not None else None
        at = datetime.fromisoformat(at) if at else _now()
        flagged = stopped = 0
        with self.db.read() as session:
            candidates = timer_store.running(session, tenant)
        for candidate in candidates:
            zone = directory.zone_of(self.db, self.rpc_client, candidate["tenant_id"], candidate["member_id"])
            with self.db.transaction() as session:
                row = timer_store.load(session, candidate["tenant_id"], candidate["id"], for_update=True)
                if row["state"] != "running":
                    continue
                settings = time_setup.settings_of(session, row["tenant_id"])
                idle_end = rules.idle_until(row, at, settings["idle_stop_minutes"])
                if idle_end is not None:
                    self._stop_into_entry(session, row["tenant_id"], row, idle_end, settings, zone, "idle")
                    stopped += 1
                elif row["flagged_at"] is None and rules.over_limit(row, at, settings["timer_limit_minutes"]):
                    row = timer_store.save(session, row, {"flagged_at": at}, at)
                    outbox.add(session, row["tenant_id"], timer_event(
                        "flagged", row, rules.elapsed_seconds(row, at), limit_minutes=settings["timer_limit_minutes"]))
                    flagged += 1
        return {"flagged": flagged, "stopped": stopped}
