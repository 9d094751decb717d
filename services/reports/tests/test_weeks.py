"""ISO weeks in the tenant's timezone (pure)."""
from datetime import date, datetime, timezone

import pytest

from reports.weeks import iso_week_of, window_start, zone


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_a_midweek_instant_belongs_to_its_week_whose_monday_is_given():
    assert iso_week_of(utc(2026, 3, 4, 12, 0), "UTC") == (2026, 10, date(2026, 3, 2))


def test_sunday_late_evening_utc_is_already_monday_of_the_next_week_in_berlin():
    sunday_2330 = utc(2026, 3, 8, 23, 30)
    assert iso_week_of(sunday_2330, "UTC") == (2026, 10, date(2026, 3, 2))
    assert iso_week_of(sunday_2330, "Europe/Berlin") == (2026, 11, date(2026, 3, 9))


def test_monday_early_utc_is_still_sunday_in_new_york():
    assert iso_week_of(utc(2026, 3, 9, 2, 0), "America/New_York") == (2026, 10, date(2026, 3, 2))


@pytest.mark.parametrize("instant,expected", [
    (utc(2026, 12, 31, 12), (2026, 53, date(2026, 12, 28))),
    (utc(2027, 1, 1, 12), (2026, 53, date(2026, 12, 28))),   # belongs to the previous ISO year
    (utc(2027, 1, 3, 23), (2026, 53, date(2026, 12, 28))),   # Sunday: last day of 2026-W53
    (utc(2027, 1, 4, 0), (2027, 1, date(2027, 1, 4))),
    (utc(2024, 12, 30, 8), (2025, 1, date(2024, 12, 30))),   # a December day in the next ISO year
])
def test_year_boundaries(instant, expected):
    assert iso_week_of(instant, "UTC") == expected


def test_new_year_in_the_tenant_zone_decides_the_week():
    # 2027-01-03 23:30 UTC is Monday 2027-01-04 in Berlin: week 1 of 2027 there, 2026-W53 in UTC
    instant = utc(2027, 1, 3, 23, 30)
    assert iso_week_of(instant, "UTC")[:2] == (2026, 53)
    assert iso_week_of(instant, "Europe/Berlin") == (2027, 1, date(2027, 1, 4))


def test_accepts_a_zone_object_and_instants_in_any_offset():
    from datetime import timedelta

    plus_two = timezone(timedelta(hours=2))
    instant = datetime(2026, 3, 9, 0, 30, tzinfo=plus_two)  # = Sunday 22:30 UTC
    assert iso_week_of(instant, zone("UTC"))[:2] == (2026, 10)
    assert iso_week_of(instant, zone("Europe/Berlin"))[:2] == (2026, 10)  # 23:30 Sunday in Berlin (CET)


def test_naive_instants_and_unknown_zones_are_refused():
    with pytest.raises(ValueError):
        iso_week_of(datetime(2026, 3, 4, 12), "UTC")
    with pytest.raises(ValueError):
        iso_week_of(utc(2026, 3, 4), "Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        zone("../etc/passwd")


def test_window_start_counts_the_current_week_as_the_first():
    wednesday = utc(2026, 3, 4, 12)
    assert window_start(wednesday, "UTC", 1) == date(2026, 3, 2)
    assert window_start(wednesday, "UTC", 12) == date(2025, 12, 15)
    with pytest.raises(ValueError):
        window_start(wednesday, "UTC", 0)
