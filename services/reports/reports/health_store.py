"""Customer health's rows: the signal state kept from events (reports.health_models), the signals
of a customer as `reports.health.score` takes them, the score history and the state last told.

Decisions recorded here (issue 12):

- **Instants, not ages.** The time-driven signals (days since the last human touch, the age of the
  oldest open ticket, SLA breaches in the last 30 days, the interaction windows, missed milestones)
  are worked out from stored instants *when a score is computed*: a customer's health read through
  the API, and the at-risk list, are always as of now (reads need no job). A state change is told
  (`customer.health_changed`) when an event about that customer is handled, and by the daily
  rescore (health_signals: hourly, each customer not scored yet that UTC day), so a customer whose
  score slips only because time passed is told within a day.
- **Order-independent.** A ticket is open or not by its latest move (instant, producer sequence);
  a milestone keeps its newest plan and its latest completion and reopening (as `status_store`);
  an invoice told overdue stays overdue until paid or voided, whichever arrives first; the start
  date is the earliest one told (lifecycle into onboarding, an onboarding plan's start).
- **Known or not.** Open tickets, their oldest age, SLA breaches and overdue invoices are always
  known (no ticket is a fact: 0). Onboarding misses are known once the customer has a milestone;
  the interaction drop when either window has an interaction; the last human touch once one was
  told; CSAT and NPS once a form answered them in the last `SURVEY_DAYS` (form.submitted `scores`:
  CSAT the mean of 1–5 answers, NPS promoters (9–10) − detractors (0–6) in % of the answers).
  Exec-sponsor touches have no event yet: left out (their weight shared).
- **Human.** An interaction logged on the timeline counts, and touches, unless its actor is the
  system; an agent's public reply on a ticket that was not automatic touches too.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert

from reports import health
from reports.health_models import (health_customers, health_interactions, health_invoices, health_milestones,
                                   health_scores, health_settings, health_sla_breaches, health_survey_scores,
                                   health_tickets)

CLOSED_STATUSES = ("resolved", "closed")
WINDOW_DAYS = 30
TOP_CONTRIBUTIONS = 3
SURVEY_DAYS = 90
SURVEY_KINDS = {"csat": 5, "nps": 10}  # the scale's top (forms: CSAT 1–5, NPS 0–10)


def _seq(envelope) -> int:
    return envelope.sequence or 0


def _day(text) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _newer(at_column, seq_column, given_at, given_seq):
    return or_(at_column.is_(None), tuple_(at_column, seq_column) <= tuple_(given_at, given_seq))


# --- signal state from events


def ensure_customer(session, tenant_id, customer_id) -> None:
    session.execute(insert(health_customers).values(tenant_id=tenant_id, customer_id=customer_id)
                    .on_conflict_do_nothing())


def save_ticket_move(session, tenant_id, envelope, ticket_id, customer_id, status: str, at: datetime,
                     opened_at: datetime | None = None) -> None:
    """A ticket's move into `status` at `at`: open or not by its latest move."""
    table = health_tickets
    values = {"tenant_id": tenant_id, "ticket_id": ticket_id, "customer_id": customer_id,
              "is_open": status not in CLOSED_STATUSES, "moved_at": at, "moved_seq": _seq(envelope)}
    if opened_at is not None:
        values["opened_at"] = opened_at
    stmt = insert(table).values(**values)
    newer = _newer(table.c.moved_at, table.c.moved_seq, stmt.excluded.moved_at, stmt.excluded.moved_seq)
    updates = {"is_open": case((newer, stmt.excluded.is_open), else_=table.c.is_open),
               "moved_at": case((newer, stmt.excluded.moved_at), else_=table.c.moved_at),
               "moved_seq": case((newer, stmt.excluded.moved_seq), else_=table.c.moved_seq)}
    if opened_at is not None:
        updates["opened_at"] = stmt.excluded.opened_at
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.ticket_id], set_=updates))


def save_breach(session, tenant_id, data) -> None:
    session.execute(insert(health_sla_breaches).values(
        tenant_id=tenant_id, ticket_id=data.ticket_id, timer=data.timer, customer_id=data.customer_id,
        breached_at=data.deadline).on_conflict_do_nothing())


