"""The activity log's pure rules: interaction types and their fields, the heatmap's calendar and
order, what the work-plan and mail events say."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custops.contracts.customers import ProjectCreated, TaskCompleted, TaskCreated
from custops.contracts.mailsync import MailAddress, MailReceived
from custops.contracts.tickets import TicketCreated
from custops.errors import InvalidInput
from timeline import heatmap
from timeline.interaction_types import BUILT_IN, parse_definition, validate_fields
from timeline.summaries import describe, links_of

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)


def errors_of(call) -> dict:
    with pytest.raises(InvalidInput) as caught:
        call()
    return {e["field"]: e["message"] for e in caught.value.errors}


def test_the_ten_built_in_kinds():
    assert set(BUILT_IN) == {"call", "meeting", "email", "note", "chat", "training", "check_in", "feedback",
                             "issue_report", "handoff"}


def test_a_calls_fields_are_validated_and_normalised():
    call = BUILT_IN["call"]
    assert validate_fields(call, {"direction": "outbound", "duration_minutes": 25.0, "participants": [" Jo "]}) == {
        "direction": "outbound", "duration_minutes": 25, "participants": ["Jo"]}
    assert errors_of(lambda: validate_fields(call, {"direction": "sideways", "duration_minutes": -1, "colour": 1})) == {
        "fields.direction": "must be one of inbound, outbound", "fields.duration_minutes": "must be at least 0",
        "fields.colour": "not a field of call"}
    assert errors_of(lambda: validate_fields(call, {"duration_minutes": True})) == {
        "fields.duration_minutes": "must be an integer"}


def test_a_meetings_attendees_are_a_list_of_people():
    meeting = BUILT_IN["meeting"]
    assert validate_fields(meeting, {"attendees": ["ada@acme.example", "CFO"]})["attendees"] == [
        "ada@acme.example", "CFO"]
    assert "fields.attendees" in errors_of(lambda: validate_fields(meeting, {"attendees": "everyone"}))


def test_a_tenant_kind_with_required_fields_select_and_bounds():
    qbr = parse_definition("qbr", {"label": "Quarterly review", "fields": [
        {"name": "quarter", "kind": "select", "choices": ["Q1", "Q2", "Q3", "Q4"], "required": True},
        {"name": "nps", "kind": "integer", "minimum": 0, "maximum": 10},
        {"name": "held_on", "kind": "date"}]})
    assert qbr.built_in is False
    assert validate_fields(qbr, {"quarter": "Q2", "held_on": "2026-03-04"}) == {"quarter": "Q2",
                                                                                 "held_on": "2026-03-04"}
    assert errors_of(lambda: validate_fields(qbr, {"nps": 11, "held_on": "4 March"})) == {
        "fields.quarter": "required", "fields.nps": "must be at most 10",
        "fields.held_on": "must be a date (YYYY-MM-DD)"}


@pytest.mark.parametrize("kind, doc, field", [
    ("call", {"label": "Call"}, "kind"),  # a built-in's name
    ("Bad Kind", {"label": "x"}, "kind"),
    ("qbr", {"label": ""}, "label"),
    ("qbr", {"label": "x", "fields": [{"name": "a", "kind": "colour"}]}, "fields.0.kind"),
    ("qbr", {"label": "x", "fields": [{"name": "a", "kind": "select"}]}, "fields.0.choices"),
    ("qbr", {"label": "x", "fields": [{"name": "a", "kind": "text"}, {"name": "a", "kind": "text"}]}, "fields.1.name"),
    ("qbr", {"label": "x", "fields": [{"name": "a", "kind": "integer", "minimum": 5, "maximum": 1}]},
     "fields.0.minimum"),
    ("qbr", {"label": "x", "fields": [{"name": "a", "kind": "text", "secret": True}]}, "fields.0.secret"),
])
def test_a_bad_definition_names_what_is_wrong(kind, doc, field):
    assert field in errors_of(lambda: parse_definition(kind, doc))


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.none(), st.integers(), st.text(), st.booleans(),
                                                                    st.lists(st.text(max_size=5), max_size=3))))
def test_validation_never_crashes_it_accepts_or_names_fields(given_fields):
    for kind in BUILT_IN.values():
        try:
            validate_fields(kind, given_fields)
        except InvalidInput as exc:
            assert exc.errors and all(e["field"].startswith("fields.") for e in exc.errors)


# --- heatmap ---

@given(st.dates(date(2000, 1, 1), date(2100, 1, 1)), st.sampled_from(heatmap.WEEKDAYS))
def test_a_week_bucket_starts_on_the_tenants_first_day_and_holds_the_day(day, week_start):
    first = heatmap.bucket_of(day, "week", week_start)
    assert heatmap.WEEKDAYS[first.weekday()] == week_start
    assert first <= day < first + timedelta(days=7)


@given(st.dates(date(2000, 1, 1), date(2099, 1, 1)), st.integers(0, 400), st.sampled_from(["day", "week", "month"]))
def test_buckets_cover_the_range_without_gaps(start, days, unit):
    end = start + timedelta(days=days)
    columns = heatmap.buckets(start, end, unit, "sunday")
    assert columns[0] <= start and heatmap.bucket_of(end, unit, "sunday") == columns[-1]
    assert columns == sorted(set(columns))
    assert all(heatmap.bucket_of(c, unit, "sunday") == c for c in columns)


def test_boundaries_are_the_tenants_midnights_across_a_dst_change():
    columns = heatmap.buckets(date(2026, 3, 28), date(2026, 3, 30), "day")
    bounds = [b.astimezone(timezone.utc) for b in heatmap.boundaries(columns, "day", "Europe/Berlin")]
    assert bounds == [datetime(2026, 3, 27, 23, tzinfo=timezone.utc), datetime(2026, 3, 28, 23, tzinfo=timezone.utc),
                      datetime(2026, 3, 29, 22, tzinfo=timezone.utc), datetime(2026, 3, 30, 22, tzinfo=timezone.utc)]
    week = heatmap.boundaries(heatmap.buckets(date(2026, 3, 4), date(2026, 3, 4), "week"), "week", "Europe/Berlin")
    assert [b.astimezone(timezone.utc) for b in week] == [datetime(2026, 3, 1, 23, tzinfo=timezone.utc),
                                                          datetime(2026, 3, 8, 23, tzinfo=timezone.utc)]


def test_quiet_accounts_first_the_longest_quiet_first_then_the_busiest():
    counts = {"busy": [5, 4], "calm": [0, 1], "dark": [2, 0]}
    last = {"busy": NOW - timedelta(days=1), "calm": NOW - timedelta(days=2), "dark": NOW - timedelta(days=30),
            "never": None, "darker": NOW - timedelta(days=60)}
    rows = heatmap.arrange(counts, last, 2, NOW, quiet_days=14)
    assert [r.customer_id for r in rows] == ["never", "darker", "dark", "busy", "calm"]
    assert [r.quiet for r in rows] == [True, True, True, False, False]
    assert rows[2].counts == [2, 0] and rows[3].doc(NOW)["days_since_human"] == 1


# --- the events of other issues ---

def test_a_portal_visible_task_is_customer_visible_and_a_done_task_credits_who_did_it():
    customer, project, member = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    created = describe(TaskCreated(task_id=uuid.uuid4(), project_id=project, customer_id=customer, title="Kick-off",
                                   status="todo", category="todo", due_date="2026-03-09", portal_visible=True))
    assert (created.summary, created.internal) == ("Task added: Kick-off (due 2026-03-09)", False)
    done = describe(TaskCompleted(task_id=uuid.uuid4(), project_id=project, customer_id=customer, title="Kick-off",
                                  completed_by=member, completed_at=NOW))
    assert done.internal and done.actor.id == member and done.occurred_at == NOW
    assert describe(ProjectCreated(project_id=project, customer_id=customer, name="Onboarding",
                                   status="active")).internal is True


def test_an_email_from_the_customer_is_theirs_automatic_mail_is_internal():
    mail = dict(mail_id=uuid.uuid4(), mailbox_id=uuid.uuid4(), internet_message_id="m@x", subject="Invoice?",
                sender=MailAddress(email="jo@acme.example", name="Jo"), received_at=NOW, text="hi",
                customer_id=uuid.uuid4(), contact_id=uuid.uuid4(), raw_sha256="0" * 64)
    entry = describe(MailReceived(**mail))
    assert (entry.summary, entry.internal, entry.actor.type) == ("Email from Jo: Invoice?", False, "contact")
    assert describe(MailReceived(**mail, automatic="auto_reply")).internal is True
    assert links_of(MailReceived(**mail)) == {"mail_message_id": str(mail["mail_id"])}


def test_links_come_from_the_payloads_ids():
    ticket = TicketCreated(ticket_id=uuid.uuid4(), number=1, customer_id=uuid.uuid4(), subject="s", priority="high",
                           status="new", source="email", created_at=NOW)
    assert links_of(ticket) == {"ticket_id": str(ticket.ticket_id)}
