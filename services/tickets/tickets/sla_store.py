"""Reading a tenant's SLA configuration and writing per-ticket SLA state (inside the caller's transaction).

The arithmetic is `tickets.sla` / `tickets.business_hours`; this module only turns rows into those
pure objects and `compute_timer` results back into rows. Defaults when a tenant has configured
nothing:
- policies: `tickets.sla.starter_policies()`, seeded into the tenant's rows on first use (idempotent:
  `INSERT ... ON CONFLICT DO NOTHING` on the (tenant, tier, priority) unique index), so they can be
  edited like any other;
- calendar: Monday to Friday 09:00-17:00 in the tenant's timezone (the customers service tells it by
  event, `tickets.directory_events`; UTC until it has), not stored until the tenant sets one. Its
  version is 1, and moves on each time the tenant's timezone changes;
- settings: `waiting_on_customer` pauses the clock, warning at 80 % of the target, no escalation.
A timer change that makes something due sends `NOTIFY custops_sla` (delivered on commit) carrying
the earliest instant it made due, so the deadline clock wakes earlier only when that is before its
next wake-up (an empty payload: look again). A configuration write that changes nothing writes
nothing: no version bump, no recompute.

The configuration is read on every ticket command; `load_tenant` keeps it per process and checks it
with one statement (`config_fingerprint`: the content of the policy and settings rows, the calendar's
and the default calendar's versions), so a change committed by any process is seen by the next
command, and a change rolled back leaves nothing behind that could be mistaken for the stored one.
"""
from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from functools import lru_cache

from sqlalchemy import Text, and_, bindparam, cast, delete, func, literal, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import UUID, aggregate_order_by, insert
from sqlalchemy.orm import Session

from custops import outbox
from custops.contracts.tickets import OPEN_STATUSES, PRIORITIES, TicketSlaMet
from tickets.business_hours import Calendar
from tickets.models import (business_calendars, directory_tenants, sla_policies, sla_settings, ticket_sla_pauses,
                            ticket_sla_timers, tickets)
from tickets.sla import (DEFAULT_WARNING_FRACTION, MIN_WARNING_FRACTION, PauseInterval, PauseRules, Policy,
                         Targets, compute_timer, select_policy)

NOTIFY_CHANNEL = "custops_sla"
DEFAULT_SLOTS = ("09:00-17:00",)  # Monday to Friday
DEFAULT_PAUSE_STATUSES = ("waiting_on_customer",)
ESCALATION_PRIORITY = PRIORITIES  # ascending: a breach raises the priority one step


@dataclass(frozen=True)
class StoredPolicy:
    id: uuid.UUID
    policy: Policy


@dataclass(frozen=True)
class Settings:
    pause_rules: PauseRules
    warning_fraction: float
    escalation: dict


@dataclass(frozen=True)
class TenantSla:
    """Everything needed to compute a tenant's timers."""

    policies: list[StoredPolicy]
    calendar: Calendar
    settings: Settings

    def policy_for(self, tier: str | None, priority: str | None) -> StoredPolicy:
        chosen = select_policy([p.policy for p in self.policies], tier, priority)
        return next(p for p in self.policies if p.policy is chosen)


# --- configuration -------------------------------------------------------------------------------

def load_policies(session: Session, tenant_id) -> list[StoredPolicy]:
    rows = _policy_rows(session, tenant_id)
    if not rows:
        seed_starter_policies(session, tenant_id)
        rows = _policy_rows(session, tenant_id)
    return [policy_from_row(r) for r in rows]


def seed_starter_policies(session: Session, tenant_id) -> None:
    from tickets.sla import starter_policies

    values = [{"id": uuid.uuid4(), "tenant_id": tenant_id, "tier": p.tier, "priority": p.priority,
               "first_response_minutes": p.targets.first_response,
               "next_response_minutes": p.targets.next_response,
               "resolution_minutes": p.targets.resolution} for p in starter_policies()]
    session.execute(insert(sla_policies).values(values).on_conflict_do_nothing())


def _policy_rows(session, tenant_id):
    return session.execute(select(sla_policies).where(sla_policies.c.tenant_id == tenant_id)
                           .order_by(sla_policies.c.tier.nulls_last(), sla_policies.c.priority.nulls_last())
                           ).mappings().all()


