"""What each event says on the timeline (pure)."""
import uuid
from datetime import date, datetime, timezone

import pytest

from custops.contracts.billing import TimeDeleted, TimeLogged, TimeUpdated
from custops.contracts.customers import ContactArchived, ContactCreated, CustomerCreated, CustomerUpdated
from custops.contracts.tickets import (
    TicketAssigned,
    TicketCreated,
    TicketCustomerReplied,
    TicketNoteAdded,
    TicketReplied,
    TicketSlaBreached,
    TicketSlaWarning,
    TicketStatusChanged,
    TicketUpdated,
)
from custops.contracts.timeline import InteractionLogged
from custops.events import Actor, EventData
from custops.topology import subscriptions
from timeline.recorded_events import _contract_exists as contract_exists
from timeline.recorded_events import bound
from timeline.service import TimelineService
from timeline.summaries import describe, duration, one_line

CUSTOMER = uuid.uuid4()
AT = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
TICKET = uuid.uuid4()
MEMBER = uuid.uuid4()
AS_MEMBER = Actor(type="member", id=MEMBER)
ON_TICKET_12 = {"ticket_id": TICKET, "number": 12, "customer_id": CUSTOMER}


def test_ticket_created_names_number_subject_and_priority_and_is_public():
    ticket_id = uuid.uuid4()
    entry = describe(TicketCreated(ticket_id=ticket_id, number=12, customer_id=CUSTOMER, subject="Printer on fire",
                                   priority="high", status="new", source="email", created_at=AT))
    assert entry.summary == "Ticket #12 opened: Printer on fire (high)"
    assert (entry.type, entry.internal) == ("ticket.created", False)
    assert (entry.subject_type, entry.subject_id, entry.occurred_at) == ("ticket", ticket_id, AT)


def test_ticket_status_change_reads_as_a_move():
    entry = describe(TicketStatusChanged(ticket_id=uuid.uuid4(), number=7, customer_id=CUSTOMER,
                                         old_status="in_progress", new_status="waiting_on_customer", changed_at=AT))
    assert entry.summary == "Ticket #7 status: in progress → waiting on customer"
    assert entry.internal is False and entry.occurred_at == AT


def test_an_agent_reply_is_public_credits_the_author_and_keeps_the_body_out_of_the_summary():
    entry = describe(TicketReplied(**ON_TICKET_12, message_id=uuid.uuid4(), author_member_id=MEMBER,
                                   subject="Re: Printer on fire", body="Unplug it now", replied_at=AT))
    assert entry.summary == "Reply sent on ticket #12"
    assert (entry.type, entry.internal, entry.actor, entry.occurred_at) == ("ticket.replied", False, AS_MEMBER, AT)
    assert (entry.subject_type, entry.subject_id) == ("ticket", TICKET)


def test_an_internal_note_is_internal():
    entry = describe(TicketNoteAdded(**ON_TICKET_12, message_id=uuid.uuid4(), author_member_id=MEMBER, added_at=AT))
    assert entry.summary == "Internal note on ticket #12"
    assert (entry.type, entry.internal, entry.actor, entry.occurred_at) == ("ticket.note_added", True, AS_MEMBER, AT)
    assert (entry.subject_type, entry.subject_id) == ("ticket", TICKET)


def test_a_customer_reply_is_public_at_the_time_it_was_received_and_credits_the_contact():
    contact_id = uuid.uuid4()
    entry = describe(TicketCustomerReplied(**ON_TICKET_12, message_id=uuid.uuid4(), contact_id=contact_id,
                                           received_at=AT))
    assert entry.summary == "Customer replied on ticket #12"
    assert (entry.type, entry.internal, entry.occurred_at) == ("ticket.customer_replied", False, AT)
    assert (entry.subject_type, entry.subject_id) == ("ticket", TICKET)
    assert entry.actor == Actor(type="contact", id=contact_id)
    # an unknown writer: whoever entered it (the envelope's actor) stands in
    assert describe(TicketCustomerReplied(**ON_TICKET_12, message_id=uuid.uuid4(), received_at=AT)).actor is None


def test_events_that_name_no_author_leave_the_actor_to_the_envelope():
    created = describe(TicketCreated(ticket_id=TICKET, number=12, customer_id=CUSTOMER, subject="s",
                                     priority="high", status="new", source="email", created_at=AT))
    moved = describe(TicketStatusChanged(**ON_TICKET_12, old_status="new", new_status="open", changed_at=AT))
    assigned = describe(TicketAssigned(**ON_TICKET_12, assignee_id=MEMBER, assigned_at=AT))
    assert (created.actor, moved.actor, assigned.actor) == (None, None, None)


