"""The benchmarks page's pure rules (reports.benchmarks) and the charts (reports.charts)."""
import io
import xml.etree.ElementTree as ElementTree
from datetime import date, datetime, timedelta, timezone

import pytest
from PIL import Image

from reports import benchmarks, charts


def test_a_tenant_week_runs_midnight_to_midnight_in_its_zone_across_a_dst_change():
    start, end = benchmarks.week_bounds(date(2026, 3, 2), "America/New_York")  # DST begins Sunday 8 March
    assert start == datetime(2026, 3, 2, 5, tzinfo=timezone.utc)
    assert end == datetime(2026, 3, 9, 4, tzinfo=timezone.utc)
    assert end - start == timedelta(hours=167)


def test_a_week_is_closed_an_hour_after_its_end():
    week = date(2026, 3, 2)
    end = benchmarks.week_bounds(week, "UTC")[1]
    assert not benchmarks.is_closed(week, "UTC", end)
    assert not benchmarks.is_closed(week, "UTC", end + benchmarks.GRACE - timedelta(seconds=1))
    assert benchmarks.is_closed(week, "UTC", end + benchmarks.GRACE)
    # Monday 00:30 the week before is not closed yet: the newest closed one is the week before it
    assert benchmarks.last_closed_week(end + timedelta(minutes=30), "UTC", "monday") == week - timedelta(weeks=1)
    assert benchmarks.last_closed_week(end + timedelta(hours=2), "UTC", "monday") == week


def test_weeks_back_follow_the_first_day_of_the_week():
    now = datetime(2026, 3, 4, 12, tzinfo=timezone.utc)  # a Wednesday
    assert benchmarks.weeks_back(now, "UTC", "sunday", 2) == [date(2026, 2, 22), date(2026, 3, 1)]
    assert benchmarks.weeks_back(now, "UTC", "monday", 1) == [date(2026, 3, 2)]
    with pytest.raises(ValueError):
        benchmarks.weeks_back(now, "UTC", "monday", 0)


def test_change_and_its_percent():
    assert benchmarks.change(12, 10) == (2, 20.0)
    assert benchmarks.change(5, 0) == (5, None)  # no percent of nothing
    assert benchmarks.change(None, 3) == (None, None) and benchmarks.change(3, None) == (None, None)
    assert benchmarks.change(-2, -4) == (2, 50.0)  # a rise from a negative value reads as a rise


@pytest.mark.parametrize("values, direction", [
    ([1, 2, 3, 4], "up"), ([4, 3, 2, 1], "down"), ([5, 5, 5, 5], "flat"), ([100, 101, 100, 101], "flat"),
    ([7], "flat"), ([], "flat"), ([None, 1, None, 3], "up"),
    ([9, 9, 9, 1, 2, 3, 4], "up"),  # only the last four count
])
def test_trend_is_the_slope_of_the_last_four_known_values(values, direction):
    assert benchmarks.trend(values)["direction"] == direction


def test_trend_slope_is_per_week():
    assert benchmarks.trend([0, 2, 4, 6])["slope"] == 2.0
    assert benchmarks.trend([3])["slope"] is None


def test_series_takes_delta_from_the_extra_first_week_and_trend_from_closed_weeks():
    weeks = [(date(2026, 1, 5), None, {"backlog": 4}), (date(2026, 1, 12), True, {"backlog": 5}),
             (date(2026, 1, 19), True, {"backlog": 6}), (date(2026, 1, 26), False, {"backlog": 0})]
    out = benchmarks.series(weeks, keys=("backlog",))
    assert [i["week_start"] for i in out["items"]] == ["2026-01-12", "2026-01-19", "2026-01-26"]
    assert [i["delta"]["backlog"] for i in out["items"]] == [1, 1, -6]
    assert out["items"][0]["delta_pct"]["backlog"] == 25.0 and out["items"][0]["week_end"] == "2026-01-18"
    assert out["trend"]["backlog"]["direction"] == "up"  # the week under way is left out of the trend


def test_every_metric_says_which_way_is_better():
    assert len(benchmarks.KEYS) == len(set(benchmarks.KEYS))
    assert {m.better for m in benchmarks.METRICS} == {"up", "down"}
    assert benchmarks.BY_KEY["backlog"].better == "down"


CHART = charts.Chart("Weekly", ["2026-01-05", "2026-01-12", "2026-01-19"],
                     [("Tickets créés Δ", [1, None, 3]), ("Backlog", [4, 4, 2])])


def test_a_png_chart_has_the_size_asked_for():
    image = Image.open(io.BytesIO(charts.render(CHART, "png", 640, 300)))
    assert (image.format, image.size) == ("PNG", (640, 300))
    bars = charts.Chart("Bars", ["a", "b"], [("This Week", [1, 2]), ("Last Week", [3, None])], kind="bar")
    assert Image.open(io.BytesIO(charts.render(bars, "png"))).size == charts.DEFAULT_SIZE


def test_an_svg_chart_parses_keeps_its_labels_as_text_and_is_the_same_each_time():
    svg = charts.render(CHART, "svg")
    ElementTree.fromstring(svg)
    text = svg.decode("utf-8")
    assert "Tickets créés Δ" in text and "Backlog" in text and "Weekly" in text
    assert charts.render(CHART, "svg") == svg
    with pytest.raises(ValueError):
        charts.render(CHART, "gif")


def test_the_volume_chart_sums_customers_per_week_oldest_first():
    report = {"items": [
        {"week_start": "2026-01-12", "created": 2, "resolved": 1, "closed": 0},
        {"week_start": "2026-01-12", "created": 1, "resolved": 0, "closed": 1},
        {"week_start": "2026-01-05", "created": 4, "resolved": 4, "closed": 4}]}
    chart = charts.volume_chart(report)
    assert chart.x == ["2026-01-05", "2026-01-12"]
    assert chart.series == [("Created", [4, 3]), ("Resolved", [4, 1]), ("Closed", [4, 1])]
