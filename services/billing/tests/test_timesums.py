from billing.timesums import summarise


def test_splits_billable_from_non_billable():
    assert summarise([(True, 30), (False, 15), (True, 45)]) == {
        "billable_minutes": 75, "non_billable_minutes": 15, "total_minutes": 90}


def test_nothing_logged_is_all_zero():
    assert summarise([]) == {"billable_minutes": 0, "non_billable_minutes": 0, "total_minutes": 0}


def test_subtotals_and_single_entries_sum_alike():
    entries = [(True, 60), (True, 30), (False, 20), (False, 5)]
    subtotals = [(True, 90), (False, 25)]
    assert summarise(entries) == summarise(subtotals)


def test_only_non_billable():
    assert summarise([(False, 1440)]) == {
        "billable_minutes": 0, "non_billable_minutes": 1440, "total_minutes": 1440}
