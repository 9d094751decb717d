"""Time setup entrypoints (a mixin of `BillingService`): the tenant's time categories, the billing
defaults of customers and projects, the stopwatch's rules and the named timesheet approvers. The
shapes and SQL are `billing.time_setup`; each change tells its event through the outbox (and so
reaches the audit log); a change that changes nothing tells nothing."""
from __future__ import annotations

from datetime import datetime, timezone

from custops.rpc_entrypoint import rpc

from billing import references, time_setup
from billing.time_setup import Approvers, CategoryChange, DefaultValue, NewCategory, SettingsChange
from custops import outbox
from custops.contracts.billing import (BillingDefaultChanged, FieldChange, TimeCategoryCreated, TimeCategoryUpdated,
                                       TimeSettingsChanged, TimesheetApproversChanged)
from custops.errors import EXPECTED, NotFound
from custops.validation import parse, parse_id

LEVELS = ("customer", "project")


def _level(level) -> str:
    if level not in LEVELS:
        raise NotFound(f"no billing defaults of {level!r}")
    return level


class TimeSetupEntrypoints:
    # --- categories

    @rpc(expected_exceptions=EXPECTED)
    def list_time_categories(self, tenant_id):
        with self.db.read() as session:
            return {"items": time_setup.list_categories(session, parse_id(tenant_id, "tenant"))}

    @rpc(expected_exceptions=EXPECTED)
    def create_time_category(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(NewCategory, payload)
        with self.db.transaction() as session:
            row = time_setup.add_category(session, tenant_id, cmd, datetime.now(timezone.utc))
            outbox.add(session, tenant_id, TimeCategoryCreated(time_category_id=row["id"], name=row["name"],
                                                               billable=row["billable"]))
        return time_setup.category_shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def update_time_category(self, tenant_id, category_id, payload):
        """Change a category's default (`billable`) or archive it (`archived`: no new entries take it)."""
        tenant_id, category_id = parse_id(tenant_id, "tenant"), parse_id(category_id, "time category")
        cmd = parse(CategoryChange, payload)
        given = {k: getattr(cmd, k) for k in cmd.model_fields_set}
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            row = time_setup.load_category(session, tenant_id, category_id)
            changes, values = {}, {}
            if "billable" in given and given["billable"] is not None and given["billable"] != row["billable"]:
                changes["billable"], values["billable"] = FieldChange(old=row["billable"], new=given["billable"]), \
                    given["billable"]
            archived = row["archived_at"] is not None
            if "archived" in given and given["archived"] is not None and given["archived"] != archived:
                changes["archived"] = FieldChange(old=archived, new=given["archived"])
                values["archived_at"] = now if given["archived"] else None
            if not changes:
                return time_setup.category_shape(row)
            row = {**row, **values, "updated_at": now}
            time_setup.change_category(session, row, {**values, "updated_at": now})
            outbox.add(session, tenant_id, TimeCategoryUpdated(
                time_category_id=row["id"], name=row["name"], billable=row["billable"],
                archived=row["archived_at"] is not None, changes=changes))
        return time_setup.category_shape(row)

    # --- billing defaults

    @rpc(expected_exceptions=EXPECTED)
    def get_billing_default(self, tenant_id, level, subject_id):
        tenant_id, level = parse_id(tenant_id, "tenant"), _level(level)
        subject_id = parse_id(subject_id, level)
        with self.db.read() as session:
            billable = time_setup.default_of(session, tenant_id, level, subject_id)
        return {"level": level, "subject_id": str(subject_id), "billable": billable}

    @rpc(expected_exceptions=EXPECTED)
    def set_billing_default(self, tenant_id, level, subject_id, payload):
        """Set a customer's or project's billing default (`billable: null` removes it). The gateway
        checks the customer is one the caller may see; a project id is the work plan's."""
        tenant_id, level = parse_id(tenant_id, "tenant"), _level(level)
        subject_id = parse_id(subject_id, level)
        cmd = parse(DefaultValue, payload)
        with self.db.transaction() as session:
            previous = time_setup.set_default(session, tenant_id, level, subject_id, cmd.billable,
                                              datetime.now(timezone.utc))
            if previous != cmd.billable:
                outbox.add(session, tenant_id, BillingDefaultChanged(
                    level=level, subject_id=subject_id, billable=cmd.billable, previous_billable=previous))
        return {"level": level, "subject_id": str(subject_id), "billable": cmd.billable}

    # --- the stopwatch's rules

    @rpc(expected_exceptions=EXPECTED)
    def get_time_settings(self, tenant_id):
        with self.db.read() as session:
            return time_setup.settings_of(session, parse_id(tenant_id, "tenant"))

    @rpc(expected_exceptions=EXPECTED)
    def update_time_settings(self, tenant_id, payload):
        """`timer_limit_minutes` (15..1440), `idle_stop_minutes` (5..1440, null: off),
        `one_timer_per_member`."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(SettingsChange, payload)
        given = {k: getattr(cmd, k) for k in cmd.model_fields_set}
        now = datetime.now(timezone.utc)
        with self.db.transaction() as session:
            current = time_setup.settings_of(session, tenant_id, for_update=True)
            changes = {k: FieldChange(old=current[k], new=v) for k, v in given.items()
                       if current[k] != v and (v is not None or k == "idle_stop_minutes")}
            if not changes:
                return current
            after = {**current, **{k: c.new for k, c in changes.items()}}
            time_setup.save_settings(session, tenant_id, after, now)
            outbox.add(session, tenant_id, TimeSettingsChanged(**after, changes=changes))
        return after

    # --- named approvers

    @rpc(expected_exceptions=EXPECTED)
    def get_timesheet_approvers(self, tenant_id, member_id):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        with self.db.read() as session:
            approvers = time_setup.approvers_of(session, tenant_id, member_id)
        return {"member_id": str(member_id), "approver_ids": sorted(str(a) for a in approvers)}

    @rpc(expected_exceptions=EXPECTED)
    def set_timesheet_approvers(self, tenant_id, member_id, payload):
        """Name the members (besides owners and admins) who approve `member_id`'s timesheets."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        wanted = list(dict.fromkeys(parse(Approvers, payload).approver_ids))
        if wanted:
            references.check_members(self.rpc_client, tenant_id, wanted, "approver_ids")
        with self.db.transaction() as session:
            previous = time_setup.approvers_of(session, tenant_id, member_id)
            if previous != set(wanted):
                time_setup.set_approvers(session, tenant_id, member_id, wanted, datetime.now(timezone.utc))
                outbox.add(session, tenant_id, TimesheetApproversChanged(
                    member_id=member_id, approver_ids=wanted, previous={"approver_ids": sorted(previous, key=str)}))
        return {"member_id": str(member_id), "approver_ids": sorted(str(a) for a in wanted)}