def _keep_extreme(column: str, newer):
    """An upsert of the customer's row keeping `column` at `newer(kept, given)` (the latest touch,
    the earliest start), whatever the order: one INSERT with its key, so a batch pipelines it."""
    table = health_customers
    stmt = insert(table)
    kept, given = table.c[column], stmt.excluded[column]
    return stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.customer_id],
                                      set_={column: given}, where=or_(kept.is_(None), newer(given, kept)))


_TOUCH = _keep_extreme("last_human_touch_at", lambda given, kept: given > kept)
_START = _keep_extreme("start_date", lambda given, kept: given < kept)


def save_touch(session, tenant_id, customer_id, at: datetime) -> None:
    """The last human touchpoint: the latest one told, whatever the order."""
    session.execute(_TOUCH, {"tenant_id": tenant_id, "customer_id": customer_id, "last_human_touch_at": at})


def count_interaction(session, tenant_id, customer_id, at: datetime) -> None:
    table = health_interactions
    stmt = insert(table).values(tenant_id=tenant_id, customer_id=customer_id,
                                day=at.astimezone(timezone.utc).date(), count=1)
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.customer_id, table.c.day],
                                               set_={"count": table.c.count + 1}))


def save_start(session, tenant_id, customer_id, start: date | None) -> None:
    """The customer's start: the earliest told."""
    if start is None:
        return
    session.execute(_START, {"tenant_id": tenant_id, "customer_id": customer_id, "start_date": start})


def save_milestone(session, tenant_id, envelope, data, plan: dict | None = None, mark: str | None = None,
                   at: datetime | None = None, deleted: bool = False) -> None:
    """A task's plan (due_date, milestone: the keys given), each key when newer than the one it came
    from (as status_store.save_task); its latest completion / reopening; deletion for good."""
    table = health_milestones
    values = {"tenant_id": tenant_id, "task_id": data.task_id, "customer_id": data.customer_id}
    if plan:
        values.update(plan, plan_at=envelope.occurred_at, plan_seq=_seq(envelope))
        for key in plan:  # each key keeps the version of the newest event that carried it
            values[f"{key}_at"], values[f"{key}_seq"] = envelope.occurred_at, _seq(envelope)
    if mark:
        values.update({f"{mark}_at": at, f"{mark}_seq": _seq(envelope)})
    if deleted:
        values["deleted"] = True
    stmt = insert(table).values(**values)
    updates = {"customer_id": stmt.excluded.customer_id}
    newer_plan = _newer(table.c.plan_at, table.c.plan_seq, stmt.excluded.plan_at, stmt.excluded.plan_seq)
    for key in (plan or {}):
        kept_at, kept_seq = table.c[f"{key}_at"], table.c[f"{key}_seq"]
        newer_key = _newer(kept_at, kept_seq, stmt.excluded[f"{key}_at"], stmt.excluded[f"{key}_seq"])
        for column in (key, f"{key}_at", f"{key}_seq"):
            updates[column] = case((newer_key, stmt.excluded[column]), else_=table.c[column])
    if plan:
        updates["plan_at"] = case((newer_plan, stmt.excluded.plan_at), else_=table.c.plan_at)
        updates["plan_seq"] = case((newer_plan, stmt.excluded.plan_seq), else_=table.c.plan_seq)
    if mark:
        kept_at, kept_seq = table.c[f"{mark}_at"], table.c[f"{mark}_seq"]
        given_at, given_seq = stmt.excluded[f"{mark}_at"], stmt.excluded[f"{mark}_seq"]
        newer_mark = or_(kept_at.is_(None), tuple_(kept_at, kept_seq) < tuple_(given_at, given_seq))
        updates[f"{mark}_at"] = case((newer_mark, given_at), else_=kept_at)
        updates[f"{mark}_seq"] = case((newer_mark, given_seq), else_=kept_seq)
    if deleted:
        updates["deleted"] = True
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.task_id], set_=updates))


