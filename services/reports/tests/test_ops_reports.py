"""SLA times and trend, ticket volume and onboarding velocity against the real RabbitMQ and
PostgreSQL: events published as the producers' relays publish them, the reports service in-process."""
import uuid
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from custops.contracts.customers import (CustomerCreated, OnboardingApplied, OnboardingReplanned, TaskCompleted,
                                         TaskCreated, TenantCreated)
from custops.contracts.tickets import (TicketAssigned, TicketCreated, TicketReplied, TicketSlaBreached,
                                       TicketSlaMet, TicketStatusChanged)
from custops.errors import InvalidInput
from custops.events import envelope_for
from custops.testing import publish_each_and_wait as publish

NEW_YORK = ZoneInfo("America/New_York")


def local(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), NEW_YORK).astimezone(timezone.utc)


def _tenant(reports, tenant_id, week_start="sunday"):
    publish(reports, "on_tenant_created", envelope_for(TenantCreated(
        tenant_id=tenant_id, name="T", timezone="America/New_York", week_start=week_start), tenant_id,
        occurred_at=datetime.now(timezone.utc), sequence=1))


def test_sla_medians_p90s_groups_and_the_week_over_week_trend(reports, rpc, tenant_id):
    _tenant(reports, tenant_id)
    customer, team, agent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    publish(reports, "on_customer_created", envelope_for(CustomerCreated(
        customer_id=customer, name="Big", tier="enterprise", domains=[]), tenant_id))
    week = date(2026, 5, 3)  # a Sunday: the tenant's week
    tickets = [uuid.uuid4() for _ in range(5)]
    publish(reports, "on_ticket_created", *[envelope_for(TicketCreated(
        ticket_id=t, number=i, customer_id=customer, subject="s", priority="high", status="new", source="email",
        created_at=local(week - timedelta(days=7))), tenant_id) for i, t in enumerate(tickets)])
    # the breached, still-running ticket's assignee comes from ticket.assigned
    publish(reports, "on_ticket_assigned", envelope_for(TicketAssigned(
        ticket_id=tickets[4], number=4, customer_id=customer, assignee_id=agent, team_id=team,
        assigned_at=local(week - timedelta(days=7))), tenant_id))

    def met(ticket, at, minutes, late=False):
        return envelope_for(TicketSlaMet(
            ticket_id=ticket, number=1, customer_id=customer, timer="first_response", started_at=at - timedelta(
                hours=1), met_at=at, deadline=at - timedelta(minutes=5) if late else at + timedelta(hours=1),
            target_minutes=60, business_minutes=minutes, breached=late, priority="urgent", tier="enterprise",
            team_id=team, assignee_id=agent if ticket != tickets[0] else None), tenant_id)

    def replied(ticket, at):
        return envelope_for(TicketReplied(ticket_id=ticket, number=1, customer_id=customer, message_id=uuid.uuid4(),
                                          author_member_id=agent, subject="s", body="b", replied_at=at), tenant_id)

    # a reply sent by mail is made before its mail leaves: the stop ticket.sla_met tells wins, whichever
    # arrives first
    publish(reports, "on_ticket_replied", replied(tickets[1], local(week, 9)))
    # Saturday 21:00 in New York is Sunday 01:00 UTC: still the week before in the tenant's calendar
    publish(reports, "on_ticket_sla_met", met(tickets[0], local(week, 10), 10), met(tickets[1], local(week, 11), 20),
            met(tickets[2], local(week + timedelta(days=2)), 90, late=True),
            met(tickets[3], local(week - timedelta(days=1), 21), 40),
            met(tickets[3], local(week + timedelta(days=3), 21), 400))  # a later run: the first one counts
    publish(reports, "on_ticket_replied", replied(tickets[0], local(week, 8)))
    publish(reports, "on_ticket_sla_breached", envelope_for(TicketSlaBreached(
        ticket_id=tickets[4], number=4, customer_id=customer, timer="first_response", deadline=local(week, 9),
        target_minutes=60), tenant_id))

    report = rpc.call("reports", "sla_attainment", str(tenant_id), None, None, "week", "2026-05-06")
    assert (report["date_from"], report["date_to"], report["previous_from"]) == ("2026-05-03", "2026-05-09",
                                                                               "2026-04-26")
    fr = report["first_response"]
    assert (fr["met"], fr["breached"], fr["attainment_pct"], fr["timed"]) == (2, 2, 50.0, 3)
    # percentile_cont over 10, 20, 90: the median 20, p90 20 + 0.8 × 70
    assert (fr["median_business_minutes"], fr["p90_business_minutes"]) == (20.0, 76.0)
    assert [(g["key"], g["met"], g["breached"]) for g in fr["by_priority"]] == [("high", 0, 1), ("urgent", 2, 1)]
    assert [(g["key"], g["total"]) for g in fr["by_assignee"]] == [(str(agent), 3), (None, 1)]
    assert [(g["key"], g["total"]) for g in fr["by_team"]] == [(str(team), 4)]
    assert [(g["key"], g["total"]) for g in fr["by_tier"]] == [("enterprise", 4)]
    trend = report["trend"]["first_response"]
    assert (trend["previous"]["met"], trend["previous"]["attainment_pct"]) == (1, 100.0)
    assert trend["delta"]["attainment_pct"] == -50.0 and trend["delta"]["median_business_minutes"] == -20.0
    month = rpc.call("reports", "sla_attainment", str(tenant_id), None, None, "month", "2026-05-06")
    assert (month["date_from"], month["date_to"], month["first_response"]["total"]) == ("2026-05-01", "2026-05-31", 5)
    with pytest.raises(InvalidInput):
        rpc.call("reports", "sla_attainment", str(tenant_id), None, None, "fortnight")


