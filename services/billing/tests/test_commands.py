"""Input rules of the billing service, checked without a broker or a database."""
import uuid
from datetime import date, timedelta

import pytest

from billing.commands import LogTime, SummaryRange, TimeEntryFilters, utc_today
from custops.errors import InvalidInput
from custops.validation import parse


def _fields(exc_info) -> set[str]:
    return {e["field"] for e in exc_info.value.errors}


def _log(**overrides):
    return parse(LogTime, {"customer_id": str(uuid.uuid4()), "minutes": 30, **overrides}).checked()


def test_billable_and_the_day_are_left_to_the_service_and_the_note_is_empty():
    # billable: the precedence decides (billing.billability), never a silent default here;
    # the day: the member's local today, which only the service knows
    cmd = _log()
    assert cmd.billable is None and cmd.billable_reason is None
    assert cmd.work_date is None
    assert cmd.note == ""
    assert cmd.ticket_id is None and cmd.tags == [] and cmd.category is None


def test_a_start_and_an_end_give_the_minutes():
    cmd = _log(minutes=None, started_at="2026-03-02T09:00:00+01:00", ended_at="2026-03-02T10:29:40+01:00")
    assert cmd.minutes == 90
    assert _log(started_at="2026-03-02T09:00:00Z", ended_at="2026-03-02T09:30:00Z").minutes == 30


@pytest.mark.parametrize("span, field", [
    ({"started_at": "2026-03-02T09:00:00Z"}, "ended_at"),  # no end
    ({"ended_at": "2026-03-02T09:00:00Z"}, "started_at"),  # no start
    ({"started_at": "2026-03-02T09:00:00Z", "ended_at": "2026-03-02T08:00:00Z"}, "ended_at"),
    ({"started_at": "2026-03-02T09:00:00Z", "ended_at": "2026-03-02T09:10:00Z", "minutes": 30}, "ended_at"),
    ({"started_at": "2026-03-01T09:00:00Z", "ended_at": "2026-03-02T09:01:00Z", "minutes": None}, "ended_at"),
])
def test_a_span_that_does_not_hold_names_its_field(span, field):
    with pytest.raises(InvalidInput) as exc_info:
        _log(**span)
    assert _fields(exc_info) == {field}


def test_tags_are_trimmed_and_kept_once_and_bounded():
    assert _log(tags=[" vip ", "vip", "", "onsite"]).tags == ["vip", "onsite"]
    with pytest.raises(InvalidInput) as exc_info:
        _log(tags=[f"t{i}" for i in range(21)])
    assert _fields(exc_info) == {"tags"}


@pytest.mark.parametrize("minutes", [1, 1440])
def test_minutes_bounds_are_inclusive(minutes):
    assert _log(minutes=minutes).minutes == minutes


@pytest.mark.parametrize("minutes", [0, -5, 1441, "30", 12.5, True, None])
def test_minutes_outside_1_to_1440_or_not_an_integer_are_rejected(minutes):
    with pytest.raises(InvalidInput) as exc_info:
        _log(minutes=minutes)
    assert _fields(exc_info) == {"minutes"}


def test_customer_id_is_required_and_must_be_a_uuid():
    with pytest.raises(InvalidInput) as exc_info:
        parse(LogTime, {"minutes": 30})
    assert _fields(exc_info) == {"customer_id"}
    with pytest.raises(InvalidInput) as exc_info:
        _log(customer_id="acme")
    assert _fields(exc_info) == {"customer_id"}


def test_unknown_fields_are_rejected():
    with pytest.raises(InvalidInput) as exc_info:
        _log(hours=2)
    assert _fields(exc_info) == {"hours"}


def test_work_date_may_be_past_or_tomorrow_but_not_later():
    assert _log(work_date="2020-02-29").work_date == date(2020, 2, 29)
    tomorrow = utc_today() + timedelta(days=1)  # a tenant east of UTC may already be there
    assert _log(work_date=tomorrow.isoformat()).work_date == tomorrow
    with pytest.raises(InvalidInput) as exc_info:
        _log(work_date=(utc_today() + timedelta(days=2)).isoformat())
    assert _fields(exc_info) == {"work_date"}


def test_filters_take_from_and_to_as_inclusive_dates():
    f = parse(TimeEntryFilters, {"from": "2026-01-01", "to": "2026-01-31"})
    assert (f.date_from, f.date_to) == (date(2026, 1, 1), date(2026, 1, 31))
    assert parse(TimeEntryFilters, {"from": "2026-01-05", "to": "2026-01-05"}).date_to == date(2026, 1, 5)


def test_a_range_ending_before_it_starts_is_rejected():
    with pytest.raises(InvalidInput) as exc_info:
        parse(TimeEntryFilters, {"from": "2026-02-01", "to": "2026-01-31"})
    assert _fields(exc_info) == {"to"}


def test_summary_needs_both_ends():
    with pytest.raises(InvalidInput) as exc_info:
        parse(SummaryRange, {"from": "2026-01-01", "to": None})
    assert _fields(exc_info) == {"to"}


def test_member_id_is_optional_and_must_be_a_uuid():
    assert _log().member_id is None
    member = uuid.uuid4()
    assert _log(member_id=str(member)).member_id == member
    with pytest.raises(InvalidInput) as exc_info:
        _log(member_id="alice")
    assert _fields(exc_info) == {"member_id"}
