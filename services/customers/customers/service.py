"""Customers service entrypoints: thin wiring over `store` (tables) and the pure rules.

Tenants, members and API tokens (`customers.access_service`) are the directory the gateway
authenticates against; customers and contacts are the accounts every other service refers to;
the audit log (`customers.audit_service`) files every event of every service.
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
from customers import profile, store
from customers.access_service import AccessEntrypoints
from customers.account_team_service import AccountTeamEntrypoints
from customers.audit_service import AuditEntrypoints
from customers.mail_contacts import MailContactEntrypoints
from customers.portal_service import PortalEntrypoints
from customers.work_plan.service import WorkPlanEntrypoints
from customers.work_plan.forms_service import FormEntrypoints
from customers.commands import ContactFilters, CreateContact, CreateCustomer, CustomerFilters, UpdateCustomer
from customers.models import customer_domains, customers


class CustomersService(AccessEntrypoints, AccountTeamEntrypoints, AuditEntrypoints, PortalEntrypoints,
                       WorkPlanEntrypoints, FormEntrypoints, MailContactEntrypoints, HealthEndpoints):
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
        if f.customer_ids is not None:
            stmt = stmt.where(customers.c.id.in_(f.customer_ids))
        stmt = profile.filtered(stmt, f)  # lifecycle stage, renewal date, custom fields
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
