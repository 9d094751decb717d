"""The reports service's handlers and RPCs for ticket volume, onboarding velocity and SLA timers'
stops (issue 12): one-liners over `reports.volume_store`, `reports.onboarding_store` and
`reports.sla_store`, mixed into `ReportsService`."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from custops.errors import EXPECTED
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from reports import onboarding_store, periods, replay, sla_store, status_store, volume_store
from reports.commands import OnboardingQuery, VolumeReportQuery
from reports.weeks import zone


def _tenant(envelope):
    from reports.service import _tenant_of  # the service's one rule for an event without a tenant

    return _tenant_of(envelope)


def _calendar(session, tenant_id) -> tuple[str, str]:
    from reports.service import _tenant_calendar

    tz, week_start, _ = _tenant_calendar(session, tenant_id)
    return tz, week_start


def _today(tz: str):
    return datetime.now(timezone.utc).astimezone(zone(tz)).date()


class OpsReportEntrypoints:

    # --- SLA timers' stops (the sla model)

    @replay.projects("sla", "tickets", "ticket.sla_met")
    def on_ticket_sla_met(self, session, envelope, data):
        sla_store.save_met(session, _tenant(envelope), data)

    # --- who holds a ticket (the facts model: SLA by team and assignee)

    @replay.projects("facts", "tickets", "ticket.assigned")
    def on_ticket_assigned(self, session, envelope, data):
        volume_store.save_assignment(session, _tenant(envelope), envelope, data)

    # --- the backlog's moves (the volume model)

    @replay.projects("volume", "tickets", "ticket.created")
    def on_volume_ticket_created(self, session, envelope, data):
        volume_store.save_move(session, _tenant(envelope), envelope, data.ticket_id, data.created_at, "created", 1)

    @replay.projects("volume", "tickets", "ticket.status_changed")
    def on_volume_status_changed(self, session, envelope, data):
        volume_store.save_status_move(session, _tenant(envelope), envelope, data)

    # --- onboarding plans (the onboarding model) and their re-planned due dates (the status model)

    @replay.projects("onboarding", "customers", "onboarding.applied")
    def on_onboarding_applied(self, session, envelope, data):
        onboarding_store.save_plan(session, _tenant(envelope), envelope, data, applied=True)

    @replay.projects("onboarding", "customers", "onboarding.replanned")
    def on_onboarding_replanned(self, session, envelope, data):
        onboarding_store.save_plan(session, _tenant(envelope), envelope, data, applied=False)

    @replay.projects("onboarding", "customers", "project.deleted")
    def on_onboarding_project_deleted(self, session, envelope, data):
        onboarding_store.delete_plan(session, _tenant(envelope), envelope, data)

    @replay.projects("status", "customers", "onboarding.replanned")
    def on_task_plans_replanned(self, session, envelope, data):
        for move in data.moves:  # a re-plan tells its moves here only (no task.updated)
            task = SimpleNamespace(task_id=move["task_id"], project_id=data.project_id, customer_id=data.customer_id)
            status_store.save_task(session, _tenant(envelope), envelope, task,
                                   plan=status_store.plan_of({"due_date": (move.get("to") or {}).get("due_date")}))

    # --- the reports

    @rpc(expected_exceptions=EXPECTED)
    def ticket_volume_report(self, tenant_id, group_by="category", period="week", count=None, date=None,
                             customer_id=None):
        """Tickets created / resolved / reopened and the backlog at each period's end, per tenant
        week or month (the last `count`, up to the one containing `date`), by category, priority,
        customer or source."""
        tenant_id = parse_id(tenant_id, "tenant")
        given = {"group_by": group_by, "period": period, "date": date, "customer_id": customer_id}
        query = parse(VolumeReportQuery, given if count is None else {**given, "periods": count})
        with self.db.read() as session:
            tz, week_start = _calendar(session, tenant_id)
            spans = periods.back(query.date or _today(tz), query.period, query.periods, week_start)
            items = volume_store.volume(session, tenant_id, tz, spans, query.group_by, query.customer_id)
        return {"group_by": query.group_by, "period": query.period, "timezone": tz, "first_day_of_week": week_start,
                "periods": items}

    @rpc(expected_exceptions=EXPECTED)
    def onboarding_velocity(self, tenant_id, quarter=None):
        """Days to first value, completion within target and the slowest template step of the tenant
        quarter containing `quarter` (default: this one) vs the quarter before, by tier."""
        tenant_id = parse_id(tenant_id, "tenant")
        query = parse(OnboardingQuery, {"quarter": quarter})
        with self.db.read() as session:
            tz, week_start = _calendar(session, tenant_id)
            today = _today(tz)
            return {"timezone": tz, **onboarding_store.velocity(session, tenant_id, tz, week_start,
                                                               query.quarter or today, today)}
