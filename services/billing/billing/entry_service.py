"""Time entry entrypoints (a mixin of `BillingService`): log, get, correct, delete, list, sum.

Who may correct what, and what may no longer change, is stated in `billing.corrections`; whether
time is billable in `billing.billability`; the week lock in `billing.entry_writer`; the asks that
check an entry's references in `billing.references`. Every change writes its event to the outbox
in the same transaction (the audit log takes it from there).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from custops.rpc_entrypoint import rpc

from billing import corrections, directory, entry_store, entry_writer, facts, references, timesums, weeks
from billing.commands import CorrectTime, LogTime, SummaryRange, TimeEntryFilters, check_span, field_problem
from custops import outbox, pagination
from custops.errors import EXPECTED, Conflict
from custops.validation import parse, parse_id


def member_scope_of(member_scope) -> uuid.UUID | None:
    return parse_id(member_scope, "member") if member_scope is not None else None


def add_entry(session, tenant_id: uuid.UUID, row: dict, zone: directory.Zone, now: datetime) -> dict:
    """Store a new entry in an open week, with its `time.logged` (the caller's transaction)."""
    entry_writer.hold_weeks_open(session, tenant_id, [(row["member_id"], row["work_date"], zone)], now)
    row = entry_store.insert(session, row)
    outbox.add(session, tenant_id, facts.logged(row, weeks.week_start(row["work_date"], zone.week_start)))
    return row


class TimeEntryEntrypoints:
    @rpc(expected_exceptions=EXPECTED)
    def log_time(self, tenant_id, member_id, payload):
        """`member_id` is the caller, who entered the entry; the entry is `payload.member_id`'s
        (the gateway allows logging for someone else), else the caller's own."""
        tenant_id, caller = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(LogTime, payload).checked()
        owner = cmd.member_id or caller
        # the caller is known (the gateway authenticated them); anyone else is asked about
        references.check(self.rpc_client, tenant_id, customer_id=cmd.customer_id, ticket_id=cmd.ticket_id,
                         ticket_customer_id=cmd.customer_id, member_id=owner if owner != caller else None)
        project_id = references.check_work(self.rpc_client, tenant_id, cmd.customer_id, cmd.project_id, cmd.task_id)
        zone = directory.zone_of(self.db, self.rpc_client, tenant_id, owner)
        now = datetime.now(timezone.utc)
        work_date = cmd.work_date or weeks.local_day(cmd.started_at or now, zone.timezone)
        with self.db.transaction() as session:
            decision = entry_writer.decide(session, tenant_id, billable=cmd.billable, reason=cmd.billable_reason,
                                           category=cmd.category, project_id=project_id,
                                           customer_id=cmd.customer_id)
            row = add_entry(session, tenant_id, {
                "id": uuid.uuid4(), "tenant_id": tenant_id, "member_id": owner, "customer_id": cmd.customer_id,
                "ticket_id": cmd.ticket_id, "project_id": project_id, "task_id": cmd.task_id,
                "activity_id": cmd.activity_id, "work_date": work_date, "minutes": cmd.minutes,
                "started_at": cmd.started_at, "ended_at": cmd.ended_at, "category": cmd.category,
                "tags": cmd.tags, "billable": decision.billable, "billable_source": decision.source,
                "billable_reason": decision.reason, "note": cmd.note, "entered_by_member_id": caller,
                "created_at": now}, zone, now)
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
        entry_id, scope = parse_id(entry_id, "time entry"), member_scope_of(member_scope)
        given = parse(CorrectTime, payload).given()
        confirming = given.pop("confirmed", False)
        with self.db.read() as session:
            entry = entry_store.load(session, tenant_id, entry_id)
        corrections.check_may_touch(entry, scope, "correct")
        diff = corrections.changes(entry, given)
        if "started_at" in diff or "ended_at" in diff or ("minutes" in diff and entry["started_at"] is not None):
            after = corrections.corrected(entry, diff)
            try:
                minutes = check_span(after["started_at"], after["ended_at"], given.get("minutes"))
            except ValueError as exc:
                raise field_problem("minutes" if "minutes" in given else "ended_at", str(exc)) from None
            if minutes != entry["minutes"]:
                diff["minutes"] = (entry["minutes"], minutes)
        confirm = bool(confirming) and entry["needs_confirmation"] is not None and entry["confirmed_at"] is None
        if not diff and not confirm:
            return entry_store.shape(entry)
        corrections.check_reassignment(diff, scope)
        after = corrections.corrected(entry, diff)
        refs = corrections.references_to_check(diff, after)
        if refs:  # asked outside the transaction: no row lock is held across an RPC round trip
            references.check(self.rpc_client, tenant_id, ticket_customer_id=after["customer_id"], **refs)
        if {"project_id", "task_id", "customer_id"} & set(diff) and (after["project_id"] or after["task_id"]):
            project_id = references.check_work(self.rpc_client, tenant_id, after["customer_id"],
                                               after["project_id"], after["task_id"])
            if project_id != entry["project_id"]:
                diff["project_id"] = (entry["project_id"], project_id)
            after = corrections.corrected(entry, diff)
        zones = {m: directory.zone_of(self.db, self.rpc_client, tenant_id, m)
                 for m in {entry["member_id"], after["member_id"]}}
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            # the weeks first, then the entry: the order an approval takes them in (billing.entry_writer)
            entry_writer.hold_weeks_open(session, tenant_id, [
                (entry["member_id"], entry["work_date"], zones[entry["member_id"]]),
                (after["member_id"], after["work_date"], zones[after["member_id"]])], now)
            current = entry_store.load(session, tenant_id, entry_id, for_update=True)
            if current["revision"] != entry["revision"]:
                # what was checked is no longer what would be written (a concurrent correction)
                raise Conflict(f"time entry {entry_id} changed while this correction was checked; retry")
            corrections.check_may_touch(current, scope, "correct")  # invoiced or approved meanwhile?
            if set(corrections.DECIDING) & set(diff):
                own_say = given["billable"] if "billable" in given else (
                    entry["billable"] if entry["billable_source"] == "entry" else None)
                decision = entry_writer.decide(
                    session, tenant_id, billable=own_say, reason=after["billable_reason"], category=after["category"],
                    project_id=after["project_id"], customer_id=after["customer_id"], keep_category=entry["category"])
                for field, value in (("billable", decision.billable), ("billable_source", decision.source),
                                     ("billable_reason", decision.reason)):
                    if entry[field] != value:
                        diff[field] = (entry[field], value)
                    else:
                        diff.pop(field, None)
                after = corrections.corrected(entry, diff)
            values = {f: new for f, (_old, new) in diff.items()}
            if confirm:
                values["confirmed_at"] = now
                diff["confirmed_at"] = (None, now.isoformat())
            if not diff:
                return entry_store.shape(entry)
            after = {**after, **values, "revision": entry["revision"] + 1, "updated_at": now}
            entry_store.save(session, entry, {**values, "revision": after["revision"], "updated_at": now})
            week = weeks.week_start(after["work_date"], zones[after["member_id"]].week_start)
            outbox.add(session, tenant_id, facts.updated(after, diff, caller, now, week))
        return entry_store.shape(after)

    @rpc(expected_exceptions=EXPECTED)
    def delete_time_entry(self, tenant_id, member_id, entry_id, member_scope=None):
        """Delete an entry the caller may touch and that is not locked; the event keeps what it was."""
        tenant_id, caller = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        entry_id, scope = parse_id(entry_id, "time entry"), member_scope_of(member_scope)
        with self.db.read() as session:
            entry = entry_store.load(session, tenant_id, entry_id)
        corrections.check_may_touch(entry, scope, "delete")
        zone = directory.zone_of(self.db, self.rpc_client, tenant_id, entry["member_id"])
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            entry_writer.hold_weeks_open(session, tenant_id, [(entry["member_id"], entry["work_date"], zone)], now)
            entry = entry_store.load(session, tenant_id, entry_id, for_update=True)
            corrections.check_may_touch(entry, scope, "delete")
            entry_store.remove(session, entry)
            outbox.add(session, tenant_id, facts.deleted(entry, caller, now,
                                                         weeks.week_start(entry["work_date"], zone.week_start)))
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
