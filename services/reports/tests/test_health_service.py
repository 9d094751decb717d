"""Customer health against the real RabbitMQ and PostgreSQL: events in, score and state out,
`customer.health_changed` told once per change, settings that change the score.

Events are published into the broker as their producers would; the reports service runs in-process.
"""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import select

from custops import db, outbox
from custops.contracts.billing import InvoiceOverdue, InvoicePaid
from custops.contracts.customers import FormSubmitted, TaskCreated
from custops.contracts.tickets import TicketCreated, TicketSlaBreached, TicketStatusChanged
from custops.contracts.timeline import InteractionLogged
from custops.entrypoints import handled_events
from custops.errors import InvalidInput
from custops.events import envelope_for
from reports import health, health_models, health_store


def publish_and_wait(container, method, envelopes, timeout=15):
    """Publish the envelopes (in this order) and wait until `method` has handled each copy."""
    waiting = [str(e.id) for e in envelopes]
    failures = []

    def callback(worker_ctx, result, exc_info):
        for event_id, failure in handled_events(worker_ctx):
            if event_id in waiting:
                waiting.remove(event_id)
                if failure:
                    failures.append(failure)
        return not waiting

    publisher = outbox.Publisher()
    try:
        with entrypoint_waiter(container, method, callback=callback, timeout=timeout):
            assert publisher.publish_batch([e.model_dump(mode="json") for e in envelopes]) == set()
    finally:
        publisher.close()
    assert failures == []


def told(tenant_id, customer_id) -> list[dict]:
    """The customer.health_changed events in the reports outbox for the customer, in order."""
    table = outbox._TABLE
    with db.engine_for("reports").connect() as conn:
        rows = conn.execute(select(table.c.envelope).where(
            table.c.tenant_id == tenant_id, table.c.type == "customer.health_changed").order_by(table.c.seq)).all()
    return [row.envelope["data"] for row in rows if row.envelope["data"]["customer_id"] == str(customer_id)]


def breach(tenant_id, customer_id, at):
    return envelope_for(TicketSlaBreached(ticket_id=uuid.uuid4(), number=1, customer_id=customer_id,
                                          timer="resolution", deadline=at, target_minutes=60), tenant_id)


def invoice(cls, tenant_id, customer_id, invoice_id=None, **extra):
    return envelope_for(cls(invoice_id=invoice_id or uuid.uuid4(), customer_id=customer_id, status="issued",
                            currency="EUR", period_from=date(2026, 1, 1), period_to=date(2026, 1, 31),
                            subtotal=100, tax_total=0, total=100, balance_due=100, **extra), tenant_id)


def ticket(tenant_id, customer_id, at, ticket_id=None):
    return envelope_for(TicketCreated(ticket_id=ticket_id or uuid.uuid4(), number=1, customer_id=customer_id,
                                      subject="s", priority="normal", status="open", source="api",
                                      created_at=at), tenant_id)


def by_signal(result) -> dict:
    return {s["signal"]: s for s in result["signals"]}


