"""The status and time reports against the real RabbitMQ and PostgreSQL.

Events are published as the customers, tickets and billing services' relays publish them; the
reports service runs in-process.
"""
import uuid
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from custops.contracts.billing import FieldChange, TimeDeleted, TimeLogged, TimeUpdated
from custops.contracts.customers import (ProjectCreated, ProjectDeleted, TaskCompleted, TaskCreated, TaskReopened,
                                         TenantCreated)
from custops.contracts.tickets import TicketStatusChanged
from custops.errors import InvalidInput
from custops.events import envelope_for
from custops.testing import publish_each_and_wait as publish
from reports.status_report import week_start_of

NEW_YORK = ZoneInfo("America/New_York")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant at `day` hour:minute in New York."""
    return datetime.combine(day, time(hour, minute), NEW_YORK).astimezone(timezone.utc)


def test_status_report_counts_items_once_in_the_tenants_sunday_weeks(reports, rpc, tenant_id):
    tenant = str(tenant_id)
    publish(reports, "on_tenant_created", envelope_for(TenantCreated(
        tenant_id=tenant_id, name="T", timezone="America/New_York", week_start="sunday"), tenant_id,
        occurred_at=datetime.now(timezone.utc), sequence=1))
    today = datetime.now(NEW_YORK).date()
    week = week_start_of(today, "sunday") - timedelta(weeks=4)  # a finished week, a Sunday
    last = week - timedelta(weeks=1)
    customer, other_customer = uuid.uuid4(), uuid.uuid4()
    website, rollout, dropped = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    publish(reports, "on_project_created", *[
        envelope_for(ProjectCreated(project_id=p, customer_id=c, name=n, status="active"), tenant_id)
        for p, c, n in [(website, customer, "Website"), (rollout, other_customer, "Rollout"),
                        (dropped, customer, "Dropped")]])

    def completed(task, project, at, cust=customer, due=None):
        return envelope_for(TaskCompleted(task_id=task, project_id=project, customer_id=cust, title="t",
                                          completed_at=at, due_date=due), tenant_id)

    again = uuid.uuid4()
    first = completed(again, website, local(last + timedelta(days=2), 10))
    reopened = envelope_for(TaskReopened(task_id=again, project_id=website, customer_id=customer, status="doing",
                                         category="in_progress"), tenant_id,
                            occurred_at=local(last + timedelta(days=3), 10))
    second = completed(again, website, local(week + timedelta(days=1), 10))
    # Saturday 23:30 in New York is Sunday 04:30 UTC: still last week in the tenant's zone
    saturday_night = completed(uuid.uuid4(), website, local(week - timedelta(days=1), 23, 30))
    # Sunday noon opens the tenant's week (a Monday week would put it in the week before)
    sunday_noon = completed(uuid.uuid4(), website, local(week, 12))
    publish(reports, "on_task_completed", first, completed(uuid.uuid4(), website, local(last, 9)),
            completed(uuid.uuid4(), website, local(last + timedelta(days=4), 9)), saturday_night, sunday_noon,
            sunday_noon, completed(uuid.uuid4(), dropped, local(week, 15)))
    publish(reports, "on_task_reopened", reopened)
    publish(reports, "on_task_completed", second)
    # an open task of Rollout due mid-week: overdue by the end of the week
    publish(reports, "on_task_created", envelope_for(TaskCreated(
        task_id=uuid.uuid4(), project_id=rollout, customer_id=other_customer, title="late", status="todo",
        category="todo", due_date=(week + timedelta(days=2)).isoformat()), tenant_id))
    publish(reports, "on_project_deleted", envelope_for(ProjectDeleted(
        project_id=dropped, customer_id=customer, name="Dropped"), tenant_id))
    publish(reports, "on_ticket_status_changed", envelope_for(TicketStatusChanged(
        ticket_id=uuid.uuid4(), number=1, customer_id=customer, old_status="open", new_status="resolved",
        changed_at=local(week + timedelta(days=3), 11)), tenant_id))

    result = rpc.call("reports", "status_report", tenant, (week + timedelta(days=3)).isoformat())
    assert (result["week_start"], result["last_week_start"], result["first_day_of_week"]) == (
        week.isoformat(), last.isoformat(), "sunday")
    rows = {(r["customer_id"], r["project_name"]): (r["this_week"], r["last_week"], r["delta"], r["status"])
            for r in result["items"]}
    assert rows == {
        # last week: two tasks + Saturday night (the reopened one moved to this week); this week: it + Sunday noon
        (str(customer), "Website"): (2, 3, -1, "Delayed"),
        (str(customer), "Tickets"): (1, 0, 1, "On Track"),
        (str(other_customer), "Rollout"): (0, 0, 0, "At Risk"),
    }
    roll_up = {c["customer_id"]: (c["this_week"], c["last_week"], c["status"]) for c in result["customers"]}
    assert roll_up == {str(customer): (3, 3, "On Track"), str(other_customer): (0, 0, "At Risk")}

    earlier = rpc.call("reports", "status_report", tenant, last.isoformat(), str(customer))
    assert [(r["project_name"], r["this_week"], r["last_week"]) for r in earlier["items"]] == [("Website", 3, 0)]


def test_status_report_refuses_bad_input(reports, rpc, tenant_id):
    for args in [("2026-13-01",), ("tuesday",), (None, "not-a-customer")]:
        with pytest.raises(InvalidInput):
            rpc.call("reports", "status_report", str(tenant_id), *args)
    empty = rpc.call("reports", "status_report", str(tenant_id))
    assert (empty["items"], empty["customers"], empty["first_day_of_week"]) == ([], [], "monday")


def entry(tenant_id, cls, entry_id, member, customer, minutes, billable, day, revision=1, **extra):
    fields = dict(entry_id=entry_id, member_id=member, customer_id=customer, minutes=minutes, billable=billable,
                  work_date=day, revision=revision, **extra)
    if cls is TimeUpdated:
        fields.update(changes={"minutes": FieldChange(old=60, new=minutes)}, updated_at=datetime.now(timezone.utc))
    if cls is TimeDeleted:
        fields.update(deleted_at=datetime.now(timezone.utc))
    return envelope_for(cls(**fields), tenant_id)


def test_time_report_counts_each_entry_once_with_its_latest_values(reports, rpc, tenant_id):
    tenant = str(tenant_id)
    alice, bob, acme, globex, project = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    day = date(2026, 6, 10)
    corrected, internal, gone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    logged = entry(tenant_id, TimeLogged, corrected, alice, acme, 60, True, day, project_id=project,
                   category="development")
    updated = entry(tenant_id, TimeUpdated, corrected, alice, acme, 90, True, day, revision=2, project_id=project,
                    category="development")
    publish(reports, "on_time_updated", updated)
    publish(reports, "on_time_logged", logged,  # arrives after its correction: stale
            entry(tenant_id, TimeLogged, internal, bob, globex, 30, False, day + timedelta(days=1),
                  category="admin"),
            entry(tenant_id, TimeLogged, gone, bob, acme, 45, True, day),
            entry(tenant_id, TimeLogged, uuid.uuid4(), bob, acme, 600, True, day + timedelta(days=30)))
    publish(reports, "on_time_deleted", entry(tenant_id, TimeDeleted, gone, bob, acme, 45, True, day, revision=1))
    publish(reports, "on_time_updated", updated)  # a redelivery changes nothing

    def report(group_by):
        result = rpc.call("reports", "time_report", tenant, group_by, day.isoformat(),
                          (day + timedelta(days=6)).isoformat())
        return result, {i["key"]: (i["tracked_minutes"], i["billable_minutes"], i["internal_minutes"])
                        for i in result["items"]}

    result, by_customer = report("customer")
    assert by_customer == {str(acme): (90, 90, 0), str(globex): (30, 0, 30)}
    assert (result["totals"]["tracked_hours"], result["totals"]["billable_hours"],
            result["totals"]["internal_hours"], result["totals"]["utilization"]) == (2.0, 1.5, 0.5, 0.75)
    assert report("member")[1] == {str(alice): (90, 90, 0), str(bob): (30, 0, 30)}
    assert report("category")[1] == {"development": (90, 90, 0), "admin": (30, 0, 30)}
    assert report("project")[1] == {str(project): (90, 90, 0), None: (30, 0, 30)}
    only_acme = rpc.call("reports", "time_report", tenant, "member", day.isoformat(), day.isoformat(), str(acme))
    assert [(i["key"], i["tracked_minutes"]) for i in only_acme["items"]] == [(str(alice), 90)]
    assert rpc.call("reports", "time_report", str(uuid.uuid4()), "customer", day.isoformat())["items"] == []


def test_time_report_refuses_bad_input(reports, rpc, tenant_id):
    for args in [("team",), ("customer", "2026-06-10", "2026-06-01"), ("customer", "2020-01-01", "2026-01-01"),
                 ("customer", "soon")]:
        with pytest.raises(InvalidInput):
            rpc.call("reports", "time_report", str(tenant_id), *args)


def test_sla_attainment_by_priority_and_tier_in_the_period_each_timer_ended(reports, rpc, tenant_id):
    from custops.contracts.customers import CustomerCreated
    from custops.contracts.tickets import TicketCreated, TicketReplied, TicketResolved, TicketSlaBreached

    tenant = str(tenant_id)
    big, small = uuid.uuid4(), uuid.uuid4()
    publish(reports, "on_customer_created",
            envelope_for(CustomerCreated(customer_id=big, name="Big", tier="enterprise", domains=[]), tenant_id),
            envelope_for(CustomerCreated(customer_id=small, name="Small", tier="smb", domains=[]), tenant_id))
    day = datetime(2026, 5, 6, 12, tzinfo=timezone.utc)
    tickets = {name: uuid.uuid4() for name in ("answered", "breached", "next_week", "auto")}
    publish(reports, "on_ticket_created", *[envelope_for(TicketCreated(
        ticket_id=tid, number=1, customer_id=big if name != "answered" else small, subject="s",
        priority="urgent" if name == "breached" else "normal", status="new", source="api", created_at=day),
        tenant_id) for name, tid in tickets.items()])

    def reply(name, at, automatic=False):
        return envelope_for(TicketReplied(ticket_id=tickets[name], number=1, customer_id=big if name != "answered"
                                          else small, message_id=uuid.uuid4(), author_member_id=None, subject="s",
                                          body="b", replied_at=at, automatic=automatic), tenant_id)

    publish(reports, "on_ticket_replied", reply("answered", day + timedelta(minutes=10)),
            reply("answered", day + timedelta(minutes=50)), reply("next_week", day + timedelta(days=7)),
            reply("auto", day, automatic=True))
    publish(reports, "on_ticket_sla_breached", envelope_for(TicketSlaBreached(
        ticket_id=tickets["breached"], number=1, customer_id=big, timer="first_response",
        deadline=day + timedelta(hours=1), target_minutes=60), tenant_id))
    publish(reports, "on_ticket_resolved", envelope_for(TicketResolved(
        ticket_id=tickets["answered"], number=1, customer_id=small, resolved_at=day + timedelta(hours=3)), tenant_id))

    result = rpc.call("reports", "sla_attainment", tenant, "2026-05-04", "2026-05-10")
    fr = result["first_response"]
    assert (fr["met"], fr["breached"], fr["attainment_pct"], fr["breach_rate_pct"]) == (1, 1, 50.0, 50.0)
    assert [(g["key"], g["met"], g["breached"]) for g in fr["by_priority"]] == [("normal", 1, 0), ("urgent", 0, 1)]
    assert [(g["key"], g["met"], g["breached"]) for g in fr["by_tier"]] == [("enterprise", 0, 1), ("smb", 1, 0)]
    assert (result["resolution"]["met"], result["resolution"]["attainment_pct"]) == (1, 100.0)
    later = rpc.call("reports", "sla_attainment", tenant, "2026-05-11", "2026-05-17")["first_response"]
    assert (later["met"], later["breached"]) == (1, 0)  # counted in the week its reply came
    with pytest.raises(InvalidInput):
        rpc.call("reports", "sla_attainment", tenant, "2026-05-11", "2026-05-01")


def test_the_tenants_status_rules_decide_the_status_and_bad_rules_change_nothing(reports, rpc, tenant_id):
    tenant, customer, project = str(tenant_id), uuid.uuid4(), uuid.uuid4()
    week = week_start_of(datetime.now(timezone.utc).date(), "monday") - timedelta(weeks=2)
    publish(reports, "on_task_completed", envelope_for(TaskCompleted(
        task_id=uuid.uuid4(), project_id=project, customer_id=customer, title="t",
        completed_at=datetime.combine(week - timedelta(days=3), time(12), timezone.utc)), tenant_id))

    def status():
        [item] = rpc.call("reports", "status_report", tenant, week.isoformat())["items"]
        return item["last_week"], item["this_week"], item["status"]

    assert status() == (1, 0, "On Track")  # one item last week is under the default baseline of 3
    assert rpc.call("reports", "put_status_rules", tenant, {"min_last_week": 1}) == {
        "delayed_pct": 30.0, "ahead_pct": 30.0, "min_last_week": 1, "at_risk_overdue_tasks": 1,
        "at_risk_missed_milestones": 1}
    assert status() == (1, 0, "Delayed")
    for bad in [{"min_last_week": -1}, {"delayed_pct": "lots"}, {"surprise": 1}, ["min_last_week"]]:
        with pytest.raises(InvalidInput):
            rpc.call("reports", "put_status_rules", tenant, bad)
    assert rpc.call("reports", "get_status_rules", tenant)["min_last_week"] == 1
    assert rpc.call("reports", "get_status_rules", str(uuid.uuid4()))["min_last_week"] == 3
