"""The work plan's pure rules, directly: relative dates and business days, re-planning, dependencies and
the critical path, board positions and progress, custom-field values, template diffs."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from customers import custom_fields
from customers.custom_fields import Definition, FieldValueError
from customers.work_plan import board, graph, schedule, template_diff
from customers.work_plan.schedule import CALENDAR_DAYS, Dates, OpenDays, PlannedTask, Step

WORKWEEK = OpenDays()


# --- relative dates ---

def test_day_offsets_in_calendar_days_start_at_day_zero():
    start = date(2026, 3, 2)  # a Monday
    planned = schedule.plan([Step("kickoff", 0), Step("setup", 3, duration=2), Step("golive", 10, milestone=True)],
                            start)
    assert planned["kickoff"] == Dates(start, start)
    assert planned["setup"] == Dates(date(2026, 3, 5), date(2026, 3, 6))
    assert planned["golive"] == Dates(date(2026, 3, 12), date(2026, 3, 12))


def test_business_days_skip_weekends_and_holidays():
    holidays = frozenset({date(2026, 3, 9)})  # the Monday after
    days = OpenDays(holidays=holidays)
    start = date(2026, 3, 7)  # a Saturday: Day 0 is Monday... a holiday, so Tuesday
    planned = schedule.plan([Step("a", 0), Step("b", 1, duration=3)], start, days)
    assert planned["a"] == Dates(date(2026, 3, 10), date(2026, 3, 10))
    assert planned["b"] == Dates(date(2026, 3, 11), date(2026, 3, 13))


def test_a_dependency_pushes_a_step_after_its_predecessor_is_due():
    planned = schedule.plan([Step("a", 0, duration=5), Step("b", 1, depends_on=("a",))], date(2026, 3, 2))
    assert planned["b"].start == date(2026, 3, 7)


def test_cycles_and_unknown_dependencies_are_refused():
    with pytest.raises(graph.CycleError) as raised:
        schedule.plan([Step("a", 0, depends_on=("b",)), Step("b", 0, depends_on=("a",))], date(2026, 3, 2))
    assert raised.value.cycle[0] == raised.value.cycle[-1]
    with pytest.raises(ValueError, match="unknown"):
        schedule.plan([Step("a", 0, depends_on=("zzz",))], date(2026, 3, 2))


@st.composite
def step_lists(draw):
    count = draw(st.integers(1, 12))
    steps = []
    for i in range(count):
        deps = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else []
        steps.append(Step(f"s{i}", draw(st.integers(-5, 40)), draw(st.integers(1, 6)), tuple(f"s{d}" for d in deps),
                          draw(st.booleans())))
    order = draw(st.permutations(steps))
    return list(order)


calendars = st.builds(OpenDays, closed_weekdays=st.frozensets(st.integers(0, 6), max_size=5),
                      holidays=st.frozensets(st.dates(date(2026, 1, 1), date(2026, 6, 30)), max_size=20),
                      always_open=st.booleans())
starts = st.dates(date(2026, 1, 1), date(2026, 3, 31))


@settings(max_examples=80, deadline=None)
@given(step_lists(), starts, calendars)
def test_property_dependency_order_is_kept_and_no_date_is_closed(steps, start, days):
    planned = schedule.plan(steps, start, days)
    for s in steps:
        dates = planned[s.key]
        assert dates.start <= dates.due
        assert days.is_open(dates.start) and days.is_open(dates.due)
        for pred in s.depends_on:
            assert planned[pred].due < dates.start


@settings(max_examples=80, deadline=None)
@given(step_lists(), starts, starts, calendars, st.data())
def test_property_replan_is_idempotent_and_never_moves_a_done_task(steps, first, second, days, data):
    planned = schedule.plan(steps, first, days)
    done = set(data.draw(st.lists(st.sampled_from([s.key for s in steps]), unique=True)))
    tasks = [PlannedTask(s.key, s, planned[s.key], s.key in done, s.depends_on) for s in steps]
    moves = schedule.replan(tasks, second, days)
    assert not {m.task_id for m in moves} & done
    moved = {m.task_id: m.after for m in moves}
    after = [PlannedTask(t.id, t.step, moved.get(t.id, t.dates), t.done, t.depends_on) for t in tasks]
    assert schedule.replan(after, second, days) == []  # again: nothing moves
    dates = {t.id: t.dates for t in after}
    for t in after:
        assert days.is_open(dates[t.id].start) or t.done
        for pred in t.depends_on:
            if not t.done:
                assert dates[pred].due < dates[t.id].start


def test_replan_reports_each_move_and_keeps_hand_made_tasks():
    steps = [Step("a", 0), Step("b", 2, depends_on=("a",))]
    planned = schedule.plan(steps, date(2026, 3, 2))
    tasks = [PlannedTask("a", steps[0], planned["a"], done=True),
             PlannedTask("b", steps[1], planned["b"], False, ("a",)),
             PlannedTask("mine", None, Dates(date(2026, 3, 20), date(2026, 3, 21)))]
    moves = schedule.replan(tasks, date(2026, 3, 9))
    assert [(m.task_id, m.before.start, m.after.start) for m in moves] == [("b", date(2026, 3, 4), date(2026, 3, 11))]


# --- dependencies and the critical path ---

def test_critical_path_follows_the_longest_chain():
    durations = {"a": 2, "b": 5, "c": 1, "d": 3, "m": 0}
    deps = {"b": ["a"], "c": ["a"], "d": ["c"], "m": ["b", "d"]}
    found = graph.critical_path(durations, deps)
    assert found.critical_path == ["a", "b", "m"]
    assert found.length == 7
    assert found.slack["c"] == 1 and found.slack["d"] == 1 and found.slack["b"] == 0


def test_topological_order_is_stable_and_cycles_are_named():
    assert graph.topological_order({"x": [], "y": ["z"], "z": []}) == ["x", "z", "y"]
    assert graph.find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert graph.find_cycle({"a": ["b"], "b": []}) is None


@settings(max_examples=60, deadline=None)
@given(step_lists())
def test_property_the_critical_path_is_a_zero_slack_chain_as_long_as_the_plan(steps):
    durations = {s.key: s.span + (0 if s.milestone else 1) for s in steps}
    deps = {s.key: list(s.depends_on) for s in steps}
    found = graph.critical_path(durations, deps)
    path = found.critical_path
    assert path and all(found.slack[t] == 0 for t in path)
    assert sum(durations[t] for t in path) == found.length
    for before, after in zip(path, path[1:]):
        assert before in deps[after]


# --- the board ---

def test_moves_renumber_both_columns_densely():
    assert board.moved_positions(["a", "b", "c"], ["x", "y"], "b", 1) == {"x": 0, "b": 1, "y": 2, "a": 0, "c": 1}
    assert board.moved_positions(["a", "b", "c"], ["a", "b", "c"], "a", 99) == {"b": 0, "c": 1, "a": 2}


def test_progress_is_done_weight_over_total_weight_and_late_is_past_due_not_done():
    assert board.progress([(3, True), (1, False)]) == 0.75
    assert board.progress([(0, True)]) == 0.0 and board.progress([]) is None
    today = date(2026, 3, 10)
    assert board.is_late(today - timedelta(days=1), False, today)
    assert not board.is_late(today - timedelta(days=1), True, today) and not board.is_late(today, False, today)


def test_columns_keep_the_four_categories():
    mine = [*board.DEFAULT_COLUMNS, board.Column("review", "In review", "in_progress", 4)]
    assert board.check_columns(mine) == []
    errors = board.check_columns([board.Column("todo", "To do", "done", 0)])
    assert {e["field"] for e in errors} == {"columns.0.category", "columns"}


# --- custom fields ---

def test_custom_field_values_are_validated_and_canonical():
    defs = {"seats": Definition("seats", "number"), "region": Definition("region", "select", ("emea", "apac")),
            "tools": Definition("tools", "multi_select", ("jira", "slack", "zoom")),
            "site": Definition("site", "url"), "live": Definition("live", "date"), "vip": Definition("vip", "boolean"),
            "note": Definition("note", "text", required=True)}
    values = custom_fields.merged(defs, {}, {"seats": 5.0, "tools": ["zoom", "jira", "zoom"], "site": "https://a.io",
                                             "live": "2026-04-01", "vip": True, "note": "x", "region": "emea"},
                                  creating=True)
    assert values["seats"] == 5 and values["tools"] == ["jira", "zoom"]
    for key, bad in [("seats", "5"), ("region", "mars"), ("tools", ["fax"]), ("site", "ftp://x"), ("live", "1.4.26"),
                     ("vip", "yes"), ("nope", 1)]:
        with pytest.raises(FieldValueError) as raised:
            custom_fields.merged(defs, values, {key: bad})
        assert raised.value.field == f"custom_fields.{key}"
    with pytest.raises(FieldValueError, match="required"):
        custom_fields.merged(defs, values, {"note": None})
    assert "region" not in custom_fields.merged({**defs, "region": Definition("region", "select", ("emea",))},
                                                values, {"region": None})


# --- template diffs ---

def test_a_template_diff_never_touches_done_steps():
    old = [{"key": "a", "title": "A", "day": 0}, {"key": "b", "title": "B", "day": 2},
           {"key": "c", "title": "C", "day": 3}]
    new = [{"key": "a", "title": "A2", "day": 0}, {"key": "b", "title": "B", "day": 5},
           {"key": "d", "title": "D", "day": 9}]
    found = template_diff.diff(old, new, done_keys={"a"})
    assert [s["key"] for s in found.added] == ["d"]
    assert found.removed == ["c"] and found.kept_done == ["a"]
    assert found.changed == [{"key": "b", "changes": {"day": {"before": 2, "after": 5}}}]


def test_never_open_calendar_is_an_error():
    with pytest.raises(ValueError):
        schedule.next_open(date(2026, 1, 1), OpenDays(closed_weekdays=frozenset(range(7))))
    assert CALENDAR_DAYS.is_open(date(2026, 1, 3))
