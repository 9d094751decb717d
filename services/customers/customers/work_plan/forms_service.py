"""Forms entrypoints of the customers service (a mixin `CustomersService` inherits): thin wiring
over `work_plan.forms_store` (tables, events) and the pure `work_plan.forms` (definitions,
validation, scores, link tokens)."""
from __future__ import annotations

from custops import pagination
from custops.errors import EXPECTED
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from customers.work_plan import forms_store
from customers.work_plan.forms_store import CreateForm, CreateLink, SubmissionFilters, Submit, UpdateForm


class FormEntrypoints:
    @rpc(expected_exceptions=EXPECTED)
    def create_form(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(CreateForm, payload)
        with self._transaction() as session:
            return forms_store.create_form(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def list_forms(self, tenant_id, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return forms_store.list_forms(session, tenant_id, pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def get_form(self, tenant_id, form_id):
        tenant_id, form_id = parse_id(tenant_id, "tenant"), parse_id(form_id, "form")
        with self.db.read() as session:
            return forms_store.get_form(session, tenant_id, form_id)

    @rpc(expected_exceptions=EXPECTED)
    def update_form(self, tenant_id, form_id, payload):
        tenant_id, form_id = parse_id(tenant_id, "tenant"), parse_id(form_id, "form")
        cmd = parse(UpdateForm, payload)
        with self._transaction() as session:
            return forms_store.update_form(session, tenant_id, form_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def create_form_link(self, tenant_id, form_id, customer_id, payload=None):
        """A link sending the form to a customer: `{id, ..., token}`, the token told this once."""
        tenant_id, form_id = parse_id(tenant_id, "tenant"), parse_id(form_id, "form")
        customer_id = parse_id(customer_id, "customer")
        cmd = parse(CreateLink, payload or {})
        with self._transaction() as session:
            return forms_store.create_link(session, tenant_id, form_id, customer_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def form_by_link(self, token):
        """The form a link token opens (no tenant: the link names it). Unknown: NotFound; withdrawn,
        expired or used up: Gone."""
        with self.db.read() as session:
            return forms_store.form_by_link(session, token)

    @rpc(expected_exceptions=EXPECTED)
    def submit_form_by_link(self, token, payload):
        cmd = parse(Submit, payload)
        with self._transaction() as session:
            return forms_store.submit_by_link(session, token, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def list_customer_submissions(self, tenant_id, customer_id, filters=None, limit=50, cursor=None):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        f = parse(SubmissionFilters, filters or {})
        with self.db.read() as session:
            return forms_store.list_customer_submissions(session, tenant_id, customer_id, f,
                                                         pagination.clamp(limit), cursor)
