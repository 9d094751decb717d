"""The customers the tickets service has been told of, so a ticket is opened without asking the
customers service (an RPC costing it ~7 ms of CPU) about a customer it knows (issue 14).

The copy is `directory_customers` (tenant, customer, tier, as_of): `customer.created` adds a
customer (here), a tier change moves it on (`directory_events.apply_customer_tier`), and each keeps
the `occurred_at` of the event applied last, so an older event arriving late changes nothing. A
customer not in the copy (created a moment ago, its event still on the way, or created before the
copy existed) is asked of the customers service as before, which refuses an unknown or other
tenant's customer exactly as it always has; its answer is kept as older than any event, so the
events still win. The copy is keyed by tenant: another tenant's customer is never found in it.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from custops.contracts.customers import TIERS
from custops.entrypoints import PoisonMessage, consumes
from tickets.models import directory_customers

# what the customers service answered is older than any event about the customer
ASKED_AS_OF = datetime(1970, 1, 1, tzinfo=timezone.utc)


class NotCopied(Exception):
    """The customer is not in the copy: ask the customers service."""


class CustomerCopies:
    """Consumer of `customer.created` (a mixin `TicketsService` inherits). Needs `self.db`."""

    @consumes("customers", "customer.created")
    def on_customer_created(self, session, envelope, data):
        if envelope.tenant_id is None:
            raise PoisonMessage(f"customer.created {envelope.id} has no tenant")
        if data.tier not in TIERS:
            raise PoisonMessage(f"unknown tier {data.tier!r} for customer {data.customer_id}")
        remember(session, envelope.tenant_id, data.customer_id, data.tier, envelope.occurred_at)


def remember(session: Session, tenant_id, customer_id, tier: str, as_of: datetime) -> None:
    """Copy a customer with its tier as of `as_of`, unless what is copied is as new already."""
    c = directory_customers.c
    session.execute(insert(directory_customers).values(tenant_id=tenant_id, customer_id=customer_id, tier=tier,
                                                       as_of=as_of)
                    .on_conflict_do_update(index_elements=[c.tenant_id, c.customer_id],
                                           set_={"tier": tier, "as_of": as_of}, where=c.as_of < as_of))


def remember_asked(session: Session, tenant_id, customer_id, tier: str) -> None:
    """Copy what the customers service answered for a customer not copied yet (any event wins)."""
    session.execute(insert(directory_customers).values(tenant_id=tenant_id, customer_id=customer_id, tier=tier,
                                                       as_of=ASKED_AS_OF).on_conflict_do_nothing())


def copied_tier(tenant_id, customer_id):
    """The copy's tier of a customer of this tenant (NULL: not copied), a column for a caller's SELECT."""
    c = directory_customers.c
    return select(c.tier).where(c.tenant_id == tenant_id, c.customer_id == customer_id).scalar_subquery()
