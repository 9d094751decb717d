"""Account-team entrypoints of the customers service (a mixin `CustomersService` inherits): thin
wiring over `customers.account_teams`."""
from __future__ import annotations

from custops.rpc_entrypoint import rpc

from custops.errors import EXPECTED
from custops.validation import parse, parse_id
from customers import account_teams
from customers.commands import PutTeamMember


class AccountTeamEntrypoints:
    @rpc(expected_exceptions=EXPECTED)
    def get_account_team(self, tenant_id, customer_id):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        with self.db.read() as session:
            return account_teams.get_team(session, tenant_id, customer_id)

    @rpc(expected_exceptions=EXPECTED)
    def put_account_team_member(self, tenant_id, customer_id, member_id, payload=None):
        """Assign `member_id` to the customer's team (`{internal_access}`: its internal notes and timeline
        too, which contractors otherwise never see); tells `customer.team_changed` when it changes."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        member_id = parse_id(member_id, "member")
        cmd = parse(PutTeamMember, payload or {})
        with self._transaction() as session:
            return account_teams.put_member(session, tenant_id, customer_id, member_id, cmd.internal_access)

    @rpc(expected_exceptions=EXPECTED)
    def remove_account_team_member(self, tenant_id, customer_id, member_id):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        member_id = parse_id(member_id, "member")
        with self._transaction() as session:
            return account_teams.remove_member(session, tenant_id, customer_id, member_id)

    @rpc(expected_exceptions=EXPECTED)
    def scope_of(self, tenant_id, member_id):
        """The customers the member owns or is on the account team of: `{customer_ids,
        internal_customer_ids}` (the gateway's row scope for members, contractors, read-only users)."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        with self.db.read() as session:
            return account_teams.scope_of(session, tenant_id, member_id)
