"""The heatmap read model's pure rules: which counters a filter sums, which days of a month fall in
which bucket."""
from datetime import date

from timeline import activity_months, heatmap
from timeline.commands import ActivityFilters


def test_the_unfiltered_count_is_the_kept_total_and_filters_pick_their_counters():
    assert activity_months.blocks(ActivityFilters()) == [0]
    # blocks: 1 member internal, 2 member customer, 3 contact internal, 4 contact customer, 5/6 system
    assert activity_months.blocks(ActivityFilters(human_only=True)) == [1, 2, 3, 4]
    assert activity_months.blocks(ActivityFilters(visibility="customer")) == [2, 4, 6]
    assert activity_months.blocks(ActivityFilters(include_internal=False)) == [2, 4, 6]
    assert activity_months.blocks(ActivityFilters(actor_type="contact", include_internal=False)) == [4]
    assert activity_months.blocks(ActivityFilters(visibility="internal", include_internal=False)) == []


def test_filters_the_model_does_not_keep_count_the_log():
    assert activity_months.supports(ActivityFilters(customer_ids=["6f1b3a57-1f1e-4c31-9b8e-0d0a7d7a1e11"]))
    assert not activity_months.supports(ActivityFilters(type_prefix="ticket."))
    assert not activity_months.supports(ActivityFilters(q="renewal"))
    assert not activity_months.supports(ActivityFilters(actor_type="system"))  # not the pre-actor ones
    assert not activity_months.supports(ActivityFilters(include_retracted=True))


def test_the_days_of_a_month_are_summed_into_the_weeks_they_fall_in():
    columns = heatmap.buckets(date(2026, 11, 20), date(2026, 12, 9), "week", "monday")
    assert columns == [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30), date(2026, 12, 7)]
    index = {c: i for i, c in enumerate(columns)}
    end = heatmap.end_of(columns, "week")
    # November from the 16th: weeks 0 (16-22) and 1 (23-29), and Monday the 30th opens week 2
    assert activity_months._segments(date(2026, 11, 1), columns[0], end, "week", "monday", index) == [
        (0, 15, 22), (1, 22, 29), (2, 29, 30)]
    # December: the rest of week 2 (1-6), week 3 (7-13)
    assert activity_months._segments(date(2026, 12, 1), columns[0], end, "week", "monday", index) == [
        (2, 0, 6), (3, 6, 13)]
    # by day: one run of days from the first one's bucket
    days = heatmap.buckets(date(2026, 11, 28), date(2026, 12, 2), "day")
    assert activity_months._segments(date(2026, 11, 1), days[0], heatmap.end_of(days, "day"), "day", "monday",
                                     {c: i for i, c in enumerate(days)}) == [(0, 27, 30)]


def test_a_rows_blocks_are_summed_day_by_day():
    listed = ",".join(str(x) for x in [1] * 31 + [2] * 31)
    assert activity_months._per_day(listed, 2) == [3] * 31
    assert activity_months._per_day("0,5", 1) == [0, 5]
