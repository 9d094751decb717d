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
    return parse(LogTime, {"customer_id": str(uuid.uuid4()), "minutes": 30, **overrides})


def test_defaults_billable_today_and_empty_note():
    cmd = _log()
    assert cmd.billable is True
    assert cmd.work_date == utc_today()
    assert cmd.note == ""
    assert cmd.ticket_id is None


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
