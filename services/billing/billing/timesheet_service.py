"""Timesheet entrypoints (a mixin of `BillingService`): a member's week with its entries and totals;
submit, approve, reject, reopen; the reminders of unsubmitted weeks. The rules are
`billing.timesheets`, the week lock `billing.entry_writer` (an approval locks the sheet, then the
week's entries, so an edit under way is never lost: see there).

A week is named by its member and any day in it (normalised to the week's first day, the tenant's
week start). `is_manager` is the gateway's word that the caller is an owner or admin; otherwise
billing checks the caller is an approver named for the member.
"""
from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta, timezone

from nameko.timer import timer as every
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from custops.rpc_entrypoint import rpc

from billing import directory, entry_store, entry_writer, time_setup, weeks
from billing import timesheets as rules
from billing.facts import timesheet_event
from billing.models import time_entries, timesheets
from custops import outbox, pagination
from custops.errors import EXPECTED, NotFound
from custops.validation import parse, parse_id

log = logging.getLogger(__name__)
REMINDER_SECONDS = 3600


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=rules.MAX_COMMENT)


class TimesheetFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    member_id: uuid.UUID | None = None
    status: str | None = Field(default=None, pattern="^(open|submitted|approved|rejected)$")
    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")


def _day(value) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise NotFound(f"week {value} not found") from None


def totals(entries: list[dict]) -> dict:
    return {"total_minutes": sum(e["minutes"] for e in entries),
            "billable_minutes": sum(e["minutes"] for e in entries if e["billable"]),
            "entry_count": len(entries)}


def sheet_shape(sheet: dict, entries: list[dict] | None = None) -> dict:
    def iso(v):
        return v.isoformat() if v is not None else None

    first, last = weeks.week_days(sheet["week_start"])
    shaped = {"id": str(sheet["id"]) if sheet.get("id") else None, "member_id": str(sheet["member_id"]),
              "week_start": first.isoformat(), "week_end": last.isoformat(), "timezone": sheet["timezone"],
              "status": sheet["status"], "submitted_at": iso(sheet.get("submitted_at")),
              "submitted_by": str(sheet["submitted_by"]) if sheet.get("submitted_by") else None,
              "decided_at": iso(sheet.get("decided_at")),
              "decided_by": str(sheet["decided_by"]) if sheet.get("decided_by") else None,
              "comment": sheet.get("comment"), "reopened_at": iso(sheet.get("reopened_at")),
              "reminded_at": iso(sheet.get("reminded_at")), "revision": sheet.get("revision", 1)}
    if entries is not None:
        days = {}
        for e in entries:
            day = days.setdefault(e["work_date"].isoformat(), {"total_minutes": 0, "billable_minutes": 0})
            day["total_minutes"] += e["minutes"]
            day["billable_minutes"] += e["minutes"] if e["billable"] else 0
        shaped.update(totals(entries), days=days, entries=[entry_store.shape(e) for e in entries],
                      needs_confirmation=[str(e["id"]) for e in entries
                                          if e["needs_confirmation"] and e["confirmed_at"] is None])
    return shaped


def _unconfirmed(entries: list[dict]) -> list[uuid.UUID]:
    return [e["id"] for e in entries if e["needs_confirmation"] is not None and e["confirmed_at"] is None]


