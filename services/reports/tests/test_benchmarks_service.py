"""Benchmarks, headline metrics, per-customer metrics and charts against the real RabbitMQ and
PostgreSQL: events in as their producers publish them, the reports service in-process."""
import base64
import io
import uuid
import xml.etree.ElementTree as ElementTree
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import eventlet
import pytest
from PIL import Image
from sqlalchemy import func, select

from custops import db
from custops.contracts.billing import TimeLogged
from custops.contracts.customers import CustomerCreated, TenantCreated
from custops.contracts.tickets import TicketCreated, TicketReplied, TicketSlaMet, TicketStatusChanged
from custops.errors import InvalidInput
from custops.events import envelope_for
from custops.rpc import RpcClient
from custops.testing import publish_each_and_wait as publish
from reports import benchmark_store, benchmarks
from reports.benchmark_entrypoints import BACKFILL_WEEKS
from reports.benchmark_models import week_snapshots
from reports.status_report import week_start_of

NEW_YORK = ZoneInfo("America/New_York")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK).astimezone(timezone.utc)


def new_york_tenant(reports, tenant_id):
    publish(reports, "on_tenant_created", envelope_for(TenantCreated(
        tenant_id=tenant_id, name="T", timezone="America/New_York", week_start="monday"), tenant_id,
        occurred_at=datetime.now(timezone.utc), sequence=1))


def ticket(reports, tenant_id, customer, created, replied_after=None, resolved=None):
    ticket_id = uuid.uuid4()
    publish(reports, "on_ticket_created", envelope_for(TicketCreated(
        ticket_id=ticket_id, number=1, customer_id=customer, subject="s", priority="normal", status="open",
        source="api", created_at=created), tenant_id))
    if replied_after is not None:
        publish(reports, "on_ticket_replied", envelope_for(TicketReplied(
            ticket_id=ticket_id, number=1, customer_id=customer, message_id=uuid.uuid4(), author_member_id=None,
            subject="s", body="b", replied_at=created + replied_after), tenant_id))
        # the tickets service's stop of the timer, with the business minutes it ran (here: all of them)
        publish(reports, "on_ticket_sla_met", envelope_for(TicketSlaMet(
            ticket_id=ticket_id, number=1, customer_id=customer, timer="first_response", started_at=created,
            met_at=created + replied_after, target_minutes=240, business_minutes=replied_after.total_seconds() / 60,
            breached=False, priority="normal"), tenant_id))
    if resolved is not None:
        publish(reports, "on_ticket_status_changed", envelope_for(TicketStatusChanged(
            ticket_id=ticket_id, number=1, customer_id=customer, old_status="open", new_status="resolved",
            changed_at=resolved), tenant_id, sequence=2))
    return ticket_id


def moved(reports, tenant_id, ticket_id, customer, new_status, at, sequence):
    publish(reports, "on_ticket_status_changed", envelope_for(TicketStatusChanged(
        ticket_id=ticket_id, number=1, customer_id=customer, old_status="open", new_status=new_status,
        changed_at=at), tenant_id, sequence=sequence))


def logged(reports, tenant_id, customer, day, minutes, billable):
    publish(reports, "on_time_logged", envelope_for(TimeLogged(
        entry_id=uuid.uuid4(), member_id=uuid.uuid4(), customer_id=customer, minutes=minutes, billable=billable,
        work_date=day), tenant_id))


