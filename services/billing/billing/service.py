"""Billing service entrypoints: thin wiring over the time entries table and the sums."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from nameko.rpc import rpc
from sqlalchemy import func, select

from billing import timesums
from billing.commands import LogTime, SummaryRange, TimeEntryFilters
from billing.models import time_entries
from custops import outbox, pagination
from custops.contracts.billing import TimeLogged
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.errors import EXPECTED, InvalidInput, NotFound
from custops.rpc import ServiceRpc
from custops.validation import parse, parse_id


def _shape(row) -> dict:
    return {
        "id": str(row["id"]),
        "member_id": str(row["member_id"]),
        "customer_id": str(row["customer_id"]),
        "ticket_id": str(row["ticket_id"]) if row["ticket_id"] else None,
        "work_date": row["work_date"].isoformat(),
        "minutes": row["minutes"],
        "billable": row["billable"],
        "note": row["note"],
        "created_at": row["created_at"].isoformat(),
    }


class BillingService(HealthEndpoints):
    name = "billing"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()

    @rpc(expected_exceptions=EXPECTED)
    def log_time(self, tenant_id, member_id, payload):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(LogTime, payload)
        # Ask (never tell) the customers service: the customer must exist in this tenant.
        # ServiceUnavailable / ServiceTimeout propagate: the caller sees a 503/504, not a 4xx.
        try:
            self.rpc_client.call("customers", "get_customer", str(tenant_id), str(cmd.customer_id))
        except NotFound:
            raise InvalidInput("unknown customer", [
                {"field": "customer_id", "message": "no such customer in this tenant"}]) from None
        row = {
            "id": uuid.uuid4(), "tenant_id": tenant_id, "member_id": member_id,
            "customer_id": cmd.customer_id, "ticket_id": cmd.ticket_id, "work_date": cmd.work_date,
            "minutes": cmd.minutes, "billable": cmd.billable, "note": cmd.note,
            "created_at": datetime.now(timezone.utc),
        }
        with self.db.transaction() as session:
            session.execute(time_entries.insert().values(**row))
            outbox.add(session, tenant_id, TimeLogged(
                entry_id=row["id"], member_id=member_id, customer_id=cmd.customer_id,
                ticket_id=cmd.ticket_id, minutes=cmd.minutes, billable=cmd.billable,
                work_date=cmd.work_date, note=cmd.note))
        return _shape(row)

    @rpc(expected_exceptions=EXPECTED)
    def list_time_entries(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(TimeEntryFilters, filters or {})
        limit = pagination.clamp(limit)
        stmt = _in_range(select(time_entries).where(time_entries.c.tenant_id == tenant_id), f)
        if f.customer_id:
            stmt = stmt.where(time_entries.c.customer_id == f.customer_id)
        if f.member_id:
            stmt = stmt.where(time_entries.c.member_id == f.member_id)
        stmt = pagination.page(stmt, time_entries.c.created_at, time_entries.c.id, cursor, limit)
        with self.db.read() as session:
            rows = session.execute(stmt).mappings().all()
        return pagination.result(rows, limit, "created_at", _shape)

    @rpc(expected_exceptions=EXPECTED)
    def time_summary(self, tenant_id, customer_id, date_from, date_to):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        period = parse(SummaryRange, {"from": date_from, "to": date_to})
        stmt = _in_range(
            select(time_entries.c.billable, func.sum(time_entries.c.minutes))
            .where(time_entries.c.tenant_id == tenant_id, time_entries.c.customer_id == customer_id),
            period,
        ).group_by(time_entries.c.billable)
        with self.db.read() as session:
            subtotals = session.execute(stmt).all()
        return timesums.summarise((billable, int(minutes)) for billable, minutes in subtotals)


def _in_range(stmt, period):
    """Restrict a select to entries whose work date lies in the inclusive range."""
    if period.date_from:
        stmt = stmt.where(time_entries.c.work_date >= period.date_from)
    if period.date_to:
        stmt = stmt.where(time_entries.c.work_date <= period.date_to)
    return stmt
