"""Reports service entrypoints: read models rolled up from events, and the queries over them.

Ticket volume counts tickets, one fact row each (`reports.facts` says which week a ticket counts
in); the weeks are the tenant's ISO weeks, in the timezone the customers service tells
(tenant.created / tenant.updated), applied when a report is asked for — a tenant that moves to
another zone sees its whole history in its new weeks.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from custops.rpc_entrypoint import rpc
from sqlalchemy import and_, func, literal, or_, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import insert

from custops import outbox
from custops.contracts.reports import StatusRulesChanged
from custops.db import Database
from custops.entrypoints import HealthEndpoints, PoisonMessage, Telemetry
from custops.errors import EXPECTED, InvalidInput
from custops.validation import parse, parse_id
from reports import periods, replay, sla_store, status_report, status_store, time_store, volume_store
from reports.commands import MAX_TIME_RANGE_DAYS, SlaQuery, StatusQuery, TimeQuery, VolumeQuery
from reports.facts import mark_of
from reports.benchmark_entrypoints import BenchmarkEntrypoints
from reports.health_signals import HealthSignalEntrypoints
from reports.ops_entrypoints import OpsReportEntrypoints
from reports.models import tenant_settings, ticket_facts
from reports.status_report import StatusRules
from reports.weeks import zone

DEFAULT_TIMEZONE = "UTC"
COUNTS = ("created", "resolved", "closed")


def _tenant_of(envelope):
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    return envelope.tenant_id


def _tenant_timezone(session, tenant_id) -> str:
    tz = session.execute(select(tenant_settings.c.timezone)
                         .where(tenant_settings.c.tenant_id == tenant_id)).scalar_one_or_none()
    return tz or DEFAULT_TIMEZONE


def _tenant_calendar(session, tenant_id) -> tuple[str, str, StatusRules]:
    """The tenant's timezone, first day of the week and status rules (defaults without a row)."""
    row = session.execute(select(tenant_settings.c.timezone, tenant_settings.c.week_start,
                                 tenant_settings.c.status_rules)
                          .where(tenant_settings.c.tenant_id == tenant_id)).one_or_none()
    if row is None:
        return DEFAULT_TIMEZONE, "monday", status_report.DEFAULT_RULES
    return row.timezone, row.week_start, StatusRules(**(row.status_rules or {}))


def _date_range(tz: str, week_start: str, date_from, date_to) -> tuple[date, date]:
    """The days asked for; a missing end is the tenant's current week's (at least date_from)."""
    today = datetime.now(timezone.utc).astimezone(zone(tz)).date()
    this_week = status_report.week_start_of(today, week_start)
    first = date_from or this_week
    last = date_to or max(first, this_week + timedelta(days=6))
    if last < first or (last - first).days > MAX_TIME_RANGE_DAYS:
        raise InvalidInput("the range is out of bounds", [
            {"field": "date_to", "message": f"from date_from on, at most {MAX_TIME_RANGE_DAYS} days after it"}])
    return first, last


def _save_settings(session, envelope, data) -> None:
    """Upsert the tenant's timezone unless a newer tenant event is already applied."""
    try:
        zone(data.timezone)
    except ValueError as exc:
        raise PoisonMessage(f"{envelope.type} {envelope.id}: {exc}") from exc
    table = tenant_settings
    stmt = insert(table).values(tenant_id=data.tenant_id, timezone=data.timezone, week_start=data.week_start,
                                settings_at=envelope.occurred_at, settings_seq=envelope.sequence or 0)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id],
        set_={"timezone": stmt.excluded.timezone, "week_start": stmt.excluded.week_start,
              "settings_at": stmt.excluded.settings_at,
              "settings_seq": stmt.excluded.settings_seq},
        where=or_(table.c.settings_at.is_(None),
                  tuple_(table.c.settings_at, table.c.settings_seq)
                  <= tuple_(stmt.excluded.settings_at, stmt.excluded.settings_seq))))


def _fact_upsert(mark: str):
    """Upsert a ticket's fact row: `created_at` as given; a move (`<mark>_at`, `<mark>_seq`) only when
    it is newer than the one kept (see reports.facts)."""
    table = ticket_facts
    stmt = insert(table)
    if mark == "created":
        return stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.ticket_id],
                                          set_={"created_at": stmt.excluded.created_at})
    at, seq = table.c[f"{mark}_at"], table.c[f"{mark}_seq"]
    given_at, given_seq = stmt.excluded[f"{mark}_at"], stmt.excluded[f"{mark}_seq"]
    return stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.ticket_id],
        set_={f"{mark}_at": given_at, f"{mark}_seq": given_seq},
        where=or_(at.is_(None), tuple_(at, seq) < tuple_(given_at, given_seq)))


