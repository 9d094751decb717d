"""The time report's rules (pure): which revision of an entry counts, and a group's figures."""
from itertools import permutations

from hypothesis import given, strategies as st

from reports.time_report import figures, supersedes, utilization


def kept_after(events):
    """The (revision, deleted, minutes) kept after `events` [(revision, deletion, minutes)], applied
    as the read model applies them."""
    kept = None
    for revision, deletion, minutes in events:
        if supersedes(revision, kept and kept[0], bool(kept and kept[1]), deletion):
            kept = (revision, deletion, minutes)
    return kept


def test_a_corrected_entry_counts_once_with_its_latest_minutes_in_any_order():
    events = [(1, False, 60), (2, False, 90), (3, False, 45)]
    for order in permutations(events):
        assert kept_after(order) == (3, False, 45)


def test_a_deleted_entry_stays_deleted_whatever_arrives_late():
    events = [(1, False, 60), (2, False, 90), (2, True, 90)]
    for order in permutations(events):
        assert kept_after(order) == (2, True, 90)


@given(st.lists(st.tuples(st.integers(1, 6), st.booleans(), st.integers(1, 600)), min_size=1, max_size=8))
def test_the_kept_version_is_the_newest_revision_a_deletion_winning_its_own(events):
    kept = kept_after(events)
    newest = max(revision for revision, _, _ in events)
    assert kept[0] == newest or any(deletion for _, deletion, _ in events)
    if any(deletion for _, deletion, _ in events):
        deleted_revision = max(r for r, deletion, _ in events if deletion)
        if deleted_revision == newest:
            assert kept[1]


def test_figures_split_billable_and_internal_and_give_utilization():
    assert figures(600, 450) == {"tracked_minutes": 600, "billable_minutes": 450, "internal_minutes": 150,
                                 "tracked_hours": 10.0, "billable_hours": 7.5, "internal_hours": 2.5,
                                 "utilization": 0.75}
    assert utilization(0, 0) is None
    assert utilization(1, 3) == 0.3333