def test_ticket_volume_by_category_in_the_tenants_weeks_with_the_backlog_at_each_end(reports, rpc, tenant_id):
    _tenant(reports, tenant_id, "saturday")
    customer = uuid.uuid4()
    week = date(2026, 5, 2)  # a Saturday
    ids = [uuid.uuid4() for _ in range(3)]
    created = [envelope_for(TicketCreated(
        ticket_id=t, number=i, customer_id=customer, subject="s", priority="normal", status="new", source="portal",
        category="billing" if i else "general", created_at=local(week - timedelta(days=7) + timedelta(days=i))),
        tenant_id) for i, t in enumerate(ids)]
    # each event reaches both consumers once; published again, each consumer has it already
    publish(reports, "on_volume_ticket_created", *created)
    publish(reports, "on_ticket_created", *created)

    def move(ticket, old, new, at, seq):
        return envelope_for(TicketStatusChanged(ticket_id=ticket, number=1, customer_id=customer, old_status=old,
                                                new_status=new, changed_at=at), tenant_id, sequence=seq)

    moves = [move(ids[1], "new", "resolved", local(week - timedelta(days=3)), 10),
             move(ids[1], "resolved", "open", local(week + timedelta(days=1)), 11),
             move(ids[0], "new", "closed", local(week + timedelta(days=2)), 12)]
    redelivered = moves[0]
    publish(reports, "on_volume_status_changed", *moves, redelivered)
    publish(reports, "on_ticket_status_changed", *moves)

    report = rpc.call("reports", "ticket_volume_report", str(tenant_id), "category", "week", 2, "2026-05-04")
    assert report["first_day_of_week"] == "saturday"
    this, last = report["periods"]
    assert (this["period_start"], last["period_start"]) == ("2026-05-02", "2026-04-25")
    assert {g["key"]: (g["created"], g["resolved"], g["reopened"], g["backlog"]) for g in last["groups"]} == {
        "billing": (2, 0, 0, 1), "general": (1, 0, 0, 1)}  # resolved, then reopened: resolved nowhere
    assert {g["key"]: (g["created"], g["resolved"], g["reopened"], g["backlog"]) for g in this["groups"]} == {
        "billing": (0, 0, 1, 2)}  # general's ticket closed: nothing left, left out
    by_source = rpc.call("reports", "ticket_volume_report", str(tenant_id), "source", "month", 1, "2026-05-04")
    assert by_source["periods"][0]["totals"]["backlog"] == 2
    with pytest.raises(InvalidInput):
        rpc.call("reports", "ticket_volume_report", str(tenant_id), "team")


def test_onboarding_velocity_this_quarter_vs_last(reports, rpc, tenant_id):
    _tenant(reports, tenant_id)
    customer, project = uuid.uuid4(), uuid.uuid4()
    publish(reports, "on_customer_created", envelope_for(CustomerCreated(
        customer_id=customer, name="New", tier="mid_market", domains=[]), tenant_id))
    kickoff, golive = uuid.uuid4(), uuid.uuid4()
    publish(reports, "on_onboarding_applied", envelope_for(OnboardingApplied(
        project_id=project, customer_id=customer, template_id=uuid.uuid4(), template_version=1,
        start_date="2026-04-01", target_date="2026-04-20",
        steps=[{"key": "kickoff", "task_id": str(kickoff), "due_date": "2026-04-02", "first_value": False},
               {"key": "golive", "task_id": str(golive), "due_date": "2026-04-10", "first_value": True}]), tenant_id,
        sequence=1))
    publish(reports, "on_task_created", *[envelope_for(TaskCreated(
        task_id=t, project_id=project, customer_id=customer, title=k, status="todo", category="todo", due_date=d,
        step_key=k), tenant_id) for t, k, d in ((kickoff, "kickoff", "2026-04-02"), (golive, "golive", "2026-04-08"))])
    replanned = OnboardingReplanned(project_id=project, customer_id=customer, reason="start_date_changed",
                                    start_date="2026-04-01", target_date="2026-04-20",
                                    moves=[{"task_id": str(golive), "to": {"due_date": "2026-04-10"}}])
    replanned = envelope_for(replanned, tenant_id, sequence=2)
    publish(reports, "on_onboarding_replanned", replanned)
    publish(reports, "on_task_plans_replanned", replanned)
    publish(reports, "on_task_completed", *[envelope_for(TaskCompleted(
        task_id=t, project_id=project, customer_id=customer, title="t", completed_at=local(d), step_key=k,
        due_date=due), tenant_id, sequence=3)
        for t, k, d, due in ((kickoff, "kickoff", date(2026, 4, 2), "2026-04-02"),
                             (golive, "golive", date(2026, 4, 15), "2026-04-10"))])

    velocity = rpc.call("reports", "onboarding_velocity", str(tenant_id), "2026-05-01")
    assert (velocity["date_from"], velocity["date_to"]) == ("2026-04-01", "2026-06-30")
    assert (velocity["plans"], velocity["average_days"], velocity["median_days"]) == (1, 14.0, 14.0)
    assert (velocity["plans_due"], velocity["completion_rate_pct"]) == (1, 100.0)  # done by its target
    assert velocity["slowest_step"] == {"step_key": "golive", "tasks": 1, "average_delay_days": 5.0}
    assert [t["tier"] for t in velocity["by_tier"]] == ["mid_market"]
    assert velocity["previous"]["plans"] == 0 and velocity["delta"]["average_days"] is None
    with pytest.raises(InvalidInput):
        rpc.call("reports", "onboarding_velocity", str(tenant_id), "soon")