def plan_of(fields: dict) -> dict:
    plan = {}
    if "due_date" in fields:
        plan["due_date"] = _day(fields["due_date"])
    if "milestone" in fields:
        plan["milestone"] = bool(fields["milestone"])
    return plan


def save_invoice(session, tenant_id, data, overdue_at: datetime | None = None,
                 settled_at: datetime | None = None) -> None:
    table = health_invoices
    values = {"tenant_id": tenant_id, "invoice_id": data.invoice_id, "customer_id": data.customer_id}
    if overdue_at is not None:
        values["overdue_at"] = overdue_at
    if settled_at is not None:
        values["settled_at"] = settled_at
    stmt = insert(table).values(**values)
    updates = {key: func.coalesce(table.c[key], stmt.excluded[key]) for key in ("overdue_at", "settled_at")
               if key in values}
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.tenant_id, table.c.invoice_id], set_=updates))


def save_survey_scores(session, tenant_id, data) -> int:
    """The CSAT/NPS answers of a submission (others, or scores off their scale, are left out)."""
    rows = [{"tenant_id": tenant_id, "submission_id": data.submission_id, "field": str(s.get("field"))[:100],
             "customer_id": data.customer_id, "kind": s.get("type"), "score": s.get("score"),
             "submitted_at": data.submitted_at}
            for s in data.scores
            if s.get("type") in SURVEY_KINDS and isinstance(s.get("score"), int)
            and 0 <= s["score"] <= SURVEY_KINDS[s["type"]]]
    if rows:
        session.execute(insert(health_survey_scores).values(rows).on_conflict_do_nothing())
    return len(rows)


# --- settings


def settings_json(settings: health.Settings) -> dict:
    return {"weights": dict(settings.weights),
            "ramps": {name: {"ok": ramp.ok, "bad": ramp.bad} for name, ramp in settings.ramps.items()},
            "healthy": settings.healthy, "at_risk": settings.at_risk}


def settings_from(stored: dict | None) -> health.Settings:
    if not stored:
        return health.Settings()
    return health.Settings(weights=dict(stored["weights"]),
                           ramps={name: health.Ramp(r["ok"], r["bad"]) for name, r in stored["ramps"].items()},
                           healthy=stored["healthy"], at_risk=stored["at_risk"])


def stored_settings(session, tenant_id) -> dict | None:
    return session.execute(select(health_settings.c.settings)
                           .where(health_settings.c.tenant_id == tenant_id)).scalar_one_or_none()


def tenant_settings(session, tenant_id) -> health.Settings:
    return settings_from(stored_settings(session, tenant_id))


def save_settings(session, tenant_id, settings: health.Settings, now: datetime) -> None:
    stmt = insert(health_settings).values(tenant_id=tenant_id, settings=settings_json(settings), updated_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=[health_settings.c.tenant_id],
                                               set_={"settings": stmt.excluded.settings,
                                                     "updated_at": stmt.excluded.updated_at}))


# --- the signals as of now


