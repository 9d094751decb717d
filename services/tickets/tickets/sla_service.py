"""SLA entrypoints of the tickets service (a mixin `TicketsService` inherits) and the deadline clock
as a nameko dependency.

Each configuration change bumps its version and recomputes the unmet timers of the tenant's open
tickets in the same transaction.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Literal

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from custops.errors import EXPECTED, Conflict, InvalidInput, NotFound
from custops.validation import parse, parse_id
from tickets import sla_store
from tickets.business_hours import parse_ics_holidays
from tickets.models import business_calendars, sla_policies, sla_settings, ticket_sla_pauses, ticket_sla_timers, tickets
from tickets.sla import PRIORITIES, TIERS, PauseRules, Policy, Targets
from tickets.statuses import STATUSES

Minutes = Field(default=None, gt=0, le=525_600)  # at most a year of business minutes


class PutPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: Literal[TIERS] | None = None  # type: ignore[valid-type]
    priority: Literal[PRIORITIES] | None = None  # type: ignore[valid-type]
    first_response_minutes: int | None = Minutes
    next_response_minutes: int | None = Minutes
    resolution_minutes: int | None = Minutes


class PutCalendar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    weekly_slots: dict[str, list[list[str]]] = {}
    holidays: list[str] = Field(default=[], max_length=2000)
    always_open: bool = False


class PutSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pause_statuses: list[Literal[STATUSES]] | None = None  # type: ignore[valid-type]
    warning_fraction: float | None = Field(default=None, gt=0, le=1)
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


class SlaEntrypoints:
    """Policies, calendar, settings and per-ticket SLA state. Needs `self.db`."""

    sla_clock = SlaClockProvider()

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
            row = session.execute(
                insert(sla_policies).values(id=uuid.uuid4(), tenant_id=tenant_id, tier=cmd.tier,
                                            priority=cmd.priority, **targets)
                .on_conflict_do_update(index_elements=[sla_policies.c.tenant_id, sla_policies.c.tier,
                                                       sla_policies.c.priority],
                                       set_={**targets, "version": sla_policies.c.version + 1, "updated_at": now})
                .returning(sla_policies)).mappings().one()
            sla_store.recompute_tenant(session, tenant_id, now)
            return _policy_doc(row)

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
            sla_store.recompute_tenant(session, tenant_id, datetime.now(timezone.utc))
        return {"deleted": str(policy_id)}

    # --- calendar ---

    @rpc(expected_exceptions=EXPECTED)
    def get_business_calendar(self, tenant_id):
        with self.db.read() as session:
            return sla_store.calendar_fields(sla_store.load_calendar(session, parse_id(tenant_id, "tenant")))

    @rpc(expected_exceptions=EXPECTED)
    def put_business_calendar(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(PutCalendar, payload)
        calendar = _valid_calendar(cmd.timezone, cmd.weekly_slots, cmd.holidays, cmd.always_open)
        return self._store_calendar(tenant_id, calendar)

    @rpc(expected_exceptions=EXPECTED)
    def import_holidays_ics(self, tenant_id, ics_text):
        """Adds the dates of an iCalendar file to the calendar's holidays."""
        tenant_id = parse_id(tenant_id, "tenant")
        if not isinstance(ics_text, str) or len(ics_text) > 2_000_000:
            raise InvalidInput("an iCalendar text is required", [{"field": "ics", "message": "must be text"}])
        try:
            days = parse_ics_holidays(ics_text)
        except ValueError as exc:
            raise InvalidInput(f"not a usable iCalendar file: {exc}", [{"field": "ics", "message": str(exc)}]) from None
        with self.db.read() as session:
            current = sla_store.calendar_fields(sla_store.load_calendar(session, tenant_id))
        if current["always_open"]:
            raise Conflict("a 24/7 calendar has no holidays; set working slots first")
        holidays = sorted(set(current["holidays"]) | {d.isoformat() for d in days})
        calendar = _valid_calendar(current["timezone"], current["weekly_slots"], holidays, False)
        return {**self._store_calendar(tenant_id, calendar), "imported": len(days)}

    def _store_calendar(self, tenant_id, calendar) -> dict:
        fields = sla_store.calendar_fields(calendar)
        del fields["version"]
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            # the implicit default calendar is version 1, so the first stored one is version 2
            session.execute(insert(business_calendars).values(tenant_id=tenant_id, version=2, **fields)
                            .on_conflict_do_update(index_elements=[business_calendars.c.tenant_id],
                                                   set_={**fields, "updated_at": now,
                                                         "version": business_calendars.c.version + 1}))
            sla_store.recompute_tenant(session, tenant_id, now)
            return sla_store.calendar_fields(sla_store.load_calendar(session, tenant_id))

    # --- settings ---

    @rpc(expected_exceptions=EXPECTED)
    def get_sla_settings(self, tenant_id):
        with self.db.read() as session:
            return _settings_doc(sla_store.load_settings(session, parse_id(tenant_id, "tenant")))

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
            if {"resolved", "closed"} & set(values["pause_statuses"]):
                raise InvalidInput("done statuses stop the clocks anyway", [
                    {"field": "pause_statuses", "message": "resolved/closed cannot be pause statuses"}])
            session.execute(insert(sla_settings).values(tenant_id=tenant_id, **values)
                            .on_conflict_do_update(index_elements=[sla_settings.c.tenant_id],
                                                   set_={**values, "updated_at": now}))
            # new pause statuses apply from now on; the intervals already recorded stay as they were
            sla_store.recompute_tenant(session, tenant_id, now)
            return _settings_doc(sla_store.load_settings(session, tenant_id))

    # --- per ticket ---

    @rpc(expected_exceptions=EXPECTED)
    def get_ticket_sla(self, tenant_id, ticket_id):
        tenant_id, ticket_id = parse_id(tenant_id, "tenant"), parse_id(ticket_id, "ticket")
        with self.db.read() as session:
            exists = session.execute(select(func.count()).select_from(tickets).where(
                tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)).scalar()
            if not exists:
                raise NotFound(f"ticket {ticket_id} not found")
            timers = session.execute(select(ticket_sla_timers).where(
                ticket_sla_timers.c.tenant_id == tenant_id, ticket_sla_timers.c.ticket_id == ticket_id)
                .order_by(ticket_sla_timers.c.timer)).mappings().all()
            pauses = session.execute(select(ticket_sla_pauses).where(
                ticket_sla_pauses.c.tenant_id == tenant_id, ticket_sla_pauses.c.ticket_id == ticket_id)
                .order_by(ticket_sla_pauses.c.started_at, ticket_sla_pauses.c.id)).mappings().all()
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
        }


def _breached(timer) -> bool:
    if timer["breached_at"] is not None:
        return True
    return timer["met_at"] is not None and timer["deadline"] is not None and timer["met_at"] > timer["deadline"]


def _valid_calendar(tz: str, weekly_slots: dict, holidays: list, always_open: bool):
    """A Calendar, or InvalidInput naming the field that is wrong."""
    try:
        return sla_store.calendar_from_fields(tz, weekly_slots, holidays, always_open)
    except ValueError as exc:
        message = str(exc)
        field = ("timezone" if "timezone" in message else "holidays" if "holiday" in message
                 else "always_open" if "always-open" in message else "weekly_slots")
        raise InvalidInput(f"invalid business calendar: {message}", [{"field": field, "message": message}]) from None
