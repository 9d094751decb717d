"""Forms entrypoints of the customers service (a mixin `CustomersService` inherits): thin wiring
over `work_plan.forms_store` (tables, events) and the pure `work_plan.forms` (definitions,
validation, scores, link tokens); the portal's forms; satisfaction surveys (`work_plan.surveys`:
settings, the `ticket.resolved` consumer, the clock of delayed ones); the consumer recording the
ticket a form's rule opened; background import jobs (`work_plan.import_jobs` and its worker)."""
from __future__ import annotations

from custops import pagination
from custops.entrypoints import PoisonMessage, consumes
from custops.errors import EXPECTED
from custops.notified_loop import ManagedLoop
from custops.rpc_entrypoint import rpc
from custops.validation import parse, parse_id
from customers.work_plan import forms_store, import_jobs, surveys
from customers.work_plan.forms_store import CreateForm, CreateLink, SubmissionFilters, Submit, UpdateForm


class FormEntrypoints:
    survey_clock = ManagedLoop(surveys.SurveyClock)
    import_worker = ManagedLoop(import_jobs.ImportWorker)

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

    # --- the portal: a portal user's company fills the tenant's portal-visible forms in ---

    @rpc(expected_exceptions=EXPECTED)
    def list_portal_forms(self, tenant_id, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return forms_store.list_portal_forms(session, tenant_id, pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def get_portal_form(self, tenant_id, form_id):
        tenant_id, form_id = parse_id(tenant_id, "tenant"), parse_id(form_id, "form")
        with self.db.read() as session:
            return forms_store.get_portal_form(session, tenant_id, form_id)

    @rpc(expected_exceptions=EXPECTED)
    def submit_portal_form(self, tenant_id, form_id, customer_id, contact_id, payload):
        """A portal user's submission, for their company (`customer_id`) as their contact."""
        tenant_id, form_id = parse_id(tenant_id, "tenant"), parse_id(form_id, "form")
        customer_id, contact_id = parse_id(customer_id, "customer"), parse_id(contact_id, "contact")
        cmd = parse(Submit, payload)
        with self._transaction() as session:
            return forms_store.submit_in_portal(session, tenant_id, form_id, customer_id, contact_id, cmd)

    # --- tickets a form's rule asked for, satisfaction surveys ---

    @consumes("tickets", "ticket.created")
    def record_form_ticket(self, session, envelope, data):
        if data.form_submission_id is not None:
            forms_store.record_form_ticket(session, envelope.tenant_id, data.form_submission_id, data.ticket_id)

    @consumes("tickets", "ticket.resolved")
    def request_survey(self, session, envelope, data):
        if envelope.tenant_id is None:
            raise PoisonMessage(f"ticket.resolved {envelope.id} has no tenant")
        surveys.on_ticket_resolved(session, envelope.tenant_id, data)

    @rpc(expected_exceptions=EXPECTED)
    def get_survey_settings(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return surveys.get_settings(session, tenant_id)

    @rpc(expected_exceptions=EXPECTED)
    def put_survey_settings(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(surveys.SurveySettings, payload)
        with self._transaction() as session:
            return surveys.put_settings(session, tenant_id, cmd)

    # --- importing a tool's CSV export in the background ---

    @rpc(expected_exceptions=EXPECTED)
    def start_import_job(self, tenant_id, project_id, payload):
        """Queue an import (`{csv, tool?, mapping?}`): the job `queued`; a 4xx for a file that cannot be read."""
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        cmd = parse(import_jobs.StartImport, payload)
        with self._transaction() as session:
            return import_jobs.start_job(session, tenant_id, project_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def get_import_job(self, tenant_id, job_id):
        tenant_id, job_id = parse_id(tenant_id, "tenant"), parse_id(job_id, "import job")
        with self.db.read() as session:
            return import_jobs.get_job(session, tenant_id, job_id)
