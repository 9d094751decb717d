"""Billing service entrypoints: thin wiring over the time entries, their rules and the sums.

Who may correct what, and what may no longer change, is stated in `billing.corrections`; the asks
that check an entry's references in `billing.references`. Every change writes its event to the
outbox in the same transaction.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from custops.rpc_entrypoint import rpc

from billing import corrections, entry_store, facts, references, timesums
from billing.commands import CorrectTime, LogTime, SummaryRange, TimeEntryFilters
from custops import outbox, pagination
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.errors import EXPECTED, Conflict
from custops.rpc import ServiceRpc
from custops.validation import parse, parse_id


def _scope(member_scope) -> uuid.UUID | None:
    return parse_id(member_scope, "member") if member_scope is not None else None


class BillingService(HealthEndpoints):
    name = "billing"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()

    @rpc(expected_exceptions=EXPECTED)
    def log_time(self, tenant_id, member_id, payload):
        """`member_id` is the caller, who entered the entry; the entry is `payload.member_id`'s
        (the gateway allows logging for someone else), else the caller's own."""
        tenant_id, caller = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(LogTime, payload)
        owner = cmd.member_id or caller
        # the caller is known (the gateway authenticated them); anyone else is asked about
        references.check(self.rpc_client, tenant_id, customer_id=cmd.customer_id, ticket_id=cmd.ticket_id,
                         ticket_customer_id=cmd.customer_id, member_id=owner if owner != caller else None)
        with self.db.transaction() as session:
            row = entry_store.insert(session, {
                "id": uuid.uuid4(), "tenant_id": tenant_id, "member_id": owner, "customer_id": cmd.customer_id,
                "ticket_id": cmd.ticket_id, "work_date": cmd.work_date, "minutes": cmd.minutes,
                "billable": cmd.billable, "note": cmd.note, "entered_by_member_id": caller,
                "created_at": datetime.now(timezone.utc)})
            outbox.add(session, tenant_id, facts.logged(row))
        return entry_store.shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def get_time_entry(self, tenant_id, entry_id):
        tenant_id, entry_id = parse_id(tenant_id, "tenant"), parse_id(entry_id, "time entry")
        with self.db.read() as session:
            return entry_store.shape(entry_store.load(session, tenant_id, entry_id))

    @rpc(expected_exceptions=EXPECTED)
    def correct_time_entry(self, tenant_id, member_id, entry_id, payload, member_scope=None):
        """Apply the given fields (see `billing.corrections` for the rule); `member_scope` is the one
        member whose entries the caller may touch (None: anyone's). A correction that changes
        nothing is answered with the entry and tells nothing."""
        tenant_id, caller = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        entry_id, scope = parse_id(entry_id, "time entry"), _scope(member_scope)
        given = parse(CorrectTime, payload).given()
        with self.db.read() as session:
            entry = entry_store.load(session, tenant_id, entry_id)
        corrections.check_may_touch(entry, scope, "correct")
        diff = corrections.changes(entry, given)
        if not diff:
            return entry_store.shape(entry)
        corrections.check_reassignment(diff, scope)
        after = corrections.corrected(entry, diff)
        refs = corrections.references_to_check(diff, after)
        if refs:  # asked outside the transaction: no row lock is held across an RPC round trip
            references.check(self.rpc_client, tenant_id, ticket_customer_id=after["customer_id"], **refs)
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            current = entry_store.load(session, tenant_id, entry_id, for_update=True)
            if current["revision"] != entry["revision"]:
                # what was checked is no longer what would be written (a concurrent correction)
                raise Conflict(f"time entry {entry_id} changed while this correction was checked; retry")
            corrections.check_may_touch(current, scope, "correct")  # invoiced meanwhile?
            after = {**after, "revision": entry["revision"] + 1, "updated_at": now}
            entry_store.save(session, entry, {**{f: new for f, (_old, new) in diff.items()},
                                              "revision": after["revision"], "updated_at": now})
            outbox.add(session, tenant_id, facts.updated(after, diff, caller, now))
        return entry_store.shape(after)

    @rpc(expected_exceptions=EXPECTED)
    def delete_time_entry(self, tenant_id, member_id, entry_id, member_scope=None):
        """Delete an entry the caller may touch and that is not locked; the event keeps what it was."""
        tenant_id, caller = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        entry_id, scope = parse_id(entry_id, "time entry"), _scope(member_scope)
        with self.db.transaction() as session:
            entry = entry_store.load(session, tenant_id, entry_id, for_update=True)
            corrections.check_may_touch(entry, scope, "delete")
            entry_store.remove(session, entry)
            outbox.add(session, tenant_id, facts.deleted(entry, caller, datetime.now(timezone.utc)))
        return {"id": str(entry_id), "deleted": True}

    @rpc(expected_exceptions=EXPECTED)
    def list_time_entries(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TimeEntryFilters, filters or {})
        limit = pagination.clamp(limit)
        with self.db.read() as session:
            return entry_store.page(session, tenant_id, f, limit, cursor)

    @rpc(expected_exceptions=EXPECTED)
    def time_summary(self, tenant_id, customer_id, date_from, date_to):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        period = parse(SummaryRange, {"from": date_from, "to": date_to})
        with self.db.read() as session:
            return timesums.summarise(entry_store.subtotals(session, tenant_id, customer_id, period))