def policy_from_row(row) -> StoredPolicy:
    return StoredPolicy(row["id"], Policy(
        Targets(first_response=row["first_response_minutes"], next_response=row["next_response_minutes"],
                resolution=row["resolution_minutes"]),
        tier=row["tier"], priority=row["priority"], version=row["version"]))


def load_calendar(session: Session, tenant_id) -> Calendar:
    row = stored_calendar_row(session, tenant_id)
    if row is None:
        return default_calendar(session, tenant_id)
    # every change bumps the version and updated_at: a row seen before is the same calendar (building
    # one with 2,000 holidays takes a millisecond, and the same object keeps its memoised arithmetic)
    key = (tenant_id, row["version"], row["updated_at"])
    calendar = _CALENDARS.get(key)
    if calendar is None:
        calendar = calendar_from_fields(row["timezone"], row["weekly_slots"], row["holidays"], row["always_open"],
                                        row["version"])
        _CALENDARS[key] = calendar
        if len(_CALENDARS) > 1024:
            _CALENDARS.popitem(last=False)
    else:
        _CALENDARS.move_to_end(key)
    return calendar


_CALENDARS: OrderedDict = OrderedDict()


def stored_calendar_row(session: Session, tenant_id):
    return session.execute(select(business_calendars).where(business_calendars.c.tenant_id == tenant_id)
                           ).mappings().first()


def default_calendar(session: Session, tenant_id) -> Calendar:
    """Monday to Friday 09:00-17:00 in the tenant's timezone (UTC, version 1, until told)."""
    row = session.execute(select(directory_tenants.c.timezone, directory_tenants.c.calendar_version)
                          .where(directory_tenants.c.tenant_id == tenant_id)).first()
    return _default_calendar(row.timezone, row.calendar_version) if row else _default_calendar("UTC", 1)


@lru_cache(maxsize=1024)
def _default_calendar(timezone: str, version: int) -> Calendar:
    try:
        return Calendar.workweek(timezone, DEFAULT_SLOTS, version=version)
    except ValueError:  # a zone this tzdata does not know (the event was checked against another)
        return Calendar.workweek("UTC", DEFAULT_SLOTS, version=version)


def lock_calendar(session: Session, tenant_id) -> None:
    """Serialise the changes of one tenant's calendar (imports merge into what is stored, and the
    tenant's timezone moves the default calendar) until this transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"custops.tickets.calendar:{tenant_id}"})


def save_calendar(session: Session, tenant_id, calendar: Calendar, now: datetime) -> bool:
    """Store ``calendar`` as the tenant's (under ``lock_calendar``); False, and nothing written, when
    the stored one is the same. The first one stored follows the default calendar's version."""
    fields = calendar_fields(calendar)
    del fields["version"]
    row = stored_calendar_row(session, tenant_id)
    if row is not None:
        current = calendar_fields(calendar_from_fields(row["timezone"], row["weekly_slots"], row["holidays"],
                                                       row["always_open"]))
        del current["version"]
        if current == fields:
            return False
    first_version = default_calendar(session, tenant_id).version + 1
    session.execute(insert(business_calendars).values(tenant_id=tenant_id, version=first_version, **fields)
                    .on_conflict_do_update(index_elements=[business_calendars.c.tenant_id],
                                           set_={**fields, "updated_at": now,
                                                 "version": business_calendars.c.version + 1}))
    return True


def calendar_from_fields(timezone: str, weekly_slots: dict, holidays: list, always_open: bool,
                         version: int = 1) -> Calendar:
    """A Calendar from the stored/RPC shape; ValueError (from Calendar) when it is not a valid one."""
    from datetime import date

    weekly = {int(day) if str(day).isdigit() else day: [tuple(s) if isinstance(s, list) else s for s in slots]
              for day, slots in (weekly_slots or {}).items()}
    try:
        days = frozenset(date.fromisoformat(d) for d in holidays or ())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"holidays must be ISO dates: {exc}") from None
    return Calendar(timezone=timezone, weekly=weekly, holidays=days, always_open=always_open, version=version)


def calendar_fields(calendar: Calendar) -> dict:
    """The stored/RPC shape of a calendar: weekly slots keyed "0" (Monday) .. "6" as ["HH:MM", "HH:MM"]."""
    def hhmm(t, end=False):
        return "24:00" if end and t.hour == t.minute == t.second == 0 else t.isoformat("minutes")

    return {
        "timezone": calendar.timezone,
        "weekly_slots": {str(day): [[hhmm(s.start), hhmm(s.end, end=True)] for s in slots]
                         for day, slots in enumerate(calendar.weekly) if slots},
        "holidays": sorted(d.isoformat() for d in calendar.holidays),
        "always_open": calendar.always_open,
        "version": calendar.version,
    }


