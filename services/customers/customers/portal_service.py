"""Portal entrypoints of the customers service (a mixin `CustomersService` inherits): invite a
contact, exchange the invite for a portal API token, take portal access away.

Thin wiring over `customers.portal_store` (tables, events) and `customers.portal` (the invite
token and its lifetime).
"""
from __future__ import annotations

from custops.rpc_entrypoint import rpc

from custops.errors import EXPECTED
from custops.validation import parse, parse_id
from customers import portal_store
from customers.commands import InvitePortalUser


class PortalEntrypoints:
    @rpc(expected_exceptions=EXPECTED)
    def invite_portal_user(self, tenant_id, customer_id, contact_id, options=None):
        """A one-time invite for a contact with portal access (`{expires_in_days}`: 1–30, default
        7): `{id, contact_id, customer_id, email, expires_at, invite}`, the link token told this once."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        contact_id = parse_id(contact_id, "contact")
        cmd = parse(InvitePortalUser, options or {})
        with self._transaction() as session:
            return portal_store.invite(session, tenant_id, customer_id, contact_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def accept_portal_invite(self, invite):
        """Exchange an invite (no tenant: the invite names it) for a portal API token, told once:
        `{tenant_id, member_id, contact_id, customer_id, role, token, token_id, prefix, expires_at}`.
        Unknown: NotFound; already used, expired or access withdrawn: Gone."""
        with self._transaction() as session:
            return portal_store.accept(session, invite)

    @rpc(expected_exceptions=EXPECTED)
    def revoke_portal_access(self, tenant_id, customer_id, contact_id):
        """Take a contact's portal access away; its portal user's tokens stop (`member.deactivated`)."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        contact_id = parse_id(contact_id, "contact")
        with self._transaction() as session:
            return portal_store.revoke_access(session, tenant_id, customer_id, contact_id)
