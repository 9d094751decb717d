"""Customer health entrypoints (a mixin `ReportsService` inherits): the consumers that keep each
customer's signals (reports.health_store), the score and its explanation, the at-risk list, and
the tenant's health settings.

Every handler updates its signal, then recomputes that customer's score (reports.health.score,
as of now) in the same transaction: the day's score is kept for the trend, and when the state
differs from the one last told, `customer.health_changed` goes to the outbox with it. The inbox
makes a redelivery change nothing and tell nothing. Reads compute the score as of now from the
stored instants (health_store says why); they write nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from nameko.timer import timer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from custops import event_batches, outbox
from custops.contracts.reports import CustomerHealthChanged, HealthSettingsChanged, HealthState
from custops.entrypoints import PoisonMessage
from custops.errors import EXPECTED, InvalidInput
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from reports import health, health_store as store, replay

MAX_AT_RISK = 1000
RESCORE_SECONDS = 3600  # the daily rescore runs hourly: a customer is rescored once per UTC day
RESCORE_BATCH = 500  # customers per transaction (the next run, or the next batch, takes the rest)


class RescoreQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: AwareDatetime | None = None


def _tenant(envelope):
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    return envelope.tenant_id


def _human(envelope) -> bool:
    """Anyone but the system (an older event without an actor counts: it was logged by hand)."""
    return envelope.actor is None or envelope.actor.type != "system"


def recompute(session, tenant_id, customer_id, now: datetime | None = None) -> health.Health | None:
    """Score the customer as of now, keep the day's score, tell a change of state (once). Not in a
    rebuild's replay (reports.replay): a score is as of when it was computed, not of an event."""
    if replay.replaying(session):
        return None
    now = now or datetime.now(timezone.utc)
    told_state, told_score = store.lock_told(session, tenant_id, customer_id)
    told_state = told_state or "healthy"  # a new customer starts trusted (reports.health): no event for it
    signals = store.signals_by_customer(session, tenant_id, now, customer_id)[customer_id]
    result = health.score(signals, store.tenant_settings(session, tenant_id))
    store.save_score(session, tenant_id, customer_id, now.date(), result)
    if result.state != told_state:
        outbox.add(session, tenant_id, CustomerHealthChanged(
            customer_id=customer_id, old_state=told_state, new_state=result.state, score=result.score,
            old_score=told_score, contributions=store.top_contributions(result)))
        store.save_told(session, tenant_id, customer_id, result, now)
    return result


def recompute_before_commit(session, tenant_id, customer_id) -> None:
    """`recompute` once per customer for a batch of events, after its last one (a batch of 100
    ticket.created for one customer used to score it 100 times: 1.8 ms of CPU per event)."""
    event_batches.once_before_commit(session, ("health", tenant_id, customer_id),
                                     lambda: recompute(session, tenant_id, customer_id))


class AtRiskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: list[HealthState] | None = None
    limit: int = Field(default=100, ge=1, le=MAX_AT_RISK)
    # where the page starts: the `next_cursor` of the one before (an offset; the list is computed as
    # of now each time, so a page boundary may shift as scores move)
    cursor: int = Field(default=0, ge=0)


class RampInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: float
    bad: float


