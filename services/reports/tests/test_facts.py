"""What a status change does to a ticket's fact row (pure)."""
from datetime import datetime, timezone

import pytest

from custops.contracts.tickets import OPEN_STATUSES
from reports.facts import KEEP, after_move

AT = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)


def test_a_resolution_is_its_latest_and_a_close_keeps_it():
    assert after_move("resolved", AT) == {"resolved_at": AT, "closed_at": None}
    assert after_move("closed", AT) == {"resolved_at": KEEP, "closed_at": AT}


@pytest.mark.parametrize("status", OPEN_STATUSES)
def test_a_reopened_ticket_is_resolved_nowhere(status):
    assert after_move(status, AT) == {"resolved_at": None, "closed_at": None}


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError):
        after_move("exploded", AT)