# built once: a statement per event would cost more CPU than the upsert itself (issue 14)
_UPSERTS = {mark: _fact_upsert(mark) for mark in ("created", "resolved", "closed", "reopened")}


def _ticket_created(session, envelope, data) -> None:
    session.execute(_UPSERTS["created"], {"tenant_id": _tenant_of(envelope), "ticket_id": data.ticket_id,
                                          "customer_id": data.customer_id, "created_at": data.created_at})


def _status_changed(session, envelope, data) -> None:
    mark = mark_of(data.new_status)
    session.execute(_UPSERTS[mark], {"tenant_id": _tenant_of(envelope), "ticket_id": data.ticket_id,
                                     "customer_id": data.customer_id, f"{mark}_at": data.changed_at,
                                     f"{mark}_seq": envelope.sequence or 0})


def _counts(kind: str):
    """The condition under which a fact row counts as `kind` (reports.facts.counts_as, in SQL)."""
    table = ticket_facts
    if kind == "created":
        return table.c.created_at.is_not(None)
    done, reopened = (table.c[f"{kind}_at"], table.c[f"{kind}_seq"]), (table.c.reopened_at, table.c.reopened_seq)
    return and_(done[0].is_not(None), or_(reopened[0].is_(None), tuple_(*done) > tuple_(*reopened)))


def _weekly_counts(session, tenant_id, tz: str, since: date, customer_id=None, first_day: str = "monday") -> list[dict]:
    """Tickets created / resolved / closed per customer and tenant week (its timezone and first day
    of the week, `first_day`) since `since`."""
    table = ticket_facts
    # a day's margin on the indexed UTC bound; the exact bound is on the local week below
    lower = datetime(since.year, since.month, since.day, tzinfo=timezone.utc) - timedelta(days=1)
    parts = []
    for kind in COUNTS:
        instant = table.c[f"{kind}_at"]
        week = status_store._local_week(instant, tz, first_day)  # the tenant's weeks, not ISO Mondays
        stmt = select(table.c.customer_id, week.label("week_start"), literal(kind).label("kind"),
                      func.count().label("n")).where(table.c.tenant_id == tenant_id, instant >= lower, week >= since,
                                                     _counts(kind))
        if customer_id is not None:
            stmt = stmt.where(table.c.customer_id == customer_id)
        parts.append(stmt.group_by(table.c.customer_id, week))
    rows = session.execute(union_all(*parts)).all()
    weeks: dict[tuple, dict] = {}
    for customer, week_start, kind, n in rows:
        item = weeks.setdefault((week_start, str(customer)), {
            "customer_id": str(customer), "iso_year": week_start.isocalendar()[0],
            "iso_week": week_start.isocalendar()[1], "week_start": week_start.isoformat(),
            **{k: 0 for k in COUNTS}})
        item[kind] = n
    # newest week first; within a week, by customer id
    return [weeks[key] for key in sorted(weeks, key=lambda k: (-k[0].toordinal(), k[1]))]