def test_closed_weeks_are_frozen_with_delta_and_trend_and_a_late_event_changes_no_snapshot(reports, rpc, tenant_id):
    tenant = str(tenant_id)
    new_york_tenant(reports, tenant_id)
    this_week = week_start_of(datetime.now(NEW_YORK).date(), "monday")
    w3, w2 = this_week - timedelta(weeks=3), this_week - timedelta(weeks=2)
    customer = uuid.uuid4()
    ticket(reports, tenant_id, customer, local(w3, 10), timedelta(minutes=30), resolved=local(w3 + timedelta(1), 9))
    ticket(reports, tenant_id, customer, local(w3 + timedelta(2), 10), timedelta(minutes=90))  # stays open
    ticket(reports, tenant_id, customer, local(w2, 10), timedelta(minutes=60), resolved=local(w2 + timedelta(3), 9))
    # Sunday 23:30 in New York is Monday 04:30 UTC: still w2 in the tenant's week
    ticket(reports, tenant_id, customer, local(w2 + timedelta(6), 23, 30))
    logged(reports, tenant_id, customer, w3 + timedelta(1), 120, True)
    logged(reports, tenant_id, customer, w3 + timedelta(1), 60, False)
    logged(reports, tenant_id, customer, w2 + timedelta(1), 60, True)

    report = rpc.call("reports", "benchmarks", tenant, 4)
    assert (report["timezone"], report["first_day_of_week"]) == ("America/New_York", "monday")
    weeks = {item["week_start"]: item for item in report["items"]}
    assert list(weeks) == [(this_week - timedelta(weeks=n)).isoformat() for n in (3, 2, 1, 0)]
    first, second = weeks[w3.isoformat()], weeks[w2.isoformat()]
    assert first["frozen"] and second["frozen"] and not report["items"][-1]["frozen"]
    assert first["metrics"] == {"tickets_created": 2, "tickets_resolved": 1, "backlog": 1,
                                "first_response_attainment_pct": 100.0, "resolution_attainment_pct": None,
                                "median_first_response_business_minutes": 60.0, "items_completed": 1,
                                "billable_hours": 2.0, "utilization": 0.6667, "at_risk_customers": 0}
    assert second["metrics"]["backlog"] == 2 and second["metrics"]["tickets_created"] == 2
    assert second["metrics"]["utilization"] == 1.0 and second["metrics"]["billable_hours"] == 1.0
    assert (second["delta"]["backlog"], second["delta_pct"]["backlog"]) == (1, 100.0)
    assert (second["delta"]["billable_hours"], second["delta_pct"]["billable_hours"]) == (-1.0, -50.0)
    assert first["delta"]["tickets_created"] == 2 and first["delta_pct"]["tickets_created"] is None  # none before
    assert report["trend"]["backlog"]["direction"] in ("up", "flat")
    assert {m["key"] for m in report["metrics"]} == set(first["metrics"])

    # a ticket of w3 told late: the live report counts it, the benchmark keeps what was reported
    ticket(reports, tenant_id, customer, local(w3 + timedelta(4), 10))
    volume = rpc.call("reports", "ticket_volume", tenant, None, 5)
    assert sum(i["created"] for i in volume["items"] if i["week_start"] == w3.isoformat()) == 3
    again = rpc.call("reports", "benchmarks", tenant, 4)
    assert [i for i in again["items"] if i["week_start"] == w3.isoformat()][0]["metrics"] == first["metrics"]

    headline = rpc.call("reports", "headline_metrics", tenant)
    assert headline["week_start"] == this_week.isoformat()
    by_key = {item["key"]: item for item in headline["items"]}
    assert by_key["backlog"]["this_week"] == 3  # the late ticket is open, and live here
    assert set(by_key["backlog"]["trend"]) == {"direction", "slope"}

    with pytest.raises(InvalidInput):
        rpc.call("reports", "benchmarks", tenant, 0)


def test_two_instances_freezing_the_same_week_store_one_snapshot(reports, rpc, tenant_id, monkeypatch):
    new_york_tenant(reports, tenant_id)
    customer = uuid.uuid4()
    last_week = week_start_of(datetime.now(NEW_YORK).date(), "monday") - timedelta(weeks=2)
    ticket(reports, tenant_id, customer, local(last_week, 12))
    # resolved, reopened the next week, closed two days later; another resolved weeks ago
    again = ticket(reports, tenant_id, customer, local(last_week - timedelta(weeks=1), 9),
                   resolved=local(last_week - timedelta(weeks=1, days=-2), 9))
    moved(reports, tenant_id, again, customer, "open", local(last_week + timedelta(days=1), 9), 3)
    moved(reports, tenant_id, again, customer, "closed", local(last_week + timedelta(days=3), 9), 4)
    ticket(reports, tenant_id, customer, local(last_week - timedelta(weeks=3), 9),
           resolved=local(last_week - timedelta(weeks=2), 9))
    now = (datetime.now(timezone.utc)).isoformat()

    # the states at the weeks' ends summed from changes (many weeks) = counted at each end (few)
    with db.engine_for("reports").connect() as conn:
        weeks = benchmarks.weeks_back(datetime.now(timezone.utc), "America/New_York", "monday", 8)
        at = datetime.now(timezone.utc)
        few = {w: benchmark_store.week_figures(conn, tenant_id, "America/New_York", "monday", w, at) for w in weeks}
        monkeypatch.setattr(benchmark_store, "FEW_BACKLOG_ENDS", 0)
        monkeypatch.setattr(benchmark_store, "FEW_AT_RISK_DAYS", 0)
        many = benchmark_store.figures_for_weeks(conn, tenant_id, "America/New_York", "monday", weeks + [
            weeks[0] - timedelta(weeks=n) for n in range(1, 4)], at)
    assert {w: many[w] for w in weeks} == few
    # C open until resolved; B resolved, then open from its reopening until it closed; A open since created
    assert [few[w]["backlog"] for w in weeks[-6:-1]] == [1, 0, 0, 1, 1]

    def freeze():
        client = RpcClient(timeout=20)
        try:
            return client.call("reports", "freeze_closed_weeks", now, str(tenant_id))
        finally:
            client.close()

    answers = [thread.wait() for thread in [eventlet.spawn(freeze), eventlet.spawn(freeze)]]
    with db.engine_for("reports").connect() as conn:
        stored = conn.execute(select(week_snapshots.c.week_start, func.count()).group_by(week_snapshots.c.week_start)
                              .where(week_snapshots.c.tenant_id == tenant_id)).all()
    # the closed weeks of the default window, each stored once, by one call or the other
    assert len(stored) in (BACKFILL_WEEKS, BACKFILL_WEEKS - 1) and {n for _, n in stored} == {1}
    assert sum(answer["frozen"] for answer in answers) == len(stored)
    assert rpc.call("reports", "freeze_closed_weeks", now, str(tenant_id)) == {"frozen": 0}  # nothing left
    report = rpc.call("reports", "benchmarks", str(tenant_id), 3)
    assert [i["frozen"] for i in report["items"]][-1] is False and report["items"][0]["frozen"] is True