def test_events_make_the_score_a_change_of_state_is_told_once_and_redelivery_tells_nothing(reports, rpc, tenant_id):
    customer = uuid.uuid4()
    now = datetime.now(timezone.utc)
    assert rpc.call("reports", "customer_health", str(tenant_id), str(customer))["score"] == 100  # nothing known

    breaches = [breach(tenant_id, customer, now - timedelta(days=d)) for d in (1, 2, 3, 4, 5)]
    breaches.append(breach(tenant_id, customer, now - timedelta(days=40)))  # outside the 30 days
    publish_and_wait(reports, "health_on_sla_breached", breaches)
    # known: open tickets 10, oldest 10, breaches 15 (5 of 5: risk 1), overdue 10 -> 100 - 15/45*100
    result = rpc.call("reports", "customer_health", str(tenant_id), str(customer))
    assert (result["score"], result["state"]) == (67, "at_risk")
    assert [(e["old_state"], e["new_state"], e["score"]) for e in told(tenant_id, customer)] == [
        ("healthy", "at_risk", 67)]

    overdue = [invoice(InvoiceOverdue, tenant_id, customer, days_overdue=5) for _ in range(3)]
    publish_and_wait(reports, "health_on_invoice_overdue", overdue)
    old_ticket = ticket(tenant_id, customer, now - timedelta(days=50))
    publish_and_wait(reports, "health_on_ticket_created", [old_ticket])
    # overdue 3 (risk 1) and the oldest open ticket 50 days (risk 1): 100 - (15+10+10)/45*100 = 22
    result = rpc.call("reports", "customer_health", str(tenant_id), str(customer))
    assert (result["score"], result["state"]) == (22, "critical")
    changes = told(tenant_id, customer)
    assert [(e["old_state"], e["new_state"], e["score"]) for e in changes] == [
        ("healthy", "at_risk", 67), ("at_risk", "critical", 22)]
    assert [c["signal"] for c in changes[1]["contributions"]] == [
        "sla_breaches_30d", "oldest_open_ticket_days", "overdue_invoices"]

    # every copy again: nothing changes, nothing more is told
    publish_and_wait(reports, "health_on_sla_breached", breaches)
    publish_and_wait(reports, "health_on_invoice_overdue", overdue)
    publish_and_wait(reports, "health_on_ticket_created", [old_ticket])
    assert len(told(tenant_id, customer)) == 2
    again = rpc.call("reports", "customer_health", str(tenant_id), str(customer))
    assert (again["score"], again["signals"]) == (22, result["signals"])

    signals = by_signal(result)
    assert set(signals) == set(health.SIGNALS)  # every signal explained
    assert signals["sla_breaches_30d"]["value"] == 5 and signals["overdue_invoices"]["value"] == 3
    assert signals["open_tickets"] == {"signal": "open_tickets", "known": True, "value": 1, "risk": 0,
                                       "weight_share": 22.22, "points": 0}
    assert sum(s["weight_share"] for s in signals.values() if s["known"]) == pytest.approx(100, abs=0.05)
    assert sum(s["points"] for s in signals.values() if s["known"]) == pytest.approx(100 - 22, abs=0.5)
    # unknown signals are left out: no CSAT/NPS, no sponsor, no touch, no milestone, no interactions
    assert {name for name, s in signals.items() if not s["known"]} == {
        "csat", "nps", "days_since_sponsor_touch", "days_since_human_touch", "onboarding_misses",
        "interaction_drop"}
    assert all(s["points"] is None for s in signals.values() if not s["known"])
    assert result["trend"] == {"7d": None, "30d": None}  # no score that old yet

    # the at-risk list: this customer (critical) before a healthier one; healthy ones left out
    other, fine = uuid.uuid4(), uuid.uuid4()
    publish_and_wait(reports, "health_on_sla_breached", [breach(tenant_id, other, now - timedelta(days=1))
                                                         for _ in range(5)])
    publish_and_wait(reports, "health_on_sla_breached", [breach(tenant_id, fine, now - timedelta(days=1))])
    listed = rpc.call("reports", "at_risk", str(tenant_id))
    assert [(i["customer_id"], i["state"]) for i in listed["items"]] == [(str(customer), "critical"),
                                                                         (str(other), "at_risk")]
    assert [i["customer_id"] for i in rpc.call("reports", "at_risk", str(tenant_id), "critical")["items"]] == [
        str(customer)]
    first = rpc.call("reports", "at_risk", str(tenant_id), None, 1)
    assert ([i["customer_id"] for i in first["items"]], first["total"], first["next_cursor"]) == (
        [str(customer)], 2, "1")
    second = rpc.call("reports", "at_risk", str(tenant_id), None, 1, first["next_cursor"])
    assert ([i["customer_id"] for i in second["items"]], second["next_cursor"]) == ([str(other)], None)
    assert str(fine) in [i["customer_id"] for i in rpc.call("reports", "at_risk", str(tenant_id), "healthy")["items"]]
    assert rpc.call("reports", "at_risk", str(uuid.uuid4()))["items"] == []  # another tenant sees none