def test_a_priority_change_reads_as_a_move_and_is_internal():
    entry = describe(TicketUpdated(**ON_TICKET_12, changes={"priority": "high"}, previous={"priority": "normal"},
                                   updated_at=AT))
    assert entry.summary == "Ticket #12 priority: normal → high"
    assert (entry.type, entry.internal, entry.occurred_at) == ("ticket.updated", True, AT)
    assert (entry.subject_type, entry.subject_id, entry.actor) == ("ticket", TICKET, None)


def test_field_edits_list_each_change_and_an_escalation_says_so():
    edit = describe(TicketUpdated(**ON_TICKET_12, updated_at=AT,
                                  changes={"tags": ["outage", "vip"], "subject": "Smoke\nnow", "priority": "urgent"},
                                  previous={"tags": [], "subject": "Fire", "priority": "high"}))
    assert edit.summary == "Ticket #12 priority: high → urgent; subject: Fire → Smoke now; tags: none → outage, vip"
    escalated = describe(TicketUpdated(**ON_TICKET_12, changes={"priority": "high"}, reason="escalation",
                                       updated_at=AT))  # no previous: an event from before it was added
    assert escalated.summary == "Ticket #12 priority → high (SLA escalation)"


@pytest.mark.parametrize("assignee,method,expected", [
    (MEMBER, "manual", "Ticket #12 assigned"),
    (MEMBER, "round_robin", "Ticket #12 assigned (round robin)"),
    (MEMBER, "escalation", "Ticket #12 assigned (escalation)"),
    (None, "manual", "Ticket #12 unassigned"),
])
def test_assignment_is_internal(assignee, method, expected):
    entry = describe(TicketAssigned(**ON_TICKET_12, assignee_id=assignee, previous_assignee_id=uuid.uuid4(),
                                    method=method, assigned_at=AT))
    assert entry.summary == expected
    assert (entry.type, entry.internal, entry.occurred_at) == ("ticket.assigned", True, AT)
    assert (entry.subject_type, entry.subject_id) == ("ticket", TICKET)


def test_sla_warnings_and_breaches_are_internal_and_name_the_timer():
    warn_at, deadline = AT, AT.replace(hour=10)
    warning = describe(TicketSlaWarning(**ON_TICKET_12, timer="next_response", deadline=deadline, warn_at=warn_at,
                                        target_minutes=60))
    assert (warning.type, warning.summary, warning.internal, warning.occurred_at) == (
        "ticket.sla_warning", "SLA next response at risk on ticket #12", True, warn_at)
    breach = describe(TicketSlaBreached(**ON_TICKET_12, timer="first_response", deadline=deadline,
                                        target_minutes=60))
    assert (breach.type, breach.summary, breach.internal, breach.occurred_at) == (
        "ticket.sla_breached", "SLA first response breached on ticket #12", True, deadline)
    assert (breach.subject_type, breach.subject_id) == ("ticket", TICKET)


def test_customer_records_are_internal():
    owner = uuid.uuid4()
    created = describe(CustomerCreated(customer_id=CUSTOMER, name="Acme Ltd", tier="enterprise",
                                       domains=["acme.example"], owner_id=owner))
    assert created.summary == "Customer created: Acme Ltd (enterprise)"
    assert created.internal is True
    # the owner looks after the account; who created it is the envelope's actor
    assert (created.subject_type, created.subject_id, created.actor) == ("customer", CUSTOMER, None)
    assert created.occurred_at is None  # the envelope's time is used


def test_customer_update_lists_changed_fields_in_order_with_short_values():
    entry = describe(CustomerUpdated(customer_id=CUSTOMER, changes={
        "tier": "smb", "name": "Acme\nGroup", "domains": ["a.example", "b.example"], "notes": "x" * 200}))
    assert entry.summary.startswith("Customer updated: domains = a.example, b.example; name = Acme Group; notes = x")
    assert entry.summary.endswith("…; tier = smb")
    assert len(entry.summary) < 150 and entry.internal is True


def test_contact_created():
    contact_id = uuid.uuid4()
    entry = describe(ContactCreated(contact_id=contact_id, customer_id=CUSTOMER, name="Jane Roe",
                                    email="jane@acme.example"))
    assert entry.summary == "Contact added: Jane Roe <jane@acme.example>"
    assert (entry.subject_type, entry.subject_id, entry.internal) == ("contact", contact_id, True)


def test_contact_archived():
    contact_id = uuid.uuid4()
    entry = describe(ContactArchived(contact_id=contact_id, customer_id=CUSTOMER, name="Jane Roe",
                                     email="jane@acme.example", archived_at=AT))
    assert entry.summary == "Contact archived: Jane Roe <jane@acme.example>"
    assert (entry.type, entry.subject_type, entry.subject_id, entry.internal, entry.occurred_at) == (
        "contact.archived", "contact", contact_id, True, AT)


