"""Follow-up entrypoints of the timeline service (a mixin `TimelineService` inherits; needs
`self.db` and `self.rpc_client`): the commands, a member's grouped list, the analytics, and the
clock that raises `followup.due` / `followup.overdue` (`timeline.followup_clock`), run by every
instance. Thin wiring over `followup_store` (rows and events) and `followups` (the rules).

Every command's event is its audit record (the customers service files every timeline event):
who (the caller on the envelope), what (the event and its fields), when. Commands name the
follow-up's customer: an unknown customer (or another tenant's) is a 404, asked of the customers
service; an assignee must be an active team member of the tenant (`followup_copies.assignable`);
an attached activity must be on this customer's timeline, an attached ticket the customer's.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from custops import caller, pagination
from custops.errors import EXPECTED, InvalidInput, NotFound
from custops.notified_loop import ManagedLoop
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from timeline import followup_copies, followup_store, followups
from timeline.followup_clock import FollowupClock
from timeline.followup_commands import (AnalyticsQuery, Cancel, Complete, CreateFollowup, FollowupFilters, Postpone,
                                        Reassign, UpdateFollowup)
from timeline.followup_copies import FollowupCopies
from timeline.models import activities


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _acting_member():
    actor = caller.current_actor()
    return actor.id if actor.type == "member" else None


class FollowupEntrypoints(FollowupCopies):
    followup_clock = ManagedLoop(FollowupClock)

    def _ask_member(self, tenant_id):
        return lambda member_id: self.rpc_client.call("customers", "get_member", str(tenant_id), str(member_id))

    def _member_zone(self, session, tenant_id, member_id):
        return followups.zone(followup_copies.member_timezone(session, tenant_id, member_id),
                              followup_copies.tenant_timezone(session, tenant_id))

    def _check_subject(self, session, tenant_id, customer_id, cmd: CreateFollowup) -> None:
        if cmd.subject_type == "activity":
            found = session.execute(select(activities.c.id).where(
                activities.c.tenant_id == tenant_id, activities.c.customer_id == customer_id,
                activities.c.id == cmd.subject_id)).first()
            if found is None:
                raise InvalidInput("unknown activity", [
                    {"field": "subject_id", "message": "no such activity on this customer's timeline"}])
        elif cmd.subject_type == "ticket":
            try:
                ticket = self.rpc_client.call("tickets", "get_ticket", str(tenant_id), str(cmd.subject_id))
            except NotFound:
                ticket = None
            if ticket is None or ticket.get("customer_id") != str(customer_id):
                raise InvalidInput("unknown ticket", [
                    {"field": "subject_id", "message": "no such ticket of this customer"}])

    @rpc(expected_exceptions=EXPECTED)
    def create_followup(self, tenant_id, customer_id, payload):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        cmd = parse(CreateFollowup, payload)
        self.rpc_client.call("customers", "get_customer", str(tenant_id), str(customer_id))  # 404 if none
        with self.db.transaction() as session:
            followup_copies.assignable(session, tenant_id, cmd.assignee_id, self._ask_member(tenant_id))
            self._check_subject(session, tenant_id, customer_id, cmd)
            row = followup_store.create(session, tenant_id, customer_id, cmd, _acting_member(), _now())
        return followup_store.shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def get_followup(self, tenant_id, followup_id):
        """The follow-up with its postponements, oldest first."""
        tenant_id, followup_id = parse_id(tenant_id, "tenant"), parse_id(followup_id, "follow-up")
        with self.db.read() as session:
            row = followup_store.load(session, tenant_id, followup_id)
            history = followup_store.postponements(session, row["id"])
        return {**followup_store.shape(row), "postponement_history": history}

    @rpc(expected_exceptions=EXPECTED)
    def list_followups(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(FollowupFilters, filters or {})
        limit = pagination.clamp(limit)
        with self.db.read() as session:
            return followup_store.list_page(session, tenant_id, f, limit, cursor)

    @rpc(expected_exceptions=EXPECTED)
    def member_followups(self, tenant_id, member_id, customer_ids=None):
        """A member's open follow-ups grouped overdue / due today / upcoming in the member's timezone
        (`followups.group_of`); `customer_ids` limits them to the customers the caller may see."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        scope = parse(FollowupFilters, {"customer_ids": customer_ids}).customer_ids
        now = _now()
        with self.db.read() as session:
            tz = self._member_zone(session, tenant_id, member_id)
            rows = followup_store.open_for_member(session, tenant_id, member_id, scope)
        groups = followups.grouped(rows, now, tz)
        return {"member_id": str(member_id), "timezone": tz.key, "as_of": now.isoformat(),
                "groups": {name: {"count": len(items),
                                  "items": [followup_store.shape(r) for r in items[:followup_store.GROUP_LIMIT]]}
                           for name, items in groups.items()}}

    @rpc(expected_exceptions=EXPECTED)
    def update_followup(self, tenant_id, followup_id, payload):
        tenant_id, followup_id = parse_id(tenant_id, "tenant"), parse_id(followup_id, "follow-up")
        cmd = parse(UpdateFollowup, payload)
        with self.db.transaction() as session:
            return followup_store.shape(followup_store.update_note(session, tenant_id, followup_id, cmd.note, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def postpone_followup(self, tenant_id, followup_id, payload):
        """Postpone by a preset (in the assignee's timezone; `next_business_day` in the tenant's
        calendar) or to a chosen instant; recorded in the follow-up's postponements."""
        tenant_id, followup_id = parse_id(tenant_id, "tenant"), parse_id(followup_id, "follow-up")
        cmd = parse(Postpone, payload)
        now = _now()
        with self.db.transaction() as session:
            row = followup_store.open_row(session, tenant_id, followup_id)
            try:
                if cmd.preset is not None:
                    target = followups.postponed_due(
                        cmd.preset, row["due_at"], now, self._member_zone(session, tenant_id, row["assignee_id"]),
                        followup_copies.business_days(session, tenant_id))
                else:
                    target = followups.check_postponement(cmd.until, row["due_at"], now)
            except followups.PostponeRefused as exc:
                raise InvalidInput("the postponement is refused", [
                    {"field": "preset" if cmd.preset else "until", "message": str(exc)}]) from None
            row = followup_store.postpone(session, row, target, cmd.preset, cmd.reason, _acting_member(), now)
        return followup_store.shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def complete_followup(self, tenant_id, followup_id, payload):
        tenant_id, followup_id = parse_id(tenant_id, "tenant"), parse_id(followup_id, "follow-up")
        cmd = parse(Complete, payload)
        with self.db.transaction() as session:
            return followup_store.shape(followup_store.complete(
                session, tenant_id, followup_id, cmd.resolution, _acting_member(), _now()))

    @rpc(expected_exceptions=EXPECTED)
    def reassign_followup(self, tenant_id, followup_id, payload):
        tenant_id, followup_id = parse_id(tenant_id, "tenant"), parse_id(followup_id, "follow-up")
        cmd = parse(Reassign, payload)
        with self.db.transaction() as session:
            row = followup_store.open_row(session, tenant_id, followup_id)
            followup_copies.assignable(session, tenant_id, cmd.assignee_id, self._ask_member(tenant_id))
            return followup_store.shape(followup_store.reassign(session, row, cmd.assignee_id, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def cancel_followup(self, tenant_id, followup_id, payload=None):
        tenant_id, followup_id = parse_id(tenant_id, "tenant"), parse_id(followup_id, "follow-up")
        cmd = parse(Cancel, payload or {})
        with self.db.transaction() as session:
            return followup_store.shape(followup_store.cancel(session, tenant_id, followup_id, cmd.reason, _now()))

    @rpc(expected_exceptions=EXPECTED)
    def followup_analytics(self, tenant_id, query):
        """Completion rate, on-time rate, overdue count and average postponements, overall, by member
        and by customer, of the follow-ups due in [`due_from`, `due_to`) (`followups.analytics`)."""
        tenant_id = parse_id(tenant_id, "tenant")
        q = parse(AnalyticsQuery, query or {})
        with self.db.read() as session:
            rows = followup_store.analytics_rows(session, tenant_id, q)
        return {"due_from": q.due_from.isoformat(), "due_to": q.due_to.isoformat(),
                **followups.analytics(rows, _now())}
