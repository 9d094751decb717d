"""Follow-ups' `followup.due` / `followup.overdue` with two timeline processes and `kill -9`.

Two timeline processes run (the Procfile's and a second one). Follow-ups are promised through the
gateway in two batches. One process is killed (-9) before the first batch falls due: the survivor
raises it on time. Then the survivor is killed too, the second batch falls due while no timeline
runs, and the restarted process raises it at once. Every follow-up gets exactly one `followup.due`
and one `followup.overdue` in the timeline's outbox, all published, and each is in the audit log
once. The lateness of each (raised - due) is printed.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from harness import create_customer, eventually

UTC = timezone.utc
BATCH = 8


def _raised(suite, ids):
    rows = suite.query("timeline", "SELECT id, due_at, due_raised_at, overdue_at, overdue_raised_at FROM followups "
                                   "WHERE id = ANY(CAST(:ids AS uuid[]))", ids=list(ids))
    return {str(r.id): r for r in rows}


def _promise(api, customer_id, due_at) -> str:
    response = api.post(f"/api/v1/customers/{customer_id}/followups", json={
        "due_at": due_at.isoformat(), "note": "Call back about the renewal", "overdue_after_minutes": 0})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_due_and_overdue_once_each_with_two_instances_across_kill_9(suite, tenant):
    second = "timeline-b"
    if second not in suite.procs:
        suite.add(second, "custops service timeline")
    suite.start(second)
    try:
        api = tenant.api
        customer_id = create_customer(api)["id"]
        start = datetime.now(UTC)
        first = [_promise(api, customer_id, start + timedelta(seconds=4)) for _ in range(BATCH)]
        later = [_promise(api, customer_id, start + timedelta(seconds=7)) for _ in range(BATCH)]

        suite.kill9("timeline")  # before the first batch is due: the other instance raises it
        rows = eventually(lambda: (lambda r: r if all(x.overdue_raised_at for x in r.values()) else None)(
            _raised(suite, first)), timeout=20, what="the first batch raised by the surviving instance")
        on_time = [max(r.due_raised_at - r.due_at, r.overdue_raised_at - r.overdue_at).total_seconds()
                   for r in rows.values()]

        suite.kill9(second)  # now none runs while the second batch falls due
        due_later = start + timedelta(seconds=7)
        while datetime.now(UTC) < due_later + timedelta(seconds=0.5):  # until its due instant has passed
            time.sleep(0.1)
        assert not any(r.due_raised_at for r in _raised(suite, later).values())
        restarted = datetime.now(UTC)
        suite.start("timeline")
        rows = eventually(lambda: (lambda r: r if all(x.overdue_raised_at for x in r.values()) else None)(
            _raised(suite, later)), timeout=30, what="the missed batch raised by the restarted instance")
        after_start = [(r.overdue_raised_at - restarted).total_seconds() for r in rows.values()]
        print(f"\nraised by the survivor, seconds after due: max {max(on_time):.3f} "
              f"mean {sum(on_time) / len(on_time):.3f}; missed batch raised {max(after_start):.2f}s after "
              f"the restart began (process start included)")
        assert max(on_time) < 2.0, on_time

        ids = first + later
        counts = suite.query("timeline", """
            SELECT type, envelope->'data'->>'followup_id' AS followup_id, count(*) AS n
              FROM outbox WHERE type IN ('followup.due', 'followup.overdue')
               AND envelope->'data'->>'followup_id' = ANY(:ids) GROUP BY 1, 2""", ids=ids)
        assert len(counts) == 2 * len(ids) and {r.n for r in counts} == {1}, counts
        eventually(lambda: all(r.sent for r in suite.query("timeline", """
            SELECT bool_and(published_at IS NOT NULL) AS sent FROM outbox
             WHERE type IN ('followup.due', 'followup.overdue') AND envelope->'data'->>'followup_id' = ANY(:ids)""",
                                                          ids=ids)) or None, timeout=20, what="the events published")
        audited = eventually(lambda: (lambda r: r if len(r) == 2 * len(ids) else None)(suite.query("customers", """
            SELECT action, target_id, count(*) AS n FROM audit_log
             WHERE tenant_id = CAST(:t AS uuid) AND action IN ('followup.due', 'followup.overdue')
             GROUP BY 1, 2""", t=tenant.id)), timeout=20, what="every due/overdue in the audit log")
        assert {r.n for r in audited} == {1}
    finally:
        suite.stop(second)