def load_settings(session: Session, tenant_id) -> Settings:
    row = session.execute(select(sla_settings).where(sla_settings.c.tenant_id == tenant_id)).mappings().first()
    if row is None:
        return Settings(PauseRules(frozenset(DEFAULT_PAUSE_STATUSES)), DEFAULT_WARNING_FRACTION, {})
    # a lead stored before MIN_WARNING_FRACTION was the bound counts as the smallest one allowed
    return Settings(PauseRules(frozenset(row["pause_statuses"])), max(row["warning_fraction"], MIN_WARNING_FRACTION),
                    dict(row["escalation"]))


def config_fingerprint(tenant_id) -> list:
    """Columns (for a SELECT of the caller's) that change whenever the tenant's SLA configuration
    does: a digest of its policy rows and of its settings row (the whole rows: no writer has to
    remember a version bump), the stored calendar's version and update time (every save moves both),
    the tenant's timezone and default calendar version. The same values mean the same configuration."""
    def digest(table, where, order_by=None):
        row_text = cast(literal_column(table.name), Text)  # the whole row as text
        if order_by is not None:
            row_text = func.string_agg(row_text, aggregate_order_by(literal(","), order_by))
        return select(func.md5(row_text)).select_from(table).where(where).scalar_subquery()

    calendars, tenants = business_calendars.c, directory_tenants.c
    return [
        digest(sla_policies, sla_policies.c.tenant_id == tenant_id, order_by=sla_policies.c.id).label("policies"),
        digest(sla_settings, sla_settings.c.tenant_id == tenant_id).label("settings"),
        select(func.concat(calendars.version, "@", calendars.updated_at)).where(calendars.tenant_id == tenant_id)
        .scalar_subquery().label("calendar"),
        select(func.concat(tenants.timezone, "@", tenants.calendar_version)).where(tenants.tenant_id == tenant_id)
        .scalar_subquery().label("default_calendar"),
    ]


def load_tenant(session: Session, tenant_id, fingerprint: tuple | None = None) -> TenantSla:
    """The tenant's configuration: from this process's cache when `fingerprint` (read now with
    `config_fingerprint`, or passed in by a caller that read it in a statement of its own) is the
    one it was cached under, else read from its rows."""
    if fingerprint is None:
        fingerprint = tuple(session.execute(_FINGERPRINT, {"tenant_id": tenant_id}).one())
    cached = _TENANTS.get(tenant_id)
    if cached is not None and cached[0] == fingerprint:
        _TENANTS.move_to_end(tenant_id)
        return cached[1]
    # read after the fingerprint, so what is cached is never older than the fingerprint it is kept under
    sla = TenantSla(load_policies(session, tenant_id), load_calendar(session, tenant_id),
                    load_settings(session, tenant_id))
    if fingerprint[0] is not None:  # (none: the starter policies were seeded just now; the next look caches)
        _TENANTS[tenant_id] = (fingerprint, sla)
        if len(_TENANTS) > 1024:
            _TENANTS.popitem(last=False)
    return sla


_TENANTS: OrderedDict = OrderedDict()  # tenant id -> (fingerprint, TenantSla)
_FINGERPRINT = select(*config_fingerprint(bindparam("tenant_id", type_=UUID(as_uuid=True))))


# --- timers --------------------------------------------------------------------------------------

def wake(due: datetime | None):
    """A `pg_notify` for the deadline clock(s), delivered on commit: `due` is the earliest instant
    the change made due (None: no instant known, the clock looks again)."""
    return func.pg_notify(NOTIFY_CHANNEL, due.isoformat() if due is not None else "")


def notify(session: Session, due: datetime | None = None) -> None:
    """Wake the deadline clock(s) once this transaction commits (see `wake`)."""
    session.execute(select(wake(due)))


def earliest_due(rows) -> datetime | None:
    """The first instant at which any of these timer rows falls due (its warning, else its deadline)."""
    return min((r[k] for r in rows for k in ("warn_at", "deadline") if r.get(k) is not None), default=None)