@pytest.mark.parametrize("minutes,billable,note,expected", [
    (90, True, "migration call", "1h 30m logged (billable): migration call"),
    (45, False, "", "45m logged (non-billable)"),
    (120, True, "  ", "2h logged (billable)"),
])
def test_time_logged_is_internal_and_credits_the_member(minutes, billable, note, expected):
    member = uuid.uuid4()
    entry = describe(TimeLogged(entry_id=uuid.uuid4(), member_id=member, customer_id=CUSTOMER, minutes=minutes,
                                billable=billable, work_date=date(2026, 3, 4), note=note))
    assert entry.summary == expected
    assert entry.internal is True and entry.actor == Actor(type="member", id=member)
    assert entry.subject_type == "time_entry"


def _corrected(**changes) -> TimeUpdated:
    return TimeUpdated(entry_id=uuid.uuid4(), member_id=uuid.uuid4(), customer_id=CUSTOMER, minutes=45,
                       billable=True, work_date=date(2026, 3, 4), revision=2, updated_by_member_id=CORRECTOR,
                       updated_at=AT, changes={k: {"old": old, "new": new} for k, (old, new) in changes.items()})


CORRECTOR = uuid.uuid4()


@pytest.mark.parametrize("changes,expected", [
    ({"minutes": (30, 45)}, "Time entry corrected: 30m → 45m"),
    ({"minutes": (90, 60), "billable": (True, False), "work_date": ("2026-03-02", "2026-03-03")},
     "Time entry corrected: 1h 30m → 1h; billable → non-billable; work date 2026-03-02 → 2026-03-03"),
    ({"ticket_id": (None, str(uuid.uuid4())), "note": ("", "call")}, "Time entry corrected: ticket added; note edited"),
    ({"ticket_id": (str(uuid.uuid4()), None), "customer_id": (str(uuid.uuid4()), str(CUSTOMER))},
     "Time entry corrected: ticket removed; moved from another customer"),
    ({"member_id": (str(uuid.uuid4()), str(uuid.uuid4()))}, "Time entry corrected: moved to another member"),
])
def test_a_time_correction_says_what_changed_and_credits_who_corrected_it(changes, expected):
    entry = describe(_corrected(**changes))
    assert entry.summary == expected
    assert (entry.type, entry.internal, entry.subject_type, entry.occurred_at) == (
        "time.updated", True, "time_entry", AT)
    assert entry.actor == Actor(type="member", id=CORRECTOR)


def test_a_deleted_time_entry_says_how_much_time_went():
    entry_id = uuid.uuid4()
    entry = describe(TimeDeleted(entry_id=entry_id, member_id=uuid.uuid4(), customer_id=CUSTOMER, minutes=45,
                                 billable=False, work_date=date(2026, 3, 4), revision=3,
                                 deleted_by_member_id=CORRECTOR, deleted_at=AT))
    assert entry.summary == "Time entry deleted: 45m (non-billable)"
    assert (entry.type, entry.internal, entry.subject_id, entry.occurred_at) == ("time.deleted", True, entry_id, AT)
    assert entry.actor == Actor(type="member", id=CORRECTOR)


@pytest.mark.parametrize("internal", [True, False])
def test_interaction_keeps_its_own_summary_visibility_and_time(internal):
    entry = describe(InteractionLogged(activity_id=uuid.uuid4(), customer_id=CUSTOMER, kind="call",
                                       summary="Renewal call\nwith CFO", internal=internal, occurred_at=AT))
    assert (entry.type, entry.summary, entry.internal, entry.occurred_at) == (
        "interaction.call", "Renewal call with CFO", internal, AT)


def test_an_event_the_timeline_does_not_log_is_refused():
    class SomethingElse(EventData):
        TYPE = "something.else"

    with pytest.raises(LookupError):
        describe(SomethingElse())


def test_the_service_subscribes_to_exactly_the_events_it_logs():
    """Every line of the binding table whose contract exists, plus the tenant's clock; nothing else."""
    # the activity log's own consumers (the follow-ups' copies are `followups_on_*`)
    subscribed = {event_type for _, event_type, method in subscriptions(TimelineService) if method.startswith("on_")}
    assert subscribed == {event_type for _, event_type in bound()} | {"tenant.created", "tenant.updated"}
    assert {"customer.created", "customer.updated", "contact.created", "contact.archived", "ticket.created",
            "ticket.updated", "ticket.status_changed", "ticket.assigned", "ticket.replied", "ticket.note_added",
            "ticket.customer_replied", "ticket.sla_warning", "ticket.sla_breached", "time.logged", "time.updated",
            "time.deleted", "mail.received", "project.created", "task.created", "task.completed",
            "onboarding.applied"} <= subscribed
    assert "ticket.resolved" not in subscribed and "interaction.logged" not in subscribed
    # a line whose contract has not landed binds nothing (yet)
    assert all(contract_exists(t) for t in subscribed)


def test_helpers():
    assert one_line("  a\n\tb  c ") == "a b c"
    assert [duration(m) for m in (0, 5, 60, 61)] == ["0m", "5m", "1h", "1h 1m"]
