"""SLA entrypoints of the tickets service (a mixin `TicketsService` inherits) and the deadline clock
as a nameko dependency.

Each configuration change bumps its version and, in the same transaction, queues a recompute job
of the tenant's open tickets (`tickets.sla_recompute`): the answer carries the job as `recompute`
(additive: the documents are those of before, plus that field) and returns at once; the process's
recompute worker (`SlaRecomputeProvider`) does the work in batches. A write that changes nothing
(the same policy targets, calendar or settings, holidays already there) is a no-op: no version bump,
no job (`recompute: null`). The input bounds are those of `tickets.business_hours` (calendars),
`tickets.sla` (targets) and `tickets.holiday_sources` (imports), listed in docs/sla.md.

Each change also adds its event (`sla_policy.saved`/`deleted`, `business_calendar.changed`,
`sla_settings.changed`) to the outbox in its transaction, so the audit log misses none; a no-op
adds none.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from nameko.extensions import DependencyProvider
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from custops.contracts.customers import Tier
from custops import outbox
from custops.contracts.tickets import (DONE_STATUSES, BusinessCalendarChanged, CalendarChangeSource, Priority,
                                       SlaPolicyDeleted, SlaPolicySaved, SlaSettingsChanged, Status)
from custops.errors import EXPECTED, Conflict, InvalidInput, NotFound
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from custops import pagination
from tickets import sla_recompute, sla_store
from tickets.business_hours import MAX_HOLIDAYS, Calendar, check_bounds
from tickets.holiday_sources import MAX_REGION_YEARS, HolidaySourceError, parse_ics_holidays, public_holidays
from tickets.models import sla_policies, sla_settings, ticket_sla_pauses, ticket_sla_timers, tickets
from tickets.sla import MAX_TARGET_MINUTES, MIN_WARNING_FRACTION, PauseRules, Policy, Targets

Minutes = Field(default=None, gt=0, le=MAX_TARGET_MINUTES)  # at most a year of business minutes


class PutPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: Tier | None = None
    priority: Priority | None = None
    first_response_minutes: int | None = Minutes
    next_response_minutes: int | None = Minutes
    resolution_minutes: int | None = Minutes


class PutCalendar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(default=None, min_length=1, max_length=64)  # None: the tenant's
    weekly_slots: dict[str, list[list[str]]] = Field(default={}, max_length=7)
    holidays: list[str] = Field(default=[], max_length=MAX_HOLIDAYS)
    always_open: bool = False


class LoadPublicHolidays(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(min_length=2, max_length=6)
    years: list[int] = Field(min_length=1, max_length=MAX_REGION_YEARS)


class PutSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pause_statuses: list[Status] | None = None
    warning_fraction: float | None = Field(default=None, ge=MIN_WARNING_FRACTION, le=1)
    escalation: dict | None = None


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raise_priority: bool = False
    reassign_to: uuid.UUID | None = None


def _policy_doc(row) -> dict:
    return {"id": str(row["id"]), "tier": row["tier"], "priority": row["priority"],
            "first_response_minutes": row["first_response_minutes"],
            "next_response_minutes": row["next_response_minutes"],
            "resolution_minutes": row["resolution_minutes"], "version": row["version"]}


def _settings_doc(settings: sla_store.Settings) -> dict:
    return {"pause_statuses": sorted(settings.pause_rules.statuses), "warning_fraction": settings.warning_fraction,
            "escalation": settings.escalation}


def _settings_answer(session, tenant_id) -> dict:
    return {**_settings_doc(sla_store.load_settings(session, tenant_id)),
            "version": sla_recompute.settings_version(session, tenant_id)}


def _changed(before: dict, after: dict) -> tuple[dict, dict]:
    """(changes, previous) of the fields whose value differs, as the setup events carry them."""
    fields = [k for k in after if before.get(k) != after[k]]
    return {k: after[k] for k in fields}, {k: before.get(k) for k in fields}


def _calendar_changed(session, tenant_id, before: dict, now: datetime, source: CalendarChangeSource,
                      region: str | None = None) -> None:
    """Add `business_calendar.changed` for a calendar just saved (`before`: its fields before)."""
    after = sla_store.calendar_fields(sla_store.load_calendar(session, tenant_id))
    changes, previous = _changed({k: v for k, v in before.items() if k != "version"},
                                 {k: v for k, v in after.items() if k != "version"})
    outbox.add(session, tenant_id, BusinessCalendarChanged(
        version=after["version"], source=source, region=region, changes=changes, previous=previous,
        holidays_added=sorted(set(after["holidays"]) - set(before["holidays"])),
        holidays_removed=sorted(set(before["holidays"]) - set(after["holidays"])), changed_at=now))


def _iso(value):
    return value.isoformat() if value is not None else None


class SlaClockProvider(DependencyProvider):
    """Runs the deadline clock in a managed thread while the container runs."""

    def start(self):
        from tickets.sla_clock import DeadlineClock

        self.clock = DeadlineClock(self.container.service_name)
        self.thread = self.container.spawn_managed_thread(self.clock.run)

    def stop(self):
        self.clock.stop()
        self.thread.kill()  # wakes it from its wait; an open transaction rolls back
        self.clock.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return None


class SlaRecomputeProvider(DependencyProvider):
    """Runs the SLA recompute worker (`tickets.sla_recompute.RecomputeWorker`) in a managed thread
    while the container runs; every tickets process runs one, and they share the jobs."""

    def start(self):
        self.worker = sla_recompute.RecomputeWorker(self.container.service_name)
        self.thread = self.container.spawn_managed_thread(self.worker.run)

    def stop(self):
        self.worker.stop()
        self.thread.kill()  # wakes it from its wait; a batch in progress rolls back and is redone
        self.worker.close()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return None


class SlaEntrypoints:
    """Policies, calendar, settings and per-ticket SLA state. Needs `self.db`."""

    sla_clock = SlaClockProvider()
    sla_recompute_worker = SlaRecomputeProvider()

    # --- policies ---

    @rpc(expected_exceptions=EXPECTED)
    def list_sla_policies(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.transaction() as session:  # seeds the starter policies on first use
            sla_store.load_policies(session, tenant_id)
            rows = sla_store._policy_rows(session, tenant_id)
            return [_policy_doc(r) for r in rows]

    @rpc(expected_exceptions=EXPECTED)
    def put_sla_policy(self, tenant_id, payload):
        """Create or replace the policy for (tier, priority); unset targets mean "no target"."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(PutPolicy, payload)
        try:
            Policy(Targets(cmd.first_response_minutes, cmd.next_response_minutes, cmd.resolution_minutes),
                   tier=cmd.tier, priority=cmd.priority)
        except ValueError as exc:
            raise InvalidInput(str(exc), [{"field": "body", "message": str(exc)}]) from None
        now = datetime.now(timezone.utc)
        targets = {"first_response_minutes": cmd.first_response_minutes,
                   "next_response_minutes": cmd.next_response_minutes,
                   "resolution_minutes": cmd.resolution_minutes}
        with self.db.transaction() as session:
            sla_store.load_policies(session, tenant_id)  # seed first, so this edits a full set
            current = session.execute(select(sla_policies).where(
                sla_policies.c.tenant_id == tenant_id, sla_policies.c.tier.is_not_distinct_from(cmd.tier),
                sla_policies.c.priority.is_not_distinct_from(cmd.priority)).with_for_update()).mappings().first()
            if current is not None and all(current[k] == v for k, v in targets.items()):
                return {**_policy_doc(current), "recompute": None}  # the same targets: nothing to bump or recompute
            row = session.execute(
                insert(sla_policies).values(id=uuid.uuid4(), tenant_id=tenant_id, tier=cmd.tier,
                                            priority=cmd.priority, **targets)
                .on_conflict_do_update(index_elements=[sla_policies.c.tenant_id, sla_policies.c.tier,
                                                       sla_policies.c.priority],
                                       set_={**targets, "version": sla_policies.c.version + 1, "updated_at": now})
                .returning(sla_policies)).mappings().one()
            changes, previous = _changed(dict(current) if current is not None else {}, targets)
            outbox.add(session, tenant_id, SlaPolicySaved(
                sla_policy_id=row["id"], tier=row["tier"], priority=row["priority"], version=row["version"],
                created=current is None, changes=changes, previous=previous, saved_at=now))
            job = sla_recompute.enqueue(session, tenant_id, "policy")
            return {**_policy_doc(row), "recompute": job}

    @rpc(expected_exceptions=EXPECTED)
    def delete_sla_policy(self, tenant_id, policy_id):
        tenant_id, policy_id = parse_id(tenant_id, "tenant"), parse_id(policy_id, "policy")
        with self.db.transaction() as session:
            row = session.execute(select(sla_policies).where(sla_policies.c.tenant_id == tenant_id,
                                                             sla_policies.c.id == policy_id)).mappings().first()
            if row is None:
                raise NotFound(f"SLA policy {policy_id} not found")
            if row["tier"] is None and row["priority"] is None:
                raise Conflict("the tenant default policy cannot be deleted (edit it instead)")
            session.execute(delete(sla_policies).where(sla_policies.c.id == policy_id))
            outbox.add(session, tenant_id, SlaPolicyDeleted(
                sla_policy_id=policy_id, tier=row["tier"], priority=row["priority"],
                first_response_minutes=row["first_response_minutes"],
                next_response_minutes=row["next_response_minutes"], resolution_minutes=row["resolution_minutes"],
                deleted_at=datetime.now(timezone.utc)))
            job = sla_recompute.enqueue(session, tenant_id, "policy")
        return {"deleted": str(policy_id), "recompute": job}

    # --- calendar ---

    @rpc(expected_exceptions=EXPECTED)
    def get_business_calendar(self, tenant_id):
        with self.db.read() as session:
            return sla_store.calendar_fields(sla_store.load_calendar(session, parse_id(tenant_id, "tenant")))

    @rpc(expected_exceptions=EXPECTED)
    def put_business_calendar(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(PutCalendar, payload)
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            sla_store.lock_calendar(session, tenant_id)
            current = sla_store.load_calendar(session, tenant_id)
            # no zone named: the tenant's (the default calendar's); dates already stored stay
            # acceptable when they have aged out of the holiday window
            zone = cmd.timezone or sla_store.default_calendar(session, tenant_id).timezone
            calendar = _valid_calendar(zone, cmd.weekly_slots, cmd.holidays, cmd.always_open,
                                       existing=current.holidays)
            job = None
            if sla_store.save_calendar(session, tenant_id, calendar, now):
                _calendar_changed(session, tenant_id, sla_store.calendar_fields(current), now, "edit")
                job = sla_recompute.enqueue(session, tenant_id, "calendar")
            return {**sla_store.calendar_fields(sla_store.load_calendar(session, tenant_id)), "recompute": job}

    @rpc(expected_exceptions=EXPECTED)
    def import_holidays_ics(self, tenant_id, ics_text):
        """Adds the dates of an iCalendar file to the calendar's holidays (`imported`: the file's
        dates within the window, `added`: those that were new, `ignored`: one-off dates outside it)."""
        tenant_id = parse_id(tenant_id, "tenant")
        now = datetime.now(timezone.utc)
        try:
            found = parse_ics_holidays(ics_text, now.date())
        except HolidaySourceError as exc:
            raise InvalidInput(f"not a usable iCalendar file: {exc}",
                               [{"field": exc.field, "message": str(exc)}]) from None
        fields, added = self._add_holidays(tenant_id, found.dates, now, "ics", "ics")
        return {**fields, "imported": len(found.dates), "added": added, "ignored": found.ignored}

    @rpc(expected_exceptions=EXPECTED)
    def load_public_holidays(self, tenant_id, payload):
        """Adds a country's or region's public holidays (`holidays` package) for some years, e.g.
        `{"region": "DE-BY", "years": [2026, 2027]}`; answers the calendar and the holidays found."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(LoadPublicHolidays, payload)
        now = datetime.now(timezone.utc)
        try:
            found = public_holidays(cmd.region, cmd.years, now.date())
        except HolidaySourceError as exc:
            raise InvalidInput(str(exc), [{"field": exc.field, "message": str(exc)}]) from None
        region = cmd.region.strip().upper()
        fields, added = self._add_holidays(tenant_id, set(found), now, "region", "public_holidays", region)
        return {**fields, "region": region, "added": added,
                "public_holidays": [{"date": day.isoformat(), "name": name} for day, name in found.items()]}

    def _add_holidays(self, tenant_id, days, now: datetime, field: str, source: CalendarChangeSource,
                      region: str | None = None) -> tuple[dict, int]:
        """Merge `days` into the stored calendar's holidays under the calendar lock (so concurrent
        imports both count); nothing new is a no-op (no event either). The fields carry `recompute`."""
        with self.db.transaction() as session:
            sla_store.lock_calendar(session, tenant_id)
            current = sla_store.load_calendar(session, tenant_id)
            if current.always_open:
                raise Conflict("a 24/7 calendar has no holidays; set working slots first")
            new = set(days) - current.holidays
            job = None
            if new:
                fields = sla_store.calendar_fields(current)
                calendar = _valid_calendar(fields["timezone"], fields["weekly_slots"],
                                           sorted(d.isoformat() for d in current.holidays | new), False,
                                           field=field, existing=current.holidays)
                sla_store.save_calendar(session, tenant_id, calendar, now)
                _calendar_changed(session, tenant_id, fields, now, source, region)
                job = sla_recompute.enqueue(session, tenant_id, "holidays")
                current = sla_store.load_calendar(session, tenant_id)
            return {**sla_store.calendar_fields(current), "recompute": job}, len(new)

    # --- settings ---

    @rpc(expected_exceptions=EXPECTED)
    def get_sla_settings(self, tenant_id):
        with self.db.read() as session:
            return _settings_answer(session, parse_id(tenant_id, "tenant"))

    @rpc(expected_exceptions=EXPECTED)
    def put_sla_settings(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(PutSettings, payload)
        if cmd.escalation is not None:
            parse(Escalation, cmd.escalation)
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            current = sla_store.load_settings(session, tenant_id)
            values = {
                "pause_statuses": sorted(cmd.pause_statuses if cmd.pause_statuses is not None
                                         else current.pause_rules.statuses),
                "warning_fraction": cmd.warning_fraction if cmd.warning_fraction is not None
                else current.warning_fraction,
                "escalation": parse(Escalation, cmd.escalation).model_dump(mode="json", exclude_defaults=True)
                if cmd.escalation is not None else current.escalation,
            }
            PauseRules(frozenset(values["pause_statuses"]))
            if set(DONE_STATUSES) & set(values["pause_statuses"]):
                raise InvalidInput("done statuses stop the clocks anyway", [
                    {"field": "pause_statuses", "message": "resolved/closed cannot be pause statuses"}])
            before = _settings_doc(current)
            if values == before:
                return {**_settings_answer(session, tenant_id), "recompute": None}  # nothing changes
            session.execute(insert(sla_settings).values(tenant_id=tenant_id, **values)
                            .on_conflict_do_update(index_elements=[sla_settings.c.tenant_id],
                                                   set_={**values, "updated_at": now,
                                                         "version": sla_settings.c.version + 1}))
            # new pause statuses apply from now on; the intervals already recorded stay as they were
            changes, previous = _changed(before, values)
            answer = _settings_answer(session, tenant_id)
            outbox.add(session, tenant_id, SlaSettingsChanged(version=answer["version"], changes=changes,
                                                              previous=previous, changed_at=now))
            job = sla_recompute.enqueue(session, tenant_id, "settings")
            return {**answer, "recompute": job}

    # --- per ticket ---

    @rpc(expected_exceptions=EXPECTED)
    def get_ticket_sla(self, tenant_id, ticket_id):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        with self.db.read() as session:
            ticket = session.execute(select(tickets.c.id, tickets.c.tenant_id, tickets.c.customer_id).where(
                tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)).mappings().first()
            if ticket is None:
                raise NotFound(f"ticket {ticket_id} not found")
            timers = session.execute(select(ticket_sla_timers).where(
                ticket_sla_timers.c.tenant_id == tenant_id, ticket_sla_timers.c.ticket_id == ticket_id)
                .order_by(ticket_sla_timers.c.timer)).mappings().all()
            pauses = session.execute(select(ticket_sla_pauses).where(
                ticket_sla_pauses.c.tenant_id == tenant_id, ticket_sla_pauses.c.ticket_id == ticket_id)
                .order_by(ticket_sla_pauses.c.started_at, ticket_sla_pauses.c.id)).mappings().all()
            # a job that has still to reach this ticket: its unmet timers show the previous computation
            pending = (sla_recompute.pending_for(session, ticket)
                       if any(t["met_at"] is None for t in timers) else None)
        return {
            "ticket_id": str(ticket_id),
            "timers": [{
                "timer": t["timer"], "started_at": _iso(t["started_at"]), "target_minutes": t["target_minutes"],
                "deadline": _iso(t["deadline"]), "warn_at": _iso(t["warn_at"]), "met_at": _iso(t["met_at"]),
                "warned_at": _iso(t["warned_at"]), "breached": _breached(t),
                "breached_at": _iso(t["breached_at"]), "breach_minutes": t["breach_minutes"],
                "policy_id": str(t["policy_id"]) if t["policy_id"] else None,
                "policy_version": t["policy_version"], "calendar_version": t["calendar_version"],
            } for t in timers],
            "pauses": [{"status": p["status"], "started_at": _iso(p["started_at"]), "ended_at": _iso(p["ended_at"])}
                       for p in pauses],
            "recompute_pending": pending is not None,
            "recompute_job_id": pending["id"] if pending is not None else None,
        }

    # --- recompute jobs ---

    @rpc(expected_exceptions=EXPECTED)
    def get_sla_recompute_job(self, tenant_id, job_id):
        tenant_id, job_id = parse_id(tenant_id, "tenant"), parse_id(job_id, "recompute job")
        with self.db.read() as session:
            return sla_recompute.get(session, tenant_id, job_id)

    @rpc(expected_exceptions=EXPECTED)
    def list_sla_recompute_jobs(self, tenant_id, status=None, limit=50, cursor=None):
        """Newest first, keyset-paged; `status` one of queued, running, done, failed, superseded."""
        tenant_id = parse_id(tenant_id, "tenant")
        if status is not None and status not in sla_recompute.STATUSES:
            raise InvalidInput("unknown status", [
                {"field": "status", "message": f"must be one of {', '.join(sla_recompute.STATUSES)}"}])
        limit = pagination.clamp(limit)
        with self.db.read() as session:
            return sla_recompute.list_page(session, tenant_id, limit, cursor, status)


def _breached(timer) -> bool:
    if timer["breached_at"] is not None:
        return True
    return timer["met_at"] is not None and timer["deadline"] is not None and timer["met_at"] > timer["deadline"]


def _valid_calendar(tz: str, weekly_slots: dict, holidays: list, always_open: bool, field: str | None = None,
                    existing: frozenset = frozenset()) -> Calendar:
    """A Calendar within the input bounds, or InvalidInput naming the field that is wrong (``field``
    instead for holidays that came from an import). The ``existing`` holidays (already stored) are
    not held to the window."""
    try:
        calendar = sla_store.calendar_from_fields(tz, weekly_slots, holidays, always_open)
        check_bounds(calendar, datetime.now(timezone.utc).date(), existing=existing)
    except ValueError as exc:
        message = str(exc)
        name = ("timezone" if "timezone" in message else "holidays" if "holiday" in message
                else "always_open" if "always-open" in message else "weekly_slots")
        if name == "holidays" and field is not None:
            name = field
        raise InvalidInput(f"invalid business calendar: {message}", [{"field": name, "message": message}]) from None
    return calendar