class ReportsService(HealthSignalEntrypoints, BenchmarkEntrypoints, OpsReportEntrypoints, HealthEndpoints):
    name = "reports"

    db = Database()
    telemetry = Telemetry()

    @replay.projects("settings", "customers", "tenant.created")
    def on_tenant_created(self, session, envelope, data):
        _save_settings(session, envelope, data)

    @replay.projects("settings", "customers", "tenant.updated")
    def on_tenant_updated(self, session, envelope, data):
        _save_settings(session, envelope, data)

    @replay.projects("facts", "tickets", "ticket.created")
    def on_ticket_created(self, session, envelope, data):
        _ticket_created(session, envelope, data)
        sla_store.save_priority(session, _tenant_of(envelope), envelope, data.ticket_id, data.customer_id,
                                data.priority, data.created_at)
        volume_store.save_groups(session, _tenant_of(envelope), data.ticket_id, data.customer_id, data.created_at,
                                 category=data.category, source=data.source)

    # --- SLA attainment's read models (reports.sla_store)

    @replay.projects("facts", "tickets", "ticket.updated")
    def on_ticket_updated(self, session, envelope, data):
        if isinstance(data.changes.get("priority"), str):
            sla_store.save_priority(session, _tenant_of(envelope), envelope, data.ticket_id, data.customer_id,
                                    data.changes["priority"], data.updated_at)
        if isinstance(data.changes.get("category"), str):
            volume_store.save_groups(session, _tenant_of(envelope), data.ticket_id, data.customer_id, data.updated_at,
                                     category=data.changes["category"])

    @replay.projects("sla", "tickets", "ticket.sla_warning")
    def on_ticket_sla_warning(self, session, envelope, data):
        sla_store.save_timer(session, _tenant_of(envelope), data, data.timer, deadline=data.deadline)

    @replay.projects("sla", "tickets", "ticket.sla_breached")
    def on_ticket_sla_breached(self, session, envelope, data):
        sla_store.save_timer(session, _tenant_of(envelope), data, data.timer, deadline=data.deadline,
                             breached_at=data.deadline)

    @replay.projects("sla", "tickets", "ticket.replied")
    def on_ticket_replied(self, session, envelope, data):
        if not data.automatic:  # an automatic reply answers nobody
            sla_store.save_timer(session, _tenant_of(envelope), data, "first_response", met_at=data.replied_at)

    @replay.projects("sla", "tickets", "ticket.resolved")
    def on_ticket_resolved(self, session, envelope, data):
        sla_store.save_timer(session, _tenant_of(envelope), data, "resolution", met_at=data.resolved_at)

    @replay.projects("sla", "customers", "customer.created")
    def on_customer_created(self, session, envelope, data):
        sla_store.save_customer(session, _tenant_of(envelope), envelope, data.customer_id, data.name, data.tier)

    @replay.projects("sla", "customers", "customer.updated")
    def on_customer_updated(self, session, envelope, data):
        sla_store.save_customer(session, _tenant_of(envelope), envelope, data.customer_id,
                                data.changes.get("name"), data.changes.get("tier"))

    @replay.projects("facts", "tickets", "ticket.status_changed")
    def on_ticket_status_changed(self, session, envelope, data):
        _status_changed(session, envelope, data)

    # --- the status report's read models (reports.status_store)

    @replay.projects("status", "customers", "project.created")
    def on_project_created(self, session, envelope, data):
        status_store.save_project(session, _tenant_of(envelope), envelope, data.project_id, data.customer_id,
                                  name=data.name)

    @replay.projects("status", "customers", "project.updated")
    def on_project_updated(self, session, envelope, data):
        status_store.save_project(session, _tenant_of(envelope), envelope, data.project_id, data.customer_id,
                                  name=data.changes.get("name") if isinstance(data.changes.get("name"), str) else None)

    @replay.projects("status", "customers", "project.deleted")
    def on_project_deleted(self, session, envelope, data):
        status_store.save_project(session, _tenant_of(envelope), envelope, data.project_id, data.customer_id,
                                  deleted=True)

    @replay.projects("status", "customers", "task.created")
    def on_task_created(self, session, envelope, data):
        status_store.save_task(session, _tenant_of(envelope), envelope, data,
                               plan=status_store.plan_of({"due_date": data.due_date, "milestone": data.milestone,
                                                          "step_key": data.step_key}))

    @replay.projects("status", "customers", "task.updated")
    def on_task_updated(self, session, envelope, data):
        status_store.save_task(session, _tenant_of(envelope), envelope, data, plan=status_store.plan_of(data.changes))

    @replay.projects("status", "customers", "task.completed")
    def on_task_completed(self, session, envelope, data):
        status_store.save_task(session, _tenant_of(envelope), envelope, data, mark="completed", at=data.completed_at,
                               plan=status_store.plan_of({"due_date": data.due_date, "milestone": data.milestone,
                                                          "step_key": data.step_key}))

    @replay.projects("status", "customers", "task.reopened")
    def on_task_reopened(self, session, envelope, data):
        status_store.save_task(session, _tenant_of(envelope), envelope, data, mark="reopened", at=envelope.occurred_at)

    @replay.projects("status", "customers", "task.deleted")
    def on_task_deleted(self, session, envelope, data):
        status_store.save_task(session, _tenant_of(envelope), envelope, data, deleted=True)

    # --- the time report's read model (reports.time_store)

    @replay.projects("time", "billing", "time.logged")
    def on_time_logged(self, session, envelope, data):
        time_store.save_entry(session, _tenant_of(envelope), data)

    @replay.projects("time", "billing", "time.updated")
    def on_time_updated(self, session, envelope, data):
        time_store.save_entry(session, _tenant_of(envelope), data)

    @replay.projects("time", "billing", "time.deleted")
    def on_time_deleted(self, session, envelope, data):
        time_store.save_entry(session, _tenant_of(envelope), data, deletion=True)

    @rpc(expected_exceptions=EXPECTED)
    def status_report(self, tenant_id, week=None, customer_id=None):
        """Items completed (tasks done + tickets resolved) per project in the tenant week containing
        `week` (default: this week) and the week before, Δ and status; and the per-customer roll-up."""
        tenant_id = parse_id(tenant_id, "tenant")
        query = parse(StatusQuery, {"week": week, "customer_id": customer_id})
        with self.db.read() as session:
            tz, week_start, rules = _tenant_calendar(session, tenant_id)
            today = datetime.now(timezone.utc).astimezone(zone(tz)).date()
            first = status_report.week_start_of(query.week or today, week_start)
            rows = status_store.status_rows(session, tenant_id, tz, week_start, first, today, rules,
                                            query.customer_id)
        return {"week_start": first.isoformat(), "last_week_start": (first - timedelta(days=7)).isoformat(),
                "as_of": status_report.as_of_day(first, today).isoformat(), "timezone": tz,
                "first_day_of_week": week_start, "items": rows,
                "customers": status_report.customer_roll_up(rows, rules)}

    @rpc(expected_exceptions=EXPECTED)
    def time_report(self, tenant_id, group_by="customer", date_from=None, date_to=None, customer_id=None):
        """Tracked, billable and internal hours and billable utilization by customer, project, member
        or category over work dates date_from..date_to (default: the tenant's current week)."""
        tenant_id = parse_id(tenant_id, "tenant")
        query = parse(TimeQuery, {"group_by": group_by, "date_from": date_from, "date_to": date_to,
                                  "customer_id": customer_id})
        with self.db.read() as session:
            tz, week_start, _ = _tenant_calendar(session, tenant_id)
            first, last = _date_range(tz, week_start, query.date_from, query.date_to)
            return time_store.time_by(session, tenant_id, query.group_by, first, last, query.customer_id)

    @rpc(expected_exceptions=EXPECTED)
    def sla_attainment(self, tenant_id, date_from=None, date_to=None, period=None, date=None):
        """First-response and resolution attainment, breach rate, median and p90 business minutes,
        overall and by priority, customer tier, team and assignee, of the timers that ended on the
        tenant-local days date_from..date_to — or in the tenant week or month (`period`) containing
        `date` — with the trend against the period before (reports.sla_report)."""
        tenant_id = parse_id(tenant_id, "tenant")
        query = parse(SlaQuery, {"date_from": date_from, "date_to": date_to, "period": period, "date": date})
        with self.db.read() as session:
            tz, week_start, _ = _tenant_calendar(session, tenant_id)
            if query.period is not None:
                today = datetime.now(timezone.utc).astimezone(zone(tz)).date()
                current = periods.period_of(query.date or today, query.period, week_start)
            else:
                current = _date_range(tz, week_start, query.date_from, query.date_to)
            before = periods.previous(*current, query.period, week_start)
            return {"period": query.period, "timezone": tz,
                    **sla_store.attainment(session, tenant_id, tz, current, before)}

    @rpc(expected_exceptions=EXPECTED)
    def get_status_rules(self, tenant_id):
        """The tenant's status-report rules (the defaults until changed)."""
        with self.db.read() as session:
            return _tenant_calendar(session, parse_id(tenant_id, "tenant"))[2].model_dump()

    @rpc(expected_exceptions=EXPECTED)
    def put_status_rules(self, tenant_id, rules):
        """Replace the given rules (others kept); told as `status_rules.changed` (audited)."""
        tenant_id = parse_id(tenant_id, "tenant")
        if not isinstance(rules, dict):
            raise InvalidInput("the rules must be an object", [{"field": "rules", "message": "must be an object"}])
        with self.db.transaction() as session:
            previous = session.execute(select(tenant_settings.c.status_rules)
                                       .where(tenant_settings.c.tenant_id == tenant_id)).scalar_one_or_none()
            current = StatusRules(**(previous or {}))
            new = parse(StatusRules, {**current.model_dump(), **rules}).model_dump()
            stmt = insert(tenant_settings).values(tenant_id=tenant_id, status_rules=new)
            session.execute(stmt.on_conflict_do_update(index_elements=[tenant_settings.c.tenant_id],
                                                       set_={"status_rules": stmt.excluded.status_rules}))
            outbox.add(session, tenant_id, StatusRulesChanged(rules=new, previous=previous))
        return new

    @rpc(expected_exceptions=EXPECTED)
    def ticket_volume(self, tenant_id, customer_id=None, weeks=None):
        """Tickets created, resolved and closed per customer per ISO week of the tenant, the last
        `weeks` weeks (this one included), newest first; weeks with none are left out."""
        tenant_id = parse_id(tenant_id, "tenant")
        given = {"customer_id": customer_id} if weeks is None else {"customer_id": customer_id, "weeks": weeks}
        query = parse(VolumeQuery, given)
        with self.db.read() as session:
            tz, week_start, _ = _tenant_calendar(session, tenant_id)
            today = datetime.now(timezone.utc).astimezone(zone(tz)).date()
            since = status_report.week_start_of(today, week_start) - timedelta(weeks=query.weeks - 1)
            items = _weekly_counts(session, tenant_id, tz, since, query.customer_id, week_start)
        totals = {key: sum(item[key] for item in items) for key in COUNTS}
        return {"items": items, "totals": totals}

    @rpc(expected_exceptions=EXPECTED)
    def get_settings(self, tenant_id):
        """The settings reports uses for the tenant (its copy of what customers told)."""
        with self.db.read() as session:
            return {"timezone": _tenant_timezone(session, parse_id(tenant_id, "tenant"))}
