"""Customers service entrypoints: thin wiring over `store` (tables) and the pure rules.

Tenants, members and API tokens are the directory the gateway authenticates against; customers
and contacts are the accounts every other service refers to.
"""
from __future__ import annotations

from contextlib import contextmanager

from custops.rpc_entrypoint import rpc
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from custops import pagination
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.errors import EXPECTED, Conflict
from custops.validation import parse, parse_id
from customers import store
from customers.commands import (ContactFilters, CreateContact, CreateCustomer, CreateMember, CreateTenant,
                                CustomerFilters, IssueToken, UpdateCustomer, UpdateTenantSettings)
from customers.demo import DEMO_CUSTOMERS
from customers.models import api_tokens, customer_domains, customers, members, tenants


class CustomersService(HealthEndpoints):
    name = "customers"

    db = Database()
    telemetry = Telemetry()

    @contextmanager
    def _transaction(self):
        """A transaction in which a unique index that a concurrent writer won is a Conflict.

        (The commands check uniqueness first for a precise error; this covers the race.)
        """
        try:
            with self.db.transaction() as session:
                yield session
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == "23505":  # unique_violation
                raise Conflict("a concurrent change took the same unique value; retry") from None
            raise

    # --- tenants, members, tokens (no tenant_id: these create tenants or find one from a token) ---

    @rpc(expected_exceptions=EXPECTED)
    def create_tenant(self, name, owner_email, owner_name=None, timezone=None):
        """A tenant (in `timezone`, an IANA zone; UTC when left out) with its owner and a first token."""
        given = {"name": name, "owner_email": owner_email, "owner_name": owner_name}
        if timezone is not None:
            given["timezone"] = timezone
        cmd = parse(CreateTenant, given)
        with self._transaction() as session:
            return store.create_tenant(session, cmd.name, cmd.owner_email, cmd.owner_name,
                                       timezone_name=cmd.timezone)

    @rpc(expected_exceptions=EXPECTED)
    def get_tenant(self, tenant_id):
        """The tenant's settings: `{id, name, timezone, created_at}`."""
        with self.db.read() as session:
            return store.tenant_shape(store.load_tenant(session, parse_id(tenant_id, "tenant")))

    @rpc(expected_exceptions=EXPECTED)
    def update_tenant_settings(self, tenant_id, payload):
        """Change the tenant's `name` and/or `timezone`; tells `tenant.updated`."""
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(UpdateTenantSettings, payload)
        with self._transaction() as session:
            return store.update_tenant_settings(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def seed_demo_tenant(self, name, owner_email):
        """The demo tenant called `name`, created with demo customers on first call; every call
        returns a new token for its owner."""
        cmd = parse(CreateTenant, {"name": name, "owner_email": owner_email})
        try:
            return self._seed_demo_tenant(cmd)
        except Conflict:  # a concurrent first seed of the same name won: now it is found
            return self._seed_demo_tenant(cmd)

    def _seed_demo_tenant(self, cmd: CreateTenant) -> dict:
        with self._transaction() as session:
            tenant_id = session.execute(select(tenants.c.id).where(
                tenants.c.name == cmd.name, tenants.c.demo.is_(True))).scalar()
            if tenant_id is not None:
                owner_id = session.execute(
                    select(members.c.id).where(members.c.tenant_id == tenant_id, members.c.role == "owner")
                    .order_by(members.c.created_at).limit(1)).scalar_one()
                issued = store.issue_token(session, tenant_id, owner_id, "demo")
                return {"tenant_id": str(tenant_id), "member_id": str(owner_id), "token": issued["token"]}
            created = store.create_tenant(session, cmd.name, cmd.owner_email, None, demo=True)
            tenant_id = parse_id(created["tenant_id"], "tenant")
            for customer_cmd, contact_cmd in DEMO_CUSTOMERS:
                customer = store.create_customer(session, tenant_id, customer_cmd)
                store.create_contact(session, tenant_id, parse_id(customer["id"], "customer"), contact_cmd)
            return created

    @rpc(expected_exceptions=EXPECTED)
    def create_member(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateMember, payload)
        with self._transaction() as session:
            return store.create_member(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def get_member(self, tenant_id, member_id):
        with self.db.read() as session:
            return store.member_shape(store.load_member(
                session, parse_id(tenant_id, "tenant"), parse_id(member_id, "member")))

    @rpc(expected_exceptions=EXPECTED)
    def list_members(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            rows = session.execute(select(members).where(members.c.tenant_id == tenant_id)
                                   .order_by(members.c.created_at, members.c.id)).mappings().all()
        return {"items": [store.member_shape(r) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def issue_token(self, tenant_id, member_id, label):
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        cmd = parse(IssueToken, {"label": label})
        with self._transaction() as session:
            return store.issue_token(session, tenant_id, member_id, cmd.label)

    @rpc(expected_exceptions=EXPECTED)
    def list_tokens(self, tenant_id, member_id):
        """A member's tokens for display: prefix and label, never the token or its hash."""
        tenant_id, member_id = parse_id(tenant_id, "tenant"), parse_id(member_id, "member")
        with self.db.read() as session:
            store.load_member(session, tenant_id, member_id)
            rows = session.execute(select(api_tokens).where(
                api_tokens.c.tenant_id == tenant_id, api_tokens.c.member_id == member_id)
                .order_by(api_tokens.c.created_at, api_tokens.c.id)).mappings().all()
        return {"items": [store.token_shape(r) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def revoke_token(self, tenant_id, token_id):
        tenant_id, token_id = parse_id(tenant_id, "tenant"), parse_id(token_id, "token")
        with self._transaction() as session:
            return store.revoke_token(session, tenant_id, token_id)

    @rpc(expected_exceptions=EXPECTED)
    def authenticate(self, token):
        with self.db.read() as session:
            return store.authenticate(session, token)

    # --- customers ---

    @rpc(expected_exceptions=EXPECTED)
    def create_customer(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateCustomer, payload)
        with self._transaction() as session:
            return store.create_customer(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def update_customer(self, tenant_id, customer_id, payload):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        cmd = parse(UpdateCustomer, payload)
        with self._transaction() as session:
            return store.update_customer(session, tenant_id, customer_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def get_customer(self, tenant_id, customer_id):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        with self.db.read() as session:
            row = store.load_customer(session, tenant_id, customer_id)
            return store.customer_shape(row, store.domains_of(session, tenant_id, [customer_id])[customer_id])

    @rpc(expected_exceptions=EXPECTED)
    def list_customers(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(CustomerFilters, filters or {})
        limit = pagination.clamp(limit)
        stmt = select(customers).where(customers.c.tenant_id == tenant_id)
        if f.tier:
            stmt = stmt.where(customers.c.tier == f.tier)
        if f.owner_id:
            stmt = stmt.where(customers.c.owner_id == f.owner_id)
        if f.q:  # a case-insensitive substring of the name or of one of the domains
            domain_hit = select(customer_domains.c.customer_id).where(
                customer_domains.c.tenant_id == tenant_id, customer_domains.c.domain.icontains(f.q, autoescape=True))
            stmt = stmt.where(or_(customers.c.name.icontains(f.q, autoescape=True), customers.c.id.in_(domain_hit)))
        stmt = pagination.page(stmt, customers.c.created_at, customers.c.id, cursor, limit)
        with self.db.read() as session:
            rows = session.execute(stmt).mappings().all()
            domain_names = store.domains_of(session, tenant_id, [r["id"] for r in rows[:limit]])
        return pagination.result(rows, limit, "created_at", lambda r: store.customer_shape(r, domain_names[r["id"]]))

    # --- contacts ---

    @rpc(expected_exceptions=EXPECTED)
    def create_contact(self, tenant_id, customer_id, payload):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        cmd = parse(CreateContact, payload)
        with self._transaction() as session:
            return store.create_contact(session, tenant_id, customer_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def list_contacts(self, tenant_id, customer_id, filters=None):
        """The customer's contacts (`{include_archived: true}`: archived ones too). Other services
        ask this to check a contact, so an archived contact is no longer offered to new tickets."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        f = parse(ContactFilters, filters or {})
        with self.db.read() as session:
            return store.list_contacts(session, tenant_id, customer_id, f.include_archived)

    @rpc(expected_exceptions=EXPECTED)
    def archive_contact(self, tenant_id, customer_id, contact_id):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        contact_id = parse_id(contact_id, "contact")
        with self._transaction() as session:
            return store.archive_contact(session, tenant_id, customer_id, contact_id)

    @rpc(expected_exceptions=EXPECTED)
    def match_sender(self, tenant_id, email):
        """`{customer_id, contact_id}` for a sender address (a contact's exact address first, else
        the most specific customer domain, contact_id null), or None."""
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return store.match_sender(session, tenant_id, email)