def new_ticket_timers(ticket: dict, sla: TenantSla, at: datetime) -> tuple[list[dict], list[dict]]:
    """The timer rows and the pause row (when the ticket is created straight into a pausing status)
    of a ticket created at `at`: first response and resolution with the policy its tier and priority
    select, a timer without a target left out. Nothing is read: a new ticket has no timers or pauses."""
    pause_rows, pauses = [], []
    if ticket["status"] in sla.settings.pause_rules.statuses:
        pause_rows.append({"tenant_id": ticket["tenant_id"], "ticket_id": ticket["id"], "status": ticket["status"],
                           "started_at": at})
        pauses.append(PauseInterval(at, None, ticket["status"]))
    stored = sla.policy_for(ticket["customer_tier"], ticket["priority"])
    timer_rows = []
    for timer in ("first_response", "resolution"):
        target = stored.policy.targets.for_timer(timer)
        if target is not None:
            values = timer_values(sla, stored, target, at, pauses, at)
            timer_rows.append({"ticket_id": ticket["id"], "timer": timer, "tenant_id": ticket["tenant_id"], **values,
                               "warned_at": None, "breached_at": None, "breach_minutes": None})
    return timer_rows, pause_rows


def timer_rows(session: Session, ticket_id, for_update: bool = False) -> dict[str, dict]:
    stmt = select(ticket_sla_timers).where(ticket_sla_timers.c.ticket_id == ticket_id)
    if for_update:
        stmt = stmt.with_for_update()
    return {r["timer"]: dict(r) for r in session.execute(stmt).mappings().all()}


def pauses_of(session: Session, ticket_id) -> list[PauseInterval]:
    rows = session.execute(select(ticket_sla_pauses).where(ticket_sla_pauses.c.ticket_id == ticket_id)
                           .order_by(ticket_sla_pauses.c.started_at, ticket_sla_pauses.c.id)).mappings().all()
    return [PauseInterval(r["started_at"], r["ended_at"], r["status"]) for r in rows]


def timer_values(sla: TenantSla, stored: StoredPolicy, target: int, started_at: datetime,
                 pauses: list[PauseInterval], now: datetime, met_at: datetime | None = None) -> dict:
    """The row values `compute_timer` gives for one timer."""
    state = compute_timer(sla.calendar, started_at, target, pauses, now=now, met_at=met_at,
                          warning_fraction=sla.settings.warning_fraction)
    values = {"started_at": started_at, "target_minutes": target, "deadline": state.deadline,
              "warn_at": state.warning_at, "met_at": met_at, "policy_id": stored.id,
              "policy_version": stored.policy.version, "calendar_version": state.calendar_version,
              "updated_at": now}
    if met_at is not None:
        values["breach_minutes"] = round(state.breach_minutes) if state.breached else None
    return values


def start_timer(session: Session, ticket: dict, timer: str, sla: TenantSla, at: datetime) -> bool:
    """(Re)start a timer from `at` with the ticket's policy; False when the policy sets no target."""
    stored = sla.policy_for(ticket["customer_tier"], ticket["priority"])
    target = stored.policy.targets.for_timer(timer)
    if target is None:
        session.execute(delete(ticket_sla_timers).where(ticket_sla_timers.c.ticket_id == ticket["id"],
                                                        ticket_sla_timers.c.timer == timer))
        return False
    values = timer_values(sla, stored, target, at, pauses_of(session, ticket["id"]), at)
    values.update(met_at=None, warned_at=None, breached_at=None, breach_minutes=None)
    session.execute(insert(ticket_sla_timers)
                    .values(ticket_id=ticket["id"], timer=timer, tenant_id=ticket["tenant_id"], **values)
                    .on_conflict_do_update(index_elements=[ticket_sla_timers.c.ticket_id,
                                                           ticket_sla_timers.c.timer], set_=values))
    if earliest_due([values]) is not None:
        notify(session, earliest_due([values]))
    return True


