"""`outbox.add_many`: many events in one INSERT, in the caller's transaction, as `add` writes one."""
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from custops import db, outbox
from custops.contracts.tickets import TicketSlaBreached
from custops.contracts.timeline import FollowupDue


def _due(**over):
    now = datetime.now(timezone.utc)
    return FollowupDue(followup_id=uuid.uuid4(), customer_id=uuid.uuid4(), assignee_id=uuid.uuid4(), due_at=now,
                       overdue_at=now, raised_at=now, **over)


def test_many_events_in_one_statement_in_order_with_their_sequences(custops_setup):
    engine, tenants = db.engine_for("timeline"), [uuid.uuid4(), uuid.uuid4()]
    events = [(tenants[i % 2], _due(postponements=i)) for i in range(5)]
    with db.transaction(engine, "timeline") as session:
        envelopes = outbox.add_many(session, events)
    assert [e.data["postponements"] for e in envelopes] == list(range(5))
    assert [e.tenant_id for e in envelopes] == [t for t, _ in events]
    seqs = [e.sequence for e in envelopes]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT seq, id, type, tenant_id FROM outbox WHERE id = ANY(:ids) ORDER BY seq"),
                              {"ids": [e.id for e in envelopes]}).all()
    assert [(r.seq, r.id, r.type, r.tenant_id) for r in stored] == [
        (e.sequence, e.id, "followup.due", e.tenant_id) for e in envelopes]
    with db.transaction(engine, "timeline") as session:
        assert outbox.add_many(session, []) == []


def test_nothing_is_written_when_one_event_is_not_the_services(custops_setup):
    engine = db.engine_for("timeline")
    now = datetime.now(timezone.utc)
    foreign = TicketSlaBreached(ticket_id=uuid.uuid4(), number=1, customer_id=uuid.uuid4(), timer="resolution",
                                deadline=now, target_minutes=60, policy_version=1, calendar_version=1)
    ours = _due()
    with pytest.raises(ValueError, match="may not publish"):
        with db.transaction(engine, "timeline") as session:
            outbox.add_many(session, [(uuid.uuid4(), ours), (uuid.uuid4(), foreign)])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE envelope->'data'->>'followup_id' = :f"),
                            {"f": str(ours.followup_id)}).scalar() == 0
