"""The billable precedence (billing.billability): entry > category > project > customer, never a
silent default, an override needs a reason. Properties over every combination of the levels."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.billability import LEVELS, Levels, Undecided, decide, lower_decision

maybe = st.one_of(st.none(), st.booleans())
levels_ = st.builds(Levels, entry=maybe, category=maybe, project=maybe, customer=maybe,
                    category_name=st.one_of(st.none(), st.sampled_from(["support", "travel"])),
                    has_project=st.booleans())
reasons = st.one_of(st.none(), st.just(""), st.just("  "), st.text(min_size=1, max_size=20))


def _first_saying(levels: Levels):
    return next(((getattr(levels, s), s) for s in LEVELS if getattr(levels, s) is not None), None)


@given(levels_, reasons)
def test_the_highest_level_that_says_decides_or_the_write_is_refused(levels, reason):
    first = _first_saying(levels)
    try:
        decision = decide(levels, reason)
    except Undecided as undecided:
        # refused only when nothing says, or when an override gives no reason
        below = lower_decision(levels)
        if first is None:
            assert undecided.field == "billable"
        else:
            assert undecided.field == "billable_reason"
            assert levels.entry is not None and below is not None and below[0] != levels.entry
            assert not (reason or "").strip()
        return
    assert first is not None
    assert (decision.billable, decision.source) == first
    assert decision.source in LEVELS


@given(levels_, st.text(min_size=1, max_size=20).filter(str.strip))
def test_with_a_reason_anything_an_entry_says_stands(levels, reason):
    if levels.entry is None:
        return
    decision = decide(levels, reason)
    assert (decision.billable, decision.source, decision.reason) == (levels.entry, "entry", reason.strip())
    below = lower_decision(levels)
    assert decision.overrides == (below is not None and below[0] != levels.entry)


@given(levels_)
def test_an_entry_that_agrees_with_the_lower_levels_needs_no_reason(levels):
    below = lower_decision(levels)
    if below is None:
        return
    decision = decide(Levels(**{**levels.__dict__, "entry": below[0]}))
    assert (decision.billable, decision.source, decision.overrides) == (below[0], "entry", False)


def test_category_beats_project_beats_customer():
    assert decide(Levels(category=False, project=True, customer=True)).source == "category"
    assert decide(Levels(project=False, customer=True)).source == "project"
    d = decide(Levels(customer=False))
    assert (d.billable, d.source) == (False, "customer")


def test_overriding_an_internal_category_names_the_level_it_overrides():
    with pytest.raises(Undecided) as refused:
        decide(Levels(entry=True, category=False, category_name="internal admin"))
    assert refused.value.field == "billable_reason" and "category" in refused.value.message
    assert decide(Levels(entry=True, category=False), "customer asked for it").overrides


def test_when_nothing_decides_the_message_names_every_missing_level():
    with pytest.raises(Undecided) as refused:
        decide(Levels(has_project=True))
    message = refused.value.message
    assert refused.value.field == "billable"
    for missing in ("gives no 'billable'", "no category", "project has no billing default",
                    "customer has no billing default"):
        assert missing in message
    with pytest.raises(Undecided) as refused:
        decide(Levels())
    assert "it has no project" in refused.value.message