def test_signals_are_the_same_whatever_order_their_events_arrive_in(reports, rpc, tenant_id):
    customer, ticket_id, invoice_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    resolved = envelope_for(TicketStatusChanged(ticket_id=ticket_id, number=1, customer_id=customer,
                                                old_status="open", new_status="resolved", changed_at=now), tenant_id)
    publish_and_wait(reports, "health_on_ticket_status_changed", [resolved])
    publish_and_wait(reports, "health_on_ticket_created", [ticket(tenant_id, customer, now - timedelta(days=60),
                                                                  ticket_id)])
    publish_and_wait(reports, "health_on_invoice_paid", [invoice(InvoicePaid, tenant_id, customer, invoice_id,
                                                                 paid_at=now)])
    publish_and_wait(reports, "health_on_invoice_overdue", [invoice(InvoiceOverdue, tenant_id, customer, invoice_id,
                                                                    days_overdue=3)])
    # a milestone due 10 days ago, never done: missed (no start known: counted once, not as early)
    due = (now - timedelta(days=10)).date().isoformat()
    task = envelope_for(TaskCreated(task_id=uuid.uuid4(), project_id=uuid.uuid4(), customer_id=customer,
                                    title="Go live", status="todo", category="todo", due_date=due, milestone=True),
                        tenant_id)
    publish_and_wait(reports, "health_on_task_created", [task])
    signals = by_signal(rpc.call("reports", "customer_health", str(tenant_id), str(customer)))
    assert signals["open_tickets"]["value"] == 0 and signals["oldest_open_ticket_days"]["value"] == 0
    assert signals["overdue_invoices"]["value"] == 0
    assert signals["onboarding_misses"]["value"] == 1 and signals["onboarding_misses"]["known"]


def test_settings_change_the_score_and_bad_settings_are_refused_naming_the_field(reports, rpc, tenant_id):
    customer = uuid.uuid4()
    now = datetime.now(timezone.utc)
    publish_and_wait(reports, "health_on_sla_breached", [breach(tenant_id, customer, now - timedelta(days=1))])
    # 1 of 5 breaches: 100 - 15/45*100*0.2 = 93
    assert rpc.call("reports", "customer_health", str(tenant_id), str(customer))["score"] == 93
    assert rpc.call("reports", "get_health_settings", str(tenant_id))["weights"] == health.DEFAULT_WEIGHTS

    saved = rpc.call("reports", "put_health_settings", str(tenant_id), {
        "weights": {"sla_breaches_30d": 90}, "ramps": {"sla_breaches_30d": {"ok": 0, "bad": 1}}, "healthy": 80})
    assert saved["weights"]["sla_breaches_30d"] == 90 and saved["weights"]["open_tickets"] == 10
    assert rpc.call("reports", "get_health_settings", str(tenant_id)) == saved
    # 90 of 120, risk 1: 100 - 75 = 25
    result = rpc.call("reports", "customer_health", str(tenant_id), str(customer))
    assert (result["score"], result["state"]) == (25, "critical")
    assert rpc.call("reports", "customer_health", str(uuid.uuid4()), str(customer))["score"] == 100  # other tenant

    for bad, field in [({"weights": {"happiness": 5}}, "weights.happiness"),
                       ({"weights": {"nps": -1}}, "weights.nps"),
                       ({"weights": {name: 0 for name in health.SIGNALS}}, "weights"),
                       ({"ramps": {"csat": {"ok": 3, "bad": 3}}}, "ramps.csat"),
                       ({"healthy": 30, "at_risk": 50}, "at_risk"),
                       ({"healthy": 101}, "healthy"),
                       ({"colour": "red"}, "colour")]:
        with pytest.raises(InvalidInput) as exc_info:
            rpc.call("reports", "put_health_settings", str(tenant_id), bad)
        assert field in {e["field"] for e in exc_info.value.errors}, (bad, exc_info.value.errors)
    assert rpc.call("reports", "get_health_settings", str(tenant_id)) == saved  # unchanged