class HealthSettingsInput(BaseModel):
    """New health settings: weights and ramps given replace those signals' (the others keep theirs)."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, int] = {}
    ramps: dict[str, RampInput] = {}
    healthy: int | None = Field(default=None, ge=0, le=100)
    at_risk: int | None = Field(default=None, ge=0, le=100)


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("the health settings are not valid", [{"field": field, "message": message}])


def merged_settings(current: health.Settings, given: HealthSettingsInput) -> health.Settings:
    """The settings `given` makes of `current`, or InvalidInput naming the field."""
    for part in ("weights", "ramps"):
        for name in getattr(given, part):
            if name not in health.SIGNALS:
                raise _invalid(f"{part}.{name}", f"not a health signal (one of {', '.join(health.SIGNALS)})")
    for name, weight in given.weights.items():
        if weight < 0:
            raise _invalid(f"weights.{name}", "must not be negative")
    for name, ramp in given.ramps.items():
        if ramp.ok == ramp.bad:
            raise _invalid(f"ramps.{name}", "ok and bad must differ")
    weights = {**current.weights, **given.weights}
    if not any(weights.values()):
        raise _invalid("weights", "at least one weight must be positive")
    healthy = current.healthy if given.healthy is None else given.healthy
    at_risk = current.at_risk if given.at_risk is None else given.at_risk
    if at_risk > healthy:
        raise _invalid("at_risk", "must not be above healthy")
    ramps = {**current.ramps, **{name: health.Ramp(r.ok, r.bad) for name, r in given.ramps.items()}}
    return health.Settings(weights=weights, ramps=ramps, healthy=healthy, at_risk=at_risk)


class HealthSignalEntrypoints:
    # --- tickets: open count and age, SLA breaches, agents' replies

    @replay.projects("health", "tickets", "ticket.created")
    def health_on_ticket_created(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_ticket_move(session, tenant_id, envelope, data.ticket_id, data.customer_id, data.status,
                               data.created_at, opened_at=data.created_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "tickets", "ticket.status_changed")
    def health_on_ticket_status_changed(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_ticket_move(session, tenant_id, envelope, data.ticket_id, data.customer_id, data.new_status,
                               data.changed_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "tickets", "ticket.sla_breached")
    def health_on_sla_breached(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_breach(session, tenant_id, data)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "tickets", "ticket.replied")
    def health_on_ticket_replied(self, session, envelope, data):
        if data.automatic or data.author_member_id is None:
            return
        tenant_id = _tenant(envelope)
        store.save_touch(session, tenant_id, data.customer_id, data.replied_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    # --- timeline: interaction volume and the last human touchpoint

    @replay.projects("health", "timeline", "interaction.logged")
    def health_on_interaction_logged(self, session, envelope, data):
        if not _human(envelope):
            return
        tenant_id = _tenant(envelope)
        store.count_interaction(session, tenant_id, data.customer_id, data.occurred_at)
        store.save_touch(session, tenant_id, data.customer_id, data.occurred_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    # --- customers: the start date and onboarding milestones

    @replay.projects("health", "customers", "customer.lifecycle_changed")
    def health_on_lifecycle_changed(self, session, envelope, data):
        if data.stage != "onboarding":
            return
        tenant_id = _tenant(envelope)
        store.save_start(session, tenant_id, data.customer_id, data.changed_at.astimezone(timezone.utc).date())
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "customers", "onboarding.applied")
    def health_on_onboarding_applied(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_start(session, tenant_id, data.customer_id, store._day(data.start_date))
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "customers", "task.created")
    def health_on_task_created(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_milestone(session, tenant_id, envelope, data,
                             plan=store.plan_of({"due_date": data.due_date, "milestone": data.milestone}))
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "customers", "task.updated")
    def health_on_task_updated(self, session, envelope, data):
        plan = store.plan_of(data.changes)
        if not plan:
            return
        tenant_id = _tenant(envelope)
        store.save_milestone(session, tenant_id, envelope, data, plan=plan)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "customers", "task.completed")
    def health_on_task_completed(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_milestone(session, tenant_id, envelope, data, mark="completed", at=data.completed_at,
                             plan=store.plan_of({"due_date": data.due_date, "milestone": data.milestone}))
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "customers", "task.reopened")
    def health_on_task_reopened(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_milestone(session, tenant_id, envelope, data, mark="reopened", at=envelope.occurred_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "customers", "task.deleted")
    def health_on_task_deleted(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_milestone(session, tenant_id, envelope, data, deleted=True)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "customers", "form.submitted")
    def health_on_form_submitted(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        if store.save_survey_scores(session, tenant_id, data):
            recompute_before_commit(session, tenant_id, data.customer_id)

    # --- billing: overdue invoices

    @replay.projects("health", "billing", "invoice.overdue")
    def health_on_invoice_overdue(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_invoice(session, tenant_id, data, overdue_at=envelope.occurred_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "billing", "invoice.paid")
    def health_on_invoice_paid(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_invoice(session, tenant_id, data, settled_at=data.paid_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    @replay.projects("health", "billing", "invoice.voided")
    def health_on_invoice_voided(self, session, envelope, data):
        tenant_id = _tenant(envelope)
        store.save_invoice(session, tenant_id, data, settled_at=envelope.occurred_at)
        recompute_before_commit(session, tenant_id, data.customer_id)

    # --- the daily rescore: time-driven signals (days since the last touch, ticket age) grow with
    # no event; a customer not scored yet today is rescored, and a change of state told

    @timer(interval=RESCORE_SECONDS)
    def health_rescore_timer(self):
        self.rescore_stale_health()

    @rpc(expected_exceptions=EXPECTED)
    def rescore_stale_health(self, now=None):
        """Rescore every customer (all tenants) with no score yet on the UTC day of `now` (ISO
        instant, for tests and backfills; default: now), in batches; how many were rescored."""
        at = parse(RescoreQuery, {"now": now}).now or datetime.now(timezone.utc)
        done = 0
        while True:
            with self.db.transaction() as session:
                stale = store.unscored_customers(session, at.date(), RESCORE_BATCH)
                for tenant_id, customer_id in stale:
                    recompute(session, tenant_id, customer_id, at)
            done += len(stale)
            if len(stale) < RESCORE_BATCH:
                return {"rescored": done}

    # --- queries and settings

    @rpc(expected_exceptions=EXPECTED)
    def customer_health(self, tenant_id, customer_id):
        """A customer's score and state as of now, every signal explained (value, risk, share of
        100, points lost; `known: false` when left out), and the 7- and 30-day trend."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        now = datetime.now(timezone.utc)
        with self.db.read() as session:
            settings = store.tenant_settings(session, tenant_id)
            signals = store.signals_by_customer(session, tenant_id, now, customer_id)[customer_id]
            points = store.history(session, tenant_id, [customer_id], (now - timedelta(days=40)).date())
        result = health.score(signals, settings)
        return {"customer_id": str(customer_id), "as_of": now.isoformat(), **store.explain(result, signals),
                "trend": store.trends(points.get(customer_id, []), now, result.score)}

    @rpc(expected_exceptions=EXPECTED)
    def at_risk(self, tenant_id, state=None, limit=None, cursor=None):
        """Customers by score (lowest first), then 7-day trend (falling fastest first; none last),
        as of now; `state` keeps only those states (default: at_risk and critical). A page of
        `limit` from `cursor` (the previous page's `next_cursor`)."""
        tenant_id = parse_id(tenant_id, "tenant")
        given = {"state": [state] if isinstance(state, str) else state}
        if limit is not None:
            given["limit"] = limit
        if cursor is not None:
            given["cursor"] = cursor
        query = parse(AtRiskQuery, given)
        states = set(query.state or ("at_risk", "critical"))
        now = datetime.now(timezone.utc)
        with self.db.read() as session:
            settings = store.tenant_settings(session, tenant_id)
            signals = store.signals_by_customer(session, tenant_id, now)
            points = store.history(session, tenant_id, since=(now - timedelta(days=40)).date())
        items = []
        for customer_id, values in signals.items():
            result = health.score(values, settings)
            if result.state not in states:
                continue
            items.append({"customer_id": str(customer_id), "score": result.score, "state": result.state,
                          "trend": store.trends(points.get(customer_id, []), now, result.score),
                          "top_contributions": store.top_contributions(result)})
        items.sort(key=lambda i: (i["score"], i["trend"]["7d"] is None, i["trend"]["7d"] or 0, i["customer_id"]))
        end = query.cursor + query.limit
        return {"as_of": now.isoformat(), "items": items[query.cursor:end], "total": len(items),
                "next_cursor": str(end) if end < len(items) else None}

    @rpc(expected_exceptions=EXPECTED)
    def get_health_settings(self, tenant_id):
        """The tenant's health weights, ramps and state thresholds (the defaults until changed)."""
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return store.settings_json(store.tenant_settings(session, tenant_id))

    @rpc(expected_exceptions=EXPECTED)
    def put_health_settings(self, tenant_id, settings):
        """Replace the given weights, ramps and thresholds (others kept); told as
        `health_settings.changed` (audited). Scores follow at once: they are computed when read."""
        tenant_id = parse_id(tenant_id, "tenant")
        given = parse(HealthSettingsInput, settings)
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            previous = store.stored_settings(session, tenant_id)
            new = merged_settings(store.settings_from(previous), given)
            store.save_settings(session, tenant_id, new, now)
            outbox.add(session, tenant_id, HealthSettingsChanged(settings=store.settings_json(new),
                                                                 previous=previous))
        return store.settings_json(new)