def test_customer_metrics_pages_and_filters(reports, rpc, tenant_id):
    new_york_tenant(reports, tenant_id)
    customers = sorted(uuid.uuid4() for _ in range(3))
    for customer in customers:
        publish(reports, "on_customer_created", envelope_for(CustomerCreated(
            customer_id=customer, name=f"C {customer}", tier="smb", domains=[]), tenant_id))
    busy = customers[0]
    publish(reports, "health_on_ticket_created", envelope_for(TicketCreated(
        ticket_id=uuid.uuid4(), number=1, customer_id=busy, subject="s", priority="normal", status="open",
        source="api", created_at=datetime.now(timezone.utc) - timedelta(hours=1)), tenant_id))
    logged(reports, tenant_id, busy, datetime.now(NEW_YORK).date(), 90, True)

    page = rpc.call("reports", "customer_metrics", str(tenant_id), None, 2)
    assert page["total"] == 3 and [i["customer_id"] for i in page["items"]] == [str(c) for c in customers[:2]]
    first = page["items"][0]
    assert (first["open_tickets"], first["billable_hours_month"], first["utilization_month"]) == (1, 1.5, 1.0)
    assert 0 <= first["health_score"] <= 100 and first["health_state"] in ("healthy", "at_risk", "critical")
    rest = rpc.call("reports", "customer_metrics", str(tenant_id), None, 2, page["next_cursor"])
    assert [i["customer_id"] for i in rest["items"]] == [str(customers[2])] and rest["next_cursor"] is None
    only = rpc.call("reports", "customer_metrics", str(tenant_id), [str(customers[1])])
    assert only["total"] == 1 and only["items"][0]["open_tickets"] == 0
    assert rpc.call("reports", "customer_metrics", str(tenant_id), [])["items"] == []
    with pytest.raises(InvalidInput):
        rpc.call("reports", "customer_metrics", str(tenant_id), ["nope"])


def test_trend_reports_are_drawn_as_png_and_svg(reports, rpc, tenant_id):
    tenant = str(tenant_id)
    png = rpc.call("reports", "report_chart", tenant, "benchmarks", "png", {"weeks": 6}, 640, 320)
    assert png["content_type"] == "image/png" and png["filename"] == "benchmarks.png"
    image = Image.open(io.BytesIO(base64.b64decode(png["data"])))
    assert (image.format, image.size) == ("PNG", (640, 320))

    svg = rpc.call("reports", "report_chart", tenant, "benchmarks", "svg",
                   {"weeks": 3, "metrics": "first_response_attainment_pct,resolution_attainment_pct"})
    text = base64.b64decode(svg["data"]).decode("utf-8")
    ElementTree.fromstring(text)  # it parses
    assert "First-response SLA attainment %" in text and "Resolution SLA attainment %" in text

    volume = base64.b64decode(rpc.call("reports", "report_chart", tenant, "ticket_volume", "svg")["data"]).decode()
    assert all(label in volume for label in ("Created", "Resolved", "Closed"))
    periods = base64.b64decode(rpc.call("reports", "report_chart", tenant, "ticket_volume_report", "svg",
                                        {"period": "month", "count": 3})["data"]).decode()
    assert all(label in periods for label in ("Created", "Reopened", "Backlog", "Ticket volume per month"))
    sla = base64.b64decode(rpc.call("reports", "report_chart", tenant, "sla_attainment", "svg",
                                    {"period": "week"})["data"]).decode()
    assert "This period" in sla and "Previous period" in sla
    status = rpc.call("reports", "report_chart", tenant, "status", "png")
    assert Image.open(io.BytesIO(base64.b64decode(status["data"]))).size == (800, 400)
    for bad in [("benchmarks", "gif", {}), ("benchmarks", "png", {"metrics": "nope"}), ("time", "png", {})]:
        with pytest.raises(InvalidInput):
            rpc.call("reports", "report_chart", tenant, *bad)
