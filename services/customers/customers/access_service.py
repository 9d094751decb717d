"""Access entrypoints of the customers service (a mixin `CustomersService` inherits): tenants and
their settings, members, API tokens, and `authenticate(token)`, the gateway's one question per
uncached request.

Thin wiring: the SQL and events are in `customers.access_store`, who may manage whom and the last
owner rule in `customers.membership`. Changes made through the gateway carry its caller (the acting
member), which those rules and the events' actor use.
"""
from __future__ import annotations

from custops.rpc_entrypoint import rpc
from sqlalchemy import select

from custops import pagination
from custops.errors import EXPECTED, Conflict
from custops.shapes import utc_now
from custops.validation import parse, parse_id
from customers import access_store, store
from customers.commands import (CreateMember, CreateTenant, IssueToken, MemberFilters, UpdateMember,
                                UpdateTenantSettings)
from customers.demo import DEMO_CUSTOMERS
from customers.models import tenants


class AccessEntrypoints:
    # --- tenants (no tenant_id: these create tenants or find one from a token) ---

    @rpc(expected_exceptions=EXPECTED)
    def create_tenant(self, name, owner_email, owner_name=None, timezone=None):
        """A tenant (in `timezone`, an IANA zone; UTC when left out) with its owner and a first
        token: `{tenant_id, member_id, token, token_id}` (the only time that token is told)."""
        given = {"name": name, "owner_email": owner_email, "owner_name": owner_name}
        if timezone is not None:
            given["timezone"] = timezone
        cmd = parse(CreateTenant, given)
        with self._transaction() as session:
            return access_store.create_tenant(session, cmd.name, cmd.owner_email, cmd.owner_name,
                                              timezone_name=cmd.timezone)

    @rpc(expected_exceptions=EXPECTED)
    def get_tenant(self, tenant_id):
        """The tenant's settings: `{id, name, timezone, locale, week_start, created_at}`."""
        with self.db.read() as session:
            return access_store.tenant_shape(access_store.load_tenant(session, parse_id(tenant_id, "tenant")))

    @rpc(expected_exceptions=EXPECTED)
    def update_tenant_settings(self, tenant_id, payload):
        """Change the tenant's `name`, `timezone`, `locale` and/or `week_start`; tells `tenant.updated`."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(UpdateTenantSettings, payload)
        with self._transaction() as session:
            return access_store.update_tenant_settings(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def seed_demo_tenant(self, name, owner_email, known_token=None):
        """The demo tenant called `name`, created with demo customers on the first call, which
        alone returns its owner's token. Later calls return the tenant only when `known_token` is a
        live owner token of it (the one the first seed handed out, kept in var/demo.env); otherwise
        they refuse (Conflict): no new owner token for an existing tenant to whoever asks."""
        cmd = parse(CreateTenant, {"name": name, "owner_email": owner_email})
        try:
            return self._seed_demo_tenant(cmd, known_token)
        except Conflict:  # a concurrent first seed of the same name won: now it is found (a refusal repeats)
            return self._seed_demo_tenant(cmd, known_token)

    def _seed_demo_tenant(self, cmd: CreateTenant, known_token) -> dict:
        with self._transaction() as session:
            tenant_id = session.execute(select(tenants.c.id).where(
                tenants.c.name == cmd.name, tenants.c.demo.is_(True))).scalar()
            if tenant_id is not None:
                identity, _ = access_store.authenticate(session, known_token, utc_now())
                if (identity is None or identity["tenant_id"] != str(tenant_id) or identity["role"] != "owner"
                        or identity["read_only"]):
                    raise Conflict(f"the demo tenant {cmd.name!r} exists; its owner's token was handed out "
                                   "when it was first seeded (var/demo.env) and is not handed out again")
                return {"tenant_id": str(tenant_id), "member_id": identity["member_id"], "token": known_token,
                        "token_id": identity["token_id"]}
            created = access_store.create_tenant(session, cmd.name, cmd.owner_email, None, demo=True)
            tenant_id = parse_id(created["tenant_id"], "tenant")
            for customer_cmd, contact_cmd in DEMO_CUSTOMERS:
                customer = store.create_customer(session, tenant_id, customer_cmd)
                store.create_contact(session, tenant_id, parse_id(customer["id"], "customer"), contact_cmd)
            return created

    # --- members ---

    @rpc(expected_exceptions=EXPECTED)
    def create_member(self, tenant_id, payload):
        """Add a member (`{email, name, role, timezone?}`; a portal user also `customer_id`)."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateMember, payload)
        with self._transaction() as session:
            return access_store.create_member(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def get_member(self, tenant_id, member_id):
        with self.db.read() as session:
            return access_store.member_shape(access_store.load_member(
                session, parse_id(tenant_id, "tenant"), parse_id(member_id, "member")))

    @rpc(expected_exceptions=EXPECTED)
    def list_members(self, tenant_id, filters=None, limit=50, cursor=None):
        """Members newest first, filtered by `role`, `active` and `q` (name or address)."""
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(MemberFilters, filters or {})
        limit = pagination.clamp(limit)
        with self.db.read() as session:
            return access_store.list_members(session, tenant_id, f, limit, cursor)

    @rpc(expected_exceptions=EXPECTED)
    def update_member(self, tenant_id, member_id, payload):
        """Change `name`, `timezone` and/or `role` (only an owner touches owners; the last active
        owner keeps the role)."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(UpdateMember, payload)
        with self._transaction() as session:
            return access_store.update_member(session, tenant_id, member_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def deactivate_member(self, tenant_id, member_id):
        """Deactivate a member: every token of theirs stops working (`member.deactivated`)."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        with self._transaction() as session:
            return access_store.deactivate_member(session, tenant_id, member_id)

    @rpc(expected_exceptions=EXPECTED)
    def reactivate_member(self, tenant_id, member_id):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        with self._transaction() as session:
            return access_store.reactivate_member(session, tenant_id, member_id)

    @rpc(expected_exceptions=EXPECTED)
    def whoami(self, tenant_id, member_id):
        """A member with `tenant: {id, name}`."""
        with self.db.read() as session:
            return access_store.whoami(session, parse_id(tenant_id, "tenant"), parse_id(member_id, "member"))

    # --- tokens ---

    @rpc(expected_exceptions=EXPECTED)
    def issue_token(self, tenant_id, member_id, label, options=None):
        """A new token for the member, named `label`; `options`: `{expires_at, read_only}`. The
        answer holds the token itself (`token`), told this once."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(IssueToken, {**(options or {}), "label": label})
        with self._transaction() as session:
            return access_store.issue_token(session, tenant_id, member_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def list_tokens(self, tenant_id, member_id):
        """A member's tokens for display: prefix, name, created, last used, expiry; never the token
        or its hash."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        with self.db.read() as session:
            return access_store.list_tokens(session, tenant_id, member_id)

    @rpc(expected_exceptions=EXPECTED)
    def revoke_token(self, tenant_id, token_id, member_id=None):
        """Revoke a token (with `member_id`: only one of that member's); tells `token.revoked`."""
        tenant_id, token_id = parse_id(tenant_id, "tenant"), parse_id(token_id, "token")
        member_id = parse_id(member_id, "member") if member_id is not None else None
        with self._transaction() as session:
            return access_store.revoke_token(session, tenant_id, token_id, member_id)

    @rpc(expected_exceptions=EXPECTED)
    def authenticate(self, token):
        """`{tenant_id, member_id, role, customer_id, contact_id, email, token_id, read_only, expires_at}` of a
        live token, else None. Records the token's last use at most once a minute."""
        at = utc_now()
        with self.db.read() as session:
            identity, due = access_store.authenticate(session, token, at)
        if due:
            with self.db.transaction() as session:
                access_store.record_use(session, parse_id(identity["token_id"], "token"), at)
        return identity