def signals_by_customer(session, tenant_id, now: datetime, customer_id=None) -> dict:
    """`{customer_id: {signal: value or None}}` for every customer the signal tables know (or the one
    given, known or not), as of `now`."""
    today = now.astimezone(timezone.utc).date()
    since_30d = now - timedelta(days=WINDOW_DAYS)

    def scoped(stmt, table):
        stmt = stmt.where(table.c.tenant_id == tenant_id)
        return stmt.where(table.c.customer_id == customer_id) if customer_id is not None else stmt

    tickets = health_tickets
    open_rows = session.execute(scoped(select(
        tickets.c.customer_id, func.count().filter(tickets.c.is_open),
        func.min(func.coalesce(tickets.c.opened_at, tickets.c.moved_at)).filter(tickets.c.is_open))
        .group_by(tickets.c.customer_id), tickets)).all()
    breaches = health_sla_breaches
    breach_rows = session.execute(scoped(select(breaches.c.customer_id, func.count()).where(
        breaches.c.breached_at > since_30d, breaches.c.breached_at <= now).group_by(breaches.c.customer_id),
        breaches)).all()
    inter = health_interactions
    last_from, previous_from = today - timedelta(days=WINDOW_DAYS - 1), today - timedelta(days=2 * WINDOW_DAYS - 1)
    inter_rows = session.execute(scoped(select(
        inter.c.customer_id,
        func.coalesce(func.sum(inter.c.count).filter(inter.c.day >= last_from), 0),
        func.coalesce(func.sum(inter.c.count).filter(inter.c.day < last_from), 0))
        .where(inter.c.day >= previous_from, inter.c.day <= today).group_by(inter.c.customer_id), inter)).all()
    ms = health_milestones
    done_by_due = and_(ms.c.completed_at.is_not(None),
                       or_(ms.c.reopened_at.is_(None),
                           tuple_(ms.c.completed_at, ms.c.completed_seq) > tuple_(ms.c.reopened_at, ms.c.reopened_seq)),
                       func.date(func.timezone("UTC", ms.c.completed_at)) <= ms.c.due_date)
    milestone_rows = session.execute(scoped(select(
        ms.c.customer_id, ms.c.due_date, and_(ms.c.due_date.is_not(None), ms.c.due_date < today, ~done_by_due))
        .where(ms.c.milestone, ~ms.c.deleted), ms)).all()
    inv = health_invoices
    invoice_rows = session.execute(scoped(select(inv.c.customer_id, func.count()).where(
        inv.c.overdue_at.is_not(None), inv.c.settled_at.is_(None)).group_by(inv.c.customer_id), inv)).all()
    survey = health_survey_scores
    survey_rows = session.execute(scoped(select(
        survey.c.customer_id, survey.c.kind, func.count(), func.avg(survey.c.score),
        func.count().filter(survey.c.score >= 9), func.count().filter(survey.c.score <= 6))
        .where(survey.c.submitted_at > now - timedelta(days=SURVEY_DAYS), survey.c.submitted_at <= now)
        .group_by(survey.c.customer_id, survey.c.kind), survey)).all()
    cust = health_customers
    customer_rows = session.execute(scoped(select(
        cust.c.customer_id, cust.c.start_date, cust.c.last_human_touch_at, cust.c.last_sponsor_touch_at), cust)).all()

    base = {"open_tickets": 0, "oldest_open_ticket_days": 0, "sla_breaches_30d": 0, "overdue_invoices": 0}
    out: dict = {}

    def of(cid):
        return out.setdefault(cid, {"_misses": [], "_has_milestone": False, "_start": None, **base})

    if customer_id is not None:
        of(customer_id)
    for cid, n, oldest in open_rows:
        item = of(cid)
        item["open_tickets"] = n
        item["oldest_open_ticket_days"] = max(0.0, (now - oldest).total_seconds() / 86400) if oldest else 0
    for cid, n in breach_rows:
        of(cid)["sla_breaches_30d"] = n
    for cid, last_30, previous_30 in inter_rows:
        of(cid)["interaction_drop"] = health.interaction_drop(int(last_30), int(previous_30))
    for cid, due, missed in milestone_rows:
        item = of(cid)
        item["_has_milestone"] = True
        if missed:
            item["_misses"].append(due)
    for cid, n in invoice_rows:
        of(cid)["overdue_invoices"] = n
    for cid, kind, n, mean, promoters, detractors in survey_rows:
        if kind == "csat":
            of(cid)["csat"] = float(mean)
        else:
            of(cid)["nps"] = 100.0 * (promoters - detractors) / n
    for cid, start, touch, sponsor in customer_rows:
        item = of(cid)
        item["_start"] = start
        if touch is not None:
            item["days_since_human_touch"] = max(0.0, (now - touch).total_seconds() / 86400)
        if sponsor is not None:
            item["days_since_sponsor_touch"] = max(0.0, (now - sponsor).total_seconds() / 86400)
    result = {}
    for cid, item in out.items():
        misses, has_milestone, start = item.pop("_misses"), item.pop("_has_milestone"), item.pop("_start")
        if has_milestone:
            item["onboarding_misses"] = health.weighted_misses(misses, start)
        result[cid] = item
    return result


