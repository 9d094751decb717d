"""Reports service entrypoints: read models rolled up from events, and the queries over them."""
from __future__ import annotations

from datetime import datetime, timezone

from nameko.rpc import rpc
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from custops.db import Database
from custops.entrypoints import HealthEndpoints, PoisonMessage, Telemetry, consumes
from custops.errors import EXPECTED
from custops.validation import parse, parse_id
from reports.commands import UpdateSettings, VolumeQuery
from reports.models import tenant_settings, ticket_volume_weekly
from reports.weeks import iso_week_of, window_start

DEFAULT_TIMEZONE = "UTC"

# The weekly counter a ticket's move into a status increments (other moves count nowhere).
STATUS_COUNTERS = {"resolved": "resolved_count", "closed": "closed_count"}


def _tenant_timezone(session, tenant_id) -> str:
    tz = session.execute(select(tenant_settings.c.timezone)
                         .where(tenant_settings.c.tenant_id == tenant_id)).scalar_one_or_none()
    return tz or DEFAULT_TIMEZONE


def _count_ticket(session, envelope, customer_id, instant: datetime, counter: str) -> None:
    """Add one to `counter` of the customer's row for the tenant-local ISO week of `instant`."""
    if envelope.tenant_id is None:
        raise PoisonMessage(f"{envelope.type} {envelope.id} has no tenant")
    year, week, monday = iso_week_of(instant, _tenant_timezone(session, envelope.tenant_id))
    table = ticket_volume_weekly
    stmt = insert(table).values(
        tenant_id=envelope.tenant_id, customer_id=customer_id, iso_year=year, iso_week=week,
        week_start=monday, **{counter: 1})
    session.execute(stmt.on_conflict_do_update(
        index_elements=[table.c.tenant_id, table.c.customer_id, table.c.iso_year, table.c.iso_week],
        set_={counter: table.c[counter] + 1}))


def _shape_week(row) -> dict:
    return {
        "customer_id": str(row["customer_id"]),
        "iso_year": row["iso_year"],
        "iso_week": row["iso_week"],
        "week_start": row["week_start"].isoformat(),
        "created": row["created_count"],
        "resolved": row["resolved_count"],
        "closed": row["closed_count"],
    }


def _settings(session, tenant_id) -> dict:
    return {"timezone": _tenant_timezone(session, tenant_id)}


class ReportsService(HealthEndpoints):
    name = "reports"

    db = Database()
    telemetry = Telemetry()

    @consumes("tickets", "ticket.created")
    def on_ticket_created(self, session, envelope, data):
        _count_ticket(session, envelope, data.customer_id, data.created_at, "created_count")

    @consumes("tickets", "ticket.status_changed")
    def on_ticket_status_changed(self, session, envelope, data):
        counter = STATUS_COUNTERS.get(data.new_status)
        if counter:
            _count_ticket(session, envelope, data.customer_id, data.changed_at, counter)

    @rpc(expected_exceptions=EXPECTED)
    def ticket_volume(self, tenant_id, customer_id=None, weeks=12):
        tenant_id = parse_id(tenant_id, "tenant")
        query = parse(VolumeQuery, {"customer_id": customer_id, "weeks": weeks})
        table = ticket_volume_weekly
        with self.db.read() as session:
            since = window_start(datetime.now(timezone.utc), _tenant_timezone(session, tenant_id), query.weeks)
            stmt = select(table).where(table.c.tenant_id == tenant_id, table.c.week_start >= since)
            if query.customer_id:
                stmt = stmt.where(table.c.customer_id == query.customer_id)
            stmt = stmt.order_by(table.c.week_start.desc(), table.c.customer_id)
            items = [_shape_week(r) for r in session.execute(stmt).mappings()]
        totals = {key: sum(item[key] for item in items) for key in ("created", "resolved", "closed")}
        return {"items": items, "totals": totals}

    @rpc(expected_exceptions=EXPECTED)
    def get_settings(self, tenant_id):
        with self.db.read() as session:
            return _settings(session, parse_id(tenant_id, "tenant"))

    @rpc(expected_exceptions=EXPECTED)
    def update_settings(self, tenant_id, payload):
        """Later weeks are bucketed in the new timezone; weeks already counted stay as they are."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(UpdateSettings, payload)
        with self.db.transaction() as session:
            session.execute(insert(tenant_settings).values(tenant_id=tenant_id, timezone=cmd.timezone)
                            .on_conflict_do_update(index_elements=[tenant_settings.c.tenant_id],
                                                   set_={"timezone": cmd.timezone}))
            return _settings(session, tenant_id)
