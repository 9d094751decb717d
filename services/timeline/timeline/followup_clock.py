"""The follow-up clock: raises `followup.due` at a follow-up's `due_at` and `followup.overdue` at its
`overdue_at`, once each per due time, driven by the next due instant as the SLA clock is (the
shared `custops.notified_loop.DeadlineLoop`), never by a periodic scan.

It sleeps until the earliest pending `due_at` / `overdue_at` (each the head of a partial index of
open, not yet raised follow-ups), at most `max_sleep` seconds. Creating or postponing a follow-up
NOTIFYs `custops_followups` with the new due instant in its transaction, so a follow-up due sooner
than the clock's next wake-up wakes it then, and one due later costs it no look.

Exactly once, with any number of instances and across restarts: a due row is claimed by
`UPDATE ... SET due_raised_at = now() WHERE due_raised_at IS NULL ... RETURNING` over rows picked
`FOR UPDATE SKIP LOCKED`, and its event goes into the outbox in that same transaction; a crash
before the commit leaves the row unclaimed (raised by whichever instance looks next), a commit
makes both the claim and the event durable. A follow-up that fell due while no instance ran is
raised as soon as one starts. Overdue is raised only after due (a follow-up whose grace is 0 gets
both, in that order); a completed or cancelled one gets neither.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.orm import Session

from custops import db, outbox
from custops.contracts.timeline import FollowupDue, FollowupOverdue
from custops.notified_loop import DeadlineLoop
from timeline.followup_store import NOTIFY_CHANNEL

BATCH = 500

_NEXT_DUE = text("""
    SELECT EXTRACT(EPOCH FROM (LEAST(
        (SELECT min(due_at) FROM followups WHERE status = 'open' AND due_raised_at IS NULL),
        (SELECT min(overdue_at) FROM followups WHERE status = 'open' AND overdue_raised_at IS NULL)) - now()))
""")

_CLAIM = """
    UPDATE followups f SET {column} = now()
      FROM (SELECT id FROM followups
             WHERE status = 'open' AND {column} IS NULL AND {instant} <= now() {also}
             ORDER BY {instant}
             LIMIT :limit
             FOR UPDATE SKIP LOCKED) due
     WHERE f.id = due.id AND f.{column} IS NULL
    RETURNING f.id, f.tenant_id, f.customer_id, f.assignee_id, f.due_at, f.overdue_at, f.postponements
"""
_CLAIM_DUE = text(_CLAIM.format(column="due_raised_at", instant="due_at", also=""))
_CLAIM_OVERDUE = text(_CLAIM.format(column="overdue_raised_at", instant="overdue_at",
                                    also="AND due_raised_at IS NOT NULL"))


def raise_due(session: Session, limit: int = BATCH) -> int:
    """Raise every due follow-up, then every overdue one (at most `limit` each), in the caller's
    transaction; returns how many events were written."""
    now = datetime.now(timezone.utc)
    fired = 0
    for claim, event in ((_CLAIM_DUE, FollowupDue), (_CLAIM_OVERDUE, FollowupOverdue)):
        rows = session.execute(claim, {"limit": limit}).mappings().all()
        # one INSERT for the batch's events (two round trips per event kept a burst late under load)
        outbox.add_many(session, [(row["tenant_id"], event(
            followup_id=row["id"], customer_id=row["customer_id"], assignee_id=row["assignee_id"],
            due_at=row["due_at"], overdue_at=row["overdue_at"], postponements=row["postponements"],
            raised_at=now)) for row in sorted(rows, key=lambda r: (r["due_at"], r["id"]))])
        fired += len(rows)
    return fired


class FollowupClock(DeadlineLoop):
    channel = NOTIFY_CHANNEL
    label = "follow-up clock"

    def tick(self) -> float:
        """Raise everything due; returns the seconds to sleep until the next due instant."""
        while True:
            with db.transaction(self.engine, self.service) as session:
                fired = raise_due(session)
            if fired < BATCH:
                break
        with self.engine.connect() as conn:
            until_next = conn.execute(_NEXT_DUE).scalar()
        return self.sleep_for(until_next)