class TimesheetEntrypoints:
    def _week(self, tenant_id, member_id, day):
        zone = directory.zone_of(self.db, self.rpc_client, tenant_id, member_id)
        return zone, weeks.week_start(_day(day), zone.week_start)

    @rpc(expected_exceptions=EXPECTED)
    def get_timesheet(self, tenant_id, member_id, day, viewer=None):
        """The member's week containing `day`: its status, entries, totals per day and in all (a week
        nobody touched yet is `open` with no entries). `viewer` (None: a manager) sees their own and
        those of members they approve; another's is not found."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        zone, start = self._week(tenant_id, member_id, day)
        with self.db.read() as session:
            if viewer is not None and parse_id(viewer, "member") != member_id and parse_id(viewer, "member") not in \
                    time_setup.approvers_of(session, tenant_id, member_id):
                raise NotFound(f"timesheet of member {member_id} not found")
            sheet = session.execute(select(timesheets).where(
                timesheets.c.tenant_id == tenant_id, timesheets.c.member_id == member_id,
                timesheets.c.week_start == start)).mappings().first()
            sheet = dict(sheet) if sheet else {"member_id": member_id, "week_start": start,
                                               "timezone": zone.timezone, "status": "open"}
            entries = entry_store.in_week(session, tenant_id, member_id, *weeks.week_days(start))
        return sheet_shape(sheet, entries)

    @rpc(expected_exceptions=EXPECTED)
    def list_timesheets(self, tenant_id, filters=None, limit=50, cursor=None, viewer=None):
        """Timesheets that were touched (an entry written, a status changed), newest week first;
        `viewer` (None: a manager) sees their own and those of members they approve."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TimesheetFilters, filters or {})
        limit = pagination.clamp(limit)
        c = timesheets.c
        stmt = select(timesheets).where(c.tenant_id == tenant_id)
        with self.db.read() as session:
            if viewer is not None:
                viewer = parse_id(viewer, "member")
                stmt = stmt.where(c.member_id.in_([viewer, *time_setup.approved_members(session, tenant_id, viewer)]))
            if f.member_id:
                stmt = stmt.where(c.member_id == f.member_id)
            if f.status:
                stmt = stmt.where(c.status == f.status)
            if f.date_from:
                stmt = stmt.where(c.week_start >= f.date_from - timedelta(days=6))
            if f.date_to:
                stmt = stmt.where(c.week_start <= f.date_to)
            stmt = pagination.page(stmt, c.created_at, c.id, cursor, limit)
            rows = session.execute(stmt).mappings().all()
        return pagination.result(rows, limit, "created_at", lambda r: sheet_shape(dict(r)))

    def _decide(self, tenant_id, caller, member_id, day, action: str, payload=None, is_manager=False):
        tenant_id, caller = parse_id(tenant_id, "tenant"), parse_id(caller, "member")
        member_id = parse_id(member_id, "member")
        comment = rules.check_comment(parse(Decision, payload or {}).comment, required=action == "reject")
        zone, start = self._week(tenant_id, member_id, day)
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            sheet = entry_writer.hold_week(session, tenant_id, member_id, start, zone, now, for_update=True)
            approvers = time_setup.approvers_of(session, tenant_id, member_id)
            first, last = weeks.week_days(start)
            if action == "submit":
                rules.check_may_submit(sheet, caller, bool(is_manager), weeks.local_day(now, zone.timezone))
                entries = entry_store.in_week(session, tenant_id, member_id, first, last)
                rules.check_confirmed(_unconfirmed(entries))
                values = {"status": "submitted", "submitted_at": now, "submitted_by": caller, "comment": comment}
                extra = {"submitted_by_member_id": caller}
            elif action in ("approve", "reject"):
                rules.check_may_decide(sheet, caller, bool(is_manager), approvers, action)
                rules.check_decidable(sheet, "approved" if action == "approve" else "rejected")
                # the sheet is held FOR UPDATE: an edit of the week now waits; then lock what is there
                entries = entry_store.in_week(session, tenant_id, member_id, first, last, for_update=True)
                values = {"status": "approved" if action == "approve" else "rejected", "decided_at": now,
                          "decided_by": caller, "comment": comment}
                if action == "approve":
                    rules.check_confirmed(_unconfirmed(entries))
                    ids = [e["id"] for e in entries]
                    if ids:
                        session.execute(update(time_entries).where(time_entries.c.id.in_(ids)).values(approved_at=now))
                    entries = [{**e, "approved_at": now} for e in entries]
                    extra = {"approved_by_member_id": caller, "comment": comment, "entry_ids": ids}
                else:
                    extra = {"rejected_by_member_id": caller, "comment": comment}
            else:  # reopen
                entries = entry_store.in_week(session, tenant_id, member_id, first, last, for_update=True)
                invoiced = sum(1 for e in entries if e["invoiced_at"] is not None or e["invoice_id"] is not None)
                rules.check_may_reopen(sheet, caller, bool(is_manager), approvers, invoiced)
                ids = [e["id"] for e in entries if e["approved_at"] is not None]
                if ids:
                    session.execute(update(time_entries).where(time_entries.c.id.in_(ids)).values(approved_at=None))
                entries = [{**e, "approved_at": None} for e in entries]
                values = {"status": "open", "reopened_at": now, "comment": comment}
                extra = {"reopened_by_member_id": caller, "previous_status": sheet["status"], "comment": comment,
                         "entry_ids": ids}
            values = {**values, "revision": sheet["revision"] + 1, "updated_at": now}
            session.execute(update(timesheets).where(timesheets.c.id == sheet["id"]).values(**values))
            sheet = {**sheet, **values}
            kind = {"submit": "submitted", "approve": "approved", "reject": "rejected", "reopen": "reopened"}[action]
            outbox.add(session, tenant_id, timesheet_event(kind, sheet, totals(entries), **extra))
        return sheet_shape(sheet, entries)

    @rpc(expected_exceptions=EXPECTED)
    def submit_timesheet(self, tenant_id, caller, member_id, day, payload=None, is_manager=False):
        return self._decide(tenant_id, caller, member_id, day, "submit", payload, is_manager)

    @rpc(expected_exceptions=EXPECTED)
    def approve_timesheet(self, tenant_id, caller, member_id, day, payload=None, is_manager=False):
        return self._decide(tenant_id, caller, member_id, day, "approve", payload, is_manager)

    @rpc(expected_exceptions=EXPECTED)
    def reject_timesheet(self, tenant_id, caller, member_id, day, payload=None, is_manager=False):
        return self._decide(tenant_id, caller, member_id, day, "reject", payload, is_manager)

    @rpc(expected_exceptions=EXPECTED)
    def reopen_timesheet(self, tenant_id, caller, member_id, day, payload=None, is_manager=False):
        return self._decide(tenant_id, caller, member_id, day, "reopen", payload, is_manager)

    # --- reminders

    @every(interval=REMINDER_SECONDS)
    def send_timesheet_reminders_periodically(self):
        try:
            self.send_timesheet_reminders()
        except Exception:  # retried at the next tick
            log.exception("timesheet reminders failed")

    @rpc(expected_exceptions=EXPECTED)
    def send_timesheet_reminders(self, tenant_id=None, at=None):
        """One `timesheet.reminder` per active team member and past week not submitted yet (the
        member's last ended week, in their zone), never twice for a member-week. Answers the count."""
        tenant = parse_id(tenant_id, "tenant") if tenant_id is not None else None
        now = datetime.fromisoformat(at) if at else datetime.now(timezone.utc)
        sent = 0
        with self.db.read() as session:
            members = directory.team_members(session, tenant)
        for m in members:
            zone = directory.Zone(weeks.member_zone(m["timezone"], m["tenant_timezone"]), m["week_start"] or "monday")
            this_week = weeks.week_start(weeks.local_day(now, zone.timezone), zone.week_start)
            last_week = this_week - timedelta(days=7)
            with self.db.transaction() as session:
                sheet = entry_writer.hold_week(session, m["tenant_id"], m["member_id"], last_week, zone, now,
                                               for_update=True)
                if not rules.needs_reminder(sheet["status"], sheet["reminded_at"] is not None,
                                            weeks.week_has_ended(last_week, now, zone.timezone)):
                    continue
                session.execute(update(timesheets).where(timesheets.c.id == sheet["id"]).values(reminded_at=now))
                entries = entry_store.in_week(session, m["tenant_id"], m["member_id"], *weeks.week_days(last_week))
                outbox.add(session, m["tenant_id"], timesheet_event("reminder", sheet, totals(entries)))
                sent += 1
        return {"sent": sent}