def test_csat_and_nps_answers_of_forms_count_once_they_are_given(reports, rpc, tenant_id):
    customer = uuid.uuid4()
    now = datetime.now(timezone.utc)

    def submitted(scores, at=now):
        return envelope_for(FormSubmitted(submission_id=uuid.uuid4(), form_id=uuid.uuid4(), form_name="Survey",
                                          form_version=1, customer_id=customer, scores=scores, submitted_at=at),
                            tenant_id)

    old = submitted([{"field": "csat", "type": "csat", "score": 5, "max": 5}], now - timedelta(days=120))
    answers = [submitted([{"field": "csat", "type": "csat", "score": 2, "max": 5},
                          {"field": "nps", "type": "nps", "score": 3, "max": 10}]),
               submitted([{"field": "csat", "type": "csat", "score": 3, "max": 5},
                          {"field": "nps", "type": "nps", "score": 10, "max": 10},
                          {"field": "rating", "type": "rating", "score": 1, "max": 5}])]
    publish_and_wait(reports, "health_on_form_submitted", [old, *answers, answers[0]])
    signals = by_signal(rpc.call("reports", "customer_health", str(tenant_id), str(customer)))
    # the last 90 days only: CSAT mean 2.5 (risk 1), NPS 1 promoter − 1 detractor of 2 = 0 (risk 0.6)
    assert (signals["csat"]["known"], signals["csat"]["value"], signals["csat"]["risk"]) == (True, 2.5, 1)
    assert (signals["nps"]["known"], signals["nps"]["value"], signals["nps"]["risk"]) == (True, 0, 0.6)


def test_the_daily_rescore_tells_a_state_that_time_alone_changed_once(reports, rpc, tenant_id):
    customer = uuid.uuid4()
    now = datetime.now(timezone.utc)
    rpc.call("reports", "put_health_settings", str(tenant_id), {"weights": {"days_since_human_touch": 100}})
    call = envelope_for(InteractionLogged(activity_id=uuid.uuid4(), customer_id=customer, kind="call", summary="rang",
                                          internal=False, occurred_at=now - timedelta(days=10)), tenant_id)
    publish_and_wait(reports, "health_on_interaction_logged", [call])
    assert rpc.call("reports", "customer_health", str(tenant_id), str(customer))["state"] == "healthy"
    assert told(tenant_id, customer) == []

    later = (now + timedelta(days=60)).isoformat()  # 70 days without a touch: its risk is 1
    assert rpc.call("reports", "rescore_stale_health", later)["rescored"] >= 1
    assert [(e["old_state"], e["new_state"], e["score"]) for e in told(tenant_id, customer)] == [
        ("healthy", "critical", 31)]  # 100 of 145 lost
    # scored that day already: not stale again (the count is every tenant's, and other tests' leftover
    # events may bring new customers meanwhile), and a second rescore tells nothing more
    with db.engine_for("reports").connect() as conn:
        scores = health_models.health_scores.c
        assert conn.execute(select(scores.score).where(
            scores.tenant_id == tenant_id, scores.customer_id == customer,
            scores.day == datetime.fromisoformat(later).date())).scalar() == 31
    with db.transaction(db.engine_for("reports"), "reports") as session:
        stale = health_store.unscored_customers(session, datetime.fromisoformat(later).date(), 1_000_000)
    assert (tenant_id, customer) not in stale
    rpc.call("reports", "rescore_stale_health", later)
    assert len(told(tenant_id, customer)) == 1