def explain(result: health.Health, signals: dict) -> dict:
    """The score, its state and every signal: value, risk, share and points (None: not known)."""
    by_signal = {c.signal: c for c in result.contributions}
    items = []
    for name in health.SIGNALS:
        c = by_signal.get(name)
        value = signals.get(name)
        items.append({"signal": name, "known": c is not None,
                      "value": None if value is None else round(float(value), 2),
                      "risk": None if c is None else _num(c.risk),
                      "weight_share": None if c is None else _num(c.weight_share),
                      "points": None if c is None else _num(c.points)})
    items.sort(key=lambda i: (not i["known"], -(i["points"] or 0), i["signal"]))
    return {"score": result.score, "state": result.state, "signals": items}


def _num(value: Fraction) -> float:
    return round(float(value), 2)


def top_contributions(result: health.Health) -> list[dict]:
    return [{"signal": c.signal, "value": round(float(c.value), 2), "risk": _num(c.risk),
             "weight_share": _num(c.weight_share), "points": _num(c.points)}
            for c in result.contributions[:TOP_CONTRIBUTIONS] if c.points > 0]


# --- history and the state told


def save_score(session, tenant_id, customer_id, day: date, result: health.Health) -> None:
    stmt = insert(health_scores).values(tenant_id=tenant_id, customer_id=customer_id, day=day,
                                        score=result.score, state=result.state)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[health_scores.c.tenant_id, health_scores.c.customer_id, health_scores.c.day],
        set_={"score": stmt.excluded.score, "state": stmt.excluded.state}))


def history(session, tenant_id, customer_ids=None, since: date | None = None) -> dict:
    """`{customer_id: [(day as UTC midnight, score)]}`."""
    table = health_scores
    stmt = select(table.c.customer_id, table.c.day, table.c.score).where(table.c.tenant_id == tenant_id)
    if customer_ids is not None:
        stmt = stmt.where(table.c.customer_id.in_(list(customer_ids)))
    if since is not None:
        stmt = stmt.where(table.c.day >= since)
    out: dict = {}
    for cid, day, score in session.execute(stmt):
        out.setdefault(cid, []).append((datetime(day.year, day.month, day.day, tzinfo=timezone.utc), score))
    return out


def trends(points: list, now: datetime, current: int) -> dict:
    """7- and 30-day trend: the score now against the one as it stood then (health.trend)."""
    today = datetime(now.year, now.month, now.day, tzinfo=timezone.utc)
    with_now = [p for p in points if p[0] < today] + [(today, current)]
    return {"7d": health.trend(with_now, today, 7), "30d": health.trend(with_now, today, 30)}


def lock_told(session, tenant_id, customer_id):
    """The state last told, its row locked for this transaction (two consumers of one customer
    tell a change once)."""
    ensure_customer(session, tenant_id, customer_id)
    table = health_customers
    return session.execute(select(table.c.told_state, table.c.told_score).where(
        table.c.tenant_id == tenant_id, table.c.customer_id == customer_id).with_for_update()).one()


def save_told(session, tenant_id, customer_id, result: health.Health, now: datetime) -> None:
    table = health_customers
    session.execute(table.update().where(table.c.tenant_id == tenant_id, table.c.customer_id == customer_id)
                    .values(told_state=result.state, told_score=result.score, told_at=now))


def unscored_customers(session, day: date, limit: int) -> list[tuple]:
    """(tenant, customer) pairs with no score on `day`, locked and skipped by a concurrent rescore."""
    cust, scores = health_customers, health_scores
    scored = select(scores.c.customer_id).where(scores.c.tenant_id == cust.c.tenant_id,
                                                scores.c.customer_id == cust.c.customer_id, scores.c.day == day)
    return [tuple(row) for row in session.execute(
        select(cust.c.tenant_id, cust.c.customer_id).where(~scored.exists())
        .order_by(cust.c.tenant_id, cust.c.customer_id).limit(limit).with_for_update(skip_locked=True))]