def meet_timer(session: Session, ticket: dict, row: dict, sla: TenantSla, at: datetime) -> None:
    """Stop a running timer at `at`, recording whether and by how many business minutes it was late,
    and tell it (`ticket.sla_met`, with the business minutes it ran: reports' medians need them)."""
    met_at = max(at, row["started_at"])
    state = compute_timer(sla.calendar, row["started_at"], row["target_minutes"], pauses_of(session, ticket["id"]),
                          now=at, met_at=met_at, warning_fraction=sla.settings.warning_fraction)
    # the policy the timer ran under stays recorded; only the outcome is written
    breach_minutes = round(state.breach_minutes) if state.breached else None
    values = {"met_at": met_at, "breach_minutes": breach_minutes, "updated_at": at}
    # no NOTIFY: a met timer makes nothing due (a clock waking for it finds nothing and looks again)
    session.execute(update(ticket_sla_timers).where(ticket_sla_timers.c.ticket_id == row["ticket_id"],
                                                    ticket_sla_timers.c.timer == row["timer"]).values(**values))
    outbox.add(session, ticket["tenant_id"], TicketSlaMet(
        ticket_id=ticket["id"], number=ticket["number"], customer_id=ticket["customer_id"], timer=row["timer"],
        started_at=row["started_at"], met_at=met_at, deadline=state.deadline, target_minutes=row["target_minutes"],
        business_minutes=round(state.elapsed_minutes, 2), breached=state.breached, breach_minutes=breach_minutes,
        priority=ticket["priority"], tier=ticket.get("customer_tier"), team_id=ticket.get("team_id"),
        assignee_id=ticket.get("assignee_id")))


def recompute_ticket(session: Session, ticket: dict, sla: TenantSla, at: datetime, reselect: bool = True) -> int:
    """Recompute the deadlines of a ticket's unmet timers (pauses, calendar, settings or policy changed).
    Events already emitted (warned_at / breached_at) stay: each is emitted once per timer."""
    rows = [r for r in timer_rows(session, ticket["id"], for_update=True).values() if r["met_at"] is None]
    if not rows:
        return 0
    pauses = pauses_of(session, ticket["id"])
    written = []
    for row in rows:
        stored = (sla.policy_for(ticket["customer_tier"], ticket["priority"]) if reselect
                  else _row_policy(sla, ticket, row))
        target = stored.policy.targets.for_timer(row["timer"])
        where = and_(ticket_sla_timers.c.ticket_id == row["ticket_id"], ticket_sla_timers.c.timer == row["timer"])
        if target is None:  # the policy now sets no target for this timer
            session.execute(delete(ticket_sla_timers).where(where))
            continue
        values = timer_values(sla, stored, target, row["started_at"], pauses, at)
        del values["met_at"]
        session.execute(update(ticket_sla_timers).where(where).values(**values))
        # a warning or breach already announced is not due again
        written.append({"warn_at": values["warn_at"] if row["warned_at"] is None else None,
                        "deadline": values["deadline"] if row["breached_at"] is None else None})
    if earliest_due(written) is not None:
        notify(session, earliest_due(written))
    return len(rows)


def _row_policy(sla: TenantSla, ticket: dict, row: dict) -> StoredPolicy:
    """The policy a timer ran under, if it still exists; else the ticket's current one."""
    for stored in sla.policies:
        if stored.id == row["policy_id"]:
            return stored
    return sla.policy_for(ticket["customer_tier"], ticket["priority"])


def recompute_tenant(session: Session, tenant_id, at: datetime) -> int:
    """After a policy, calendar or settings change: recompute every open ticket's unmet timers."""
    sla = load_tenant(session, tenant_id)
    open_tickets = session.execute(
        select(tickets).where(tickets.c.tenant_id == tenant_id, tickets.c.status.in_(OPEN_STATUSES),
                              tickets.c.id.in_(select(ticket_sla_timers.c.ticket_id).where(
                                  ticket_sla_timers.c.tenant_id == tenant_id,
                                  ticket_sla_timers.c.met_at.is_(None))))
        .order_by(tickets.c.id).with_for_update()).mappings().all()
    return sum(recompute_ticket(session, dict(t), sla, at) for t in open_tickets)


# --- pauses --------------------------------------------------------------------------------------

def open_pause(session: Session, ticket: dict, status: str, at: datetime) -> None:
    session.execute(ticket_sla_pauses.insert().values(tenant_id=ticket["tenant_id"], ticket_id=ticket["id"],
                                                      status=status, started_at=at))


def close_pauses(session: Session, ticket: dict, at: datetime) -> None:
    session.execute(update(ticket_sla_pauses).where(ticket_sla_pauses.c.ticket_id == ticket["id"],
                                                    ticket_sla_pauses.c.ended_at.is_(None)).values(ended_at=at))
