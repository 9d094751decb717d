"""What the tickets service keeps of the customers service's directory, told by its events (a
mixin `TicketsService` inherits), and the SLA consequences.

- `customer.updated` with a `tier` change: every ticket of that customer takes the new tier, and a
  recompute job for that customer's open tickets is queued in the same transaction
  (`tickets.sla_recompute`, reason `tier`): their unmet timers are recomputed in the background with
  the policy the new tier selects, as a policy change's are. (Met timers keep the policy they ran under.)
- `tenant.created` / `tenant.updated`: the tenant's timezone, the zone of its default business
  calendar (Monday to Friday 09:00-17:00) while it has not stored its own; a change moves the default
  calendar's version on and queues a recompute of the tenant's open tickets (reason `timezone`). A
  calendar the tenant stored names its zone.

Events can arrive late or twice: the inbox makes a repeat a no-op, and each copy keeps the
`occurred_at` of the event it applied last, so an older event arriving after a newer one changes
nothing. A ticket opened while its customer's tier changes takes the tier it asked the customers
service for; the customer lock below orders that with this consumer, and `sla_tracking` prefers a
tier change told in the last minute (`TIER_RACE_WINDOW`) that the ask may have missed.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops.contracts.customers import TIERS
from custops.entrypoints import PoisonMessage, consumes
from tickets import sla_recompute, sla_store
from tickets.models import directory_customers, directory_tenants, tickets

log = logging.getLogger(__name__)

# A ticket's creation asks the customers service for the tier (RPCs with timeouts) before its
# transaction; a tier change told this recently may be newer than that answer.
TIER_RACE_WINDOW = timedelta(seconds=60)


class DirectoryEvents:
    """Consumers of the customers service's directory events. Needs `self.db`."""

    @consumes("customers", "customer.updated")
    def on_customer_updated(self, session, envelope, data):
        if "tier" not in data.changes:
            return
        if envelope.tenant_id is None:
            raise PoisonMessage(f"customer.updated {envelope.id} has no tenant")
        apply_customer_tier(session, envelope.tenant_id, data.customer_id, data.changes["tier"],
                            envelope.occurred_at)

    @consumes("customers", "tenant.created")
    def on_tenant_created(self, session, envelope, data):
        apply_tenant_timezone(session, data.tenant_id, data.timezone, envelope.occurred_at)

    @consumes("customers", "tenant.updated")
    def on_tenant_updated(self, session, envelope, data):
        apply_tenant_timezone(session, data.tenant_id, data.timezone, envelope.occurred_at)


def lock_customer(session: Session, tenant_id, customer_id) -> None:
    """Serialise tier changes with the tickets being opened for the customer (until commit)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"custops.tickets.customer:{tenant_id}:{customer_id}"})


def apply_customer_tier(session: Session, tenant_id, customer_id, tier, as_of: datetime) -> int:
    """The customer's tickets take `tier` and a recompute job of their open timers is queued; returns
    how many tickets changed (0 for an event older than the one applied last).

    Lock order: first the customer's tickets (in id order, as the recompute's batches do), then the
    customer lock, then the tickets committed meanwhile. A ticket being opened holds its own rows
    (e.g. the closed ticket it follows) before it takes the customer lock, so taking the customer
    lock first here could deadlock with it."""
    if tier not in TIERS:
        raise PoisonMessage(f"unknown tier {tier!r} for customer {customer_id}")
    ids = set(_lock_tickets(session, tenant_id, customer_id, tier))
    lock_customer(session, tenant_id, customer_id)
    newer = session.execute(
        insert(directory_customers).values(tenant_id=tenant_id, customer_id=customer_id, tier=tier, as_of=as_of)
        .on_conflict_do_update(index_elements=[directory_customers.c.tenant_id, directory_customers.c.customer_id],
                               set_={"tier": tier, "as_of": as_of},
                               where=directory_customers.c.as_of < as_of)
        .returning(directory_customers.c.tier)).first()
    if newer is None:
        log.info("customer %s: a tier change older than the one applied is ignored", customer_id)
        return 0
    ids |= set(_lock_tickets(session, tenant_id, customer_id, tier))  # opened while we waited
    if not ids:
        return 0
    changed = session.execute(update(tickets).where(tickets.c.id.in_(ids)).values(customer_tier=tier)).rowcount
    sla_recompute.enqueue(session, tenant_id, "tier", customer_id=customer_id)  # re-selects the policy
    return changed


def _lock_tickets(session: Session, tenant_id, customer_id, tier) -> list:
    return session.execute(select(tickets.c.id).where(
        tickets.c.tenant_id == tenant_id, tickets.c.customer_id == customer_id, tickets.c.customer_tier != tier)
        .order_by(tickets.c.id).with_for_update()).scalars().all()


def recent_tier(session: Session, ticket: dict, at: datetime) -> str | None:
    """The tier of a change told for the ticket's customer within `TIER_RACE_WINDOW` before `at`
    when it differs from the ticket's (the customer lock must be held)."""
    row = session.execute(select(directory_customers.c.tier, directory_customers.c.as_of).where(
        directory_customers.c.tenant_id == ticket["tenant_id"],
        directory_customers.c.customer_id == ticket["customer_id"])).first()
    if row is None or row.tier == ticket["customer_tier"] or row.as_of < at - TIER_RACE_WINDOW:
        return None
    return row.tier


def apply_tenant_timezone(session: Session, tenant_id, zone: str, as_of: datetime) -> bool:
    """Keep the tenant's timezone; when it changes and the tenant has no stored calendar, the default
    calendar's version moves on and a recompute of the open tickets is queued. Returns whether it changed."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise PoisonMessage(f"tenant {tenant_id}: unknown timezone {zone!r}") from None
    sla_store.lock_calendar(session, tenant_id)
    current = session.execute(select(directory_tenants).where(directory_tenants.c.tenant_id == tenant_id)
                              .with_for_update()).mappings().first()
    if current is not None and current["as_of"] >= as_of:
        return False  # told already, or this event is older than the one applied
    if current is None:
        # until now the default calendar was UTC, version 1
        moved = zone != "UTC"
        session.execute(insert(directory_tenants).values(tenant_id=tenant_id, timezone=zone, as_of=as_of,
                                                         calendar_version=2 if moved else 1))
    else:
        moved = zone != current["timezone"]
        session.execute(update(directory_tenants).where(directory_tenants.c.tenant_id == tenant_id).values(
            timezone=zone, as_of=as_of,
            calendar_version=current["calendar_version"] + (1 if moved else 0)))
    if moved and sla_store.stored_calendar_row(session, tenant_id) is None:
        sla_recompute.enqueue(session, tenant_id, "timezone")
    return moved
