"""Work-plan entrypoints of the customers service (a mixin `CustomersService` inherits): thin wiring
over `work_plan.store` (projects, tasks, views), `work_plan.templates_store` (templates, plans) and
`customers.profile` (custom fields, lifecycle), plus the consumer that keeps the business calendar
copy (`work_plan.calendar_copy`).

`options={"portal": true}` narrows a read to what a portal user sees: portal-shared projects and
their portal-visible tasks (the gateway sets it for portal users; docs/access.md).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from custops import pagination
from custops.entrypoints import consumes
from custops.errors import EXPECTED, InvalidInput
from custops.rpc_entrypoint import rpc
from custops.validation import MAX_INTEGER, parse, parse_id
from customers import profile
from customers.commands import PutCustomField
from customers.work_plan import calendar_copy, import_store, store, templates_store
from customers.work_plan.commands import (ApplyTemplate, CreateProject, CreateTask, ImportTasks, Key, MoveTask,
                                          ProjectFilters, PutWorkSettings, SaveTemplate, TaskFilters, UpdateProject,
                                          UpdateTask, UpgradePlan)

EXPORT_PAGE_ROWS = 1000


class ReadOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    portal: bool = False


class _FieldKey(BaseModel):
    key: Key


def _portal(options) -> bool:
    return parse(ReadOptions, options or {}).portal


def _key(key) -> str:
    return parse(_FieldKey, {"key": key}).key


class WorkPlanEntrypoints:
    # --- settings: board columns, project statuses, custom fields ---

    @rpc(expected_exceptions=EXPECTED)
    def get_work_settings(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return store.settings_shape(*store.settings(session, tenant_id))

    @rpc(expected_exceptions=EXPECTED)
    def put_work_settings(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(PutWorkSettings, payload)
        with self._transaction() as session:
            return store.put_settings(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def list_custom_fields(self, tenant_id):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return profile.list_definitions(session, tenant_id)

    @rpc(expected_exceptions=EXPECTED)
    def put_custom_field(self, tenant_id, key, payload):
        tenant_id, key = parse_id(tenant_id, "tenant"), _key(key)
        cmd = parse(PutCustomField, payload)
        with self._transaction() as session:
            return profile.put_definition(session, tenant_id, key, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def remove_custom_field(self, tenant_id, key):
        tenant_id, key = parse_id(tenant_id, "tenant"), _key(key)
        with self._transaction() as session:
            return profile.remove_definition(session, tenant_id, key)

    @rpc(expected_exceptions=EXPECTED)
    def customer_lifecycle(self, tenant_id, customer_id):
        """Every lifecycle stage the customer went through, oldest first, with when and by whom."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        with self.db.read() as session:
            store._customer(session, tenant_id, customer_id)
            items = profile.lifecycle_history(session, tenant_id, customer_id)
        return {"items": items, "next_cursor": None, "total": len(items)}

    # --- projects ---

    @rpc(expected_exceptions=EXPECTED)
    def create_project(self, tenant_id, customer_id, payload):
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        cmd = parse(CreateProject, payload)
        with self._transaction() as session:
            return store.create_project(session, tenant_id, customer_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def get_project(self, tenant_id, project_id, options=None):
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        with self.db.read() as session:
            return store.get_project(session, tenant_id, project_id, portal=_portal(options))

    @rpc(expected_exceptions=EXPECTED)
    def list_projects(self, tenant_id, filters=None, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        f = parse(ProjectFilters, filters or {})
        with self.db.read() as session:
            return store.list_projects(session, tenant_id, f, pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def list_customer_projects(self, tenant_id, customer_id, filters=None, limit=50, cursor=None):
        """A customer's projects (NotFound for a customer not of this tenant)."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        f = parse(ProjectFilters, {**(filters or {}), "customer_id": str(customer_id)})
        with self.db.read() as session:
            store._customer(session, tenant_id, customer_id)
            return store.list_projects(session, tenant_id, f, pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def update_project(self, tenant_id, project_id, payload):
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        cmd = parse(UpdateProject, payload)
        with self._transaction() as session:
            return store.update_project(session, tenant_id, project_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def delete_project(self, tenant_id, project_id):
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        with self._transaction() as session:
            return store.delete_project(session, tenant_id, project_id)

    # --- the three views ---

    @rpc(expected_exceptions=EXPECTED)
    def project_kanban(self, tenant_id, project_id, options=None):
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        with self.db.read() as session:
            return store.kanban(session, tenant_id, project_id, portal=_portal(options))

    @rpc(expected_exceptions=EXPECTED)
    def project_gantt(self, tenant_id, project_id, options=None):
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        with self.db.read() as session:
            return store.gantt(session, tenant_id, project_id, portal=_portal(options))

    @rpc(expected_exceptions=EXPECTED)
    def list_tasks(self, tenant_id, project_id, filters=None, limit=50, cursor=None):
        """The Table view: sorted, filtered, paged (`TaskFilters`), with the filtered total."""
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        f = parse(TaskFilters, filters or {})
        with self.db.read() as session:
            return store.table(session, tenant_id, project_id, f, pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def export_tasks(self, tenant_id, project_id, filters=None, cursor=None, limit=EXPORT_PAGE_ROWS):
        """A page of the Table's CSV export: `{columns, rows, next_cursor}` (the gateway streams them)."""
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        f = parse(TaskFilters, filters or {})
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= EXPORT_PAGE_ROWS:
            raise InvalidInput("invalid limit", [{"field": "limit", "message": f"must be 1..{EXPORT_PAGE_ROWS}"}])
        with self.db.read() as session:
            return store.table_csv_page(session, tenant_id, project_id, f, limit, cursor)

    # --- tasks ---

    @rpc(expected_exceptions=EXPECTED)
    def create_task(self, tenant_id, project_id, payload):
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        cmd = parse(CreateTask, payload)
        with self._transaction() as session:
            return store.create_task(session, tenant_id, project_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def get_task(self, tenant_id, task_id, options=None):
        tenant_id, task_id = parse_id(tenant_id, "tenant"), parse_id(task_id, "task")
        with self.db.read() as session:
            return store.get_task(session, tenant_id, task_id, portal=_portal(options))

    @rpc(expected_exceptions=EXPECTED)
    def update_task(self, tenant_id, task_id, payload):
        tenant_id, task_id = parse_id(tenant_id, "tenant"), parse_id(task_id, "task")
        cmd = parse(UpdateTask, payload)
        with self._transaction() as session:
            return store.update_task(session, tenant_id, task_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def move_task(self, tenant_id, task_id, payload):
        tenant_id, task_id = parse_id(tenant_id, "tenant"), parse_id(task_id, "task")
        cmd = parse(MoveTask, payload)
        with self._transaction() as session:
            return store.move_task(session, tenant_id, task_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def delete_task(self, tenant_id, task_id):
        tenant_id, task_id = parse_id(tenant_id, "tenant"), parse_id(task_id, "task")
        with self._transaction() as session:
            return store.delete_task(session, tenant_id, task_id)

    # --- onboarding templates and plans ---

    @rpc(expected_exceptions=EXPECTED)
    def create_template(self, tenant_id, payload):
        tenant_id = parse_id(tenant_id, "tenant")
        cmd = parse(SaveTemplate, payload)
        with self._transaction() as session:
            return templates_store.save_template(session, tenant_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def update_template(self, tenant_id, template_id, payload):
        """Save a new version (plans applied from earlier ones keep theirs until upgraded)."""
        tenant_id, template_id = parse_id(tenant_id, "tenant"), parse_id(template_id, "template")
        cmd = parse(SaveTemplate, payload)
        with self._transaction() as session:
            return templates_store.save_template(session, tenant_id, cmd, template_id)

    @rpc(expected_exceptions=EXPECTED)
    def get_template(self, tenant_id, template_id, version=None):
        tenant_id, template_id = parse_id(tenant_id, "tenant"), parse_id(template_id, "template")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)
                                    or not 1 <= version <= MAX_INTEGER):
            raise InvalidInput("invalid version", [{"field": "version", "message": "must be a positive integer "
                                                                                   f"of at most {MAX_INTEGER}"}])
        with self.db.read() as session:
            return templates_store.get_template(session, tenant_id, template_id, version)

    @rpc(expected_exceptions=EXPECTED)
    def list_templates(self, tenant_id, limit=50, cursor=None):
        tenant_id = parse_id(tenant_id, "tenant")
        with self.db.read() as session:
            return templates_store.list_templates(session, tenant_id, pagination.clamp(limit), cursor)

    @rpc(expected_exceptions=EXPECTED)
    def apply_template(self, tenant_id, customer_id, payload):
        """Create the customer's plan from a template in one call: `{created, project}` (a retry with
        the same idempotency key answers the same plan with `created: false`)."""
        tenant_id, customer_id = parse_id(tenant_id, "tenant"), parse_id(customer_id, "customer")
        cmd = parse(ApplyTemplate, payload)
        with self._transaction() as session:
            return templates_store.apply_template(session, tenant_id, customer_id, cmd)

    @rpc(expected_exceptions=EXPECTED)
    def upgrade_plan(self, tenant_id, project_id, payload=None):
        """The diff to another template version; with `confirm: true`, applied (and re-planned)."""
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        cmd = parse(UpgradePlan, payload or {})
        with self._transaction() as session:
            return templates_store.upgrade_plan(session, tenant_id, project_id, cmd)

    # --- importing a tool's CSV export ---

    @rpc(expected_exceptions=EXPECTED)
    def import_tasks(self, tenant_id, project_id, payload):
        """Import (or with `dry_run`, the default, only check) a Monday/ClickUp/Asana/Notion CSV export
        into a project: `{csv, tool?, mapping?, dry_run?, offset?, limit?}` (`work_plan.import_store`)."""
        tenant_id, project_id = parse_id(tenant_id, "tenant"), parse_id(project_id, "project")
        cmd = parse(ImportTasks, payload)
        with self._transaction() as session:
            return import_store.import_csv(session, tenant_id, project_id, cmd.csv.encode("utf-8"), tool=cmd.tool,
                                           mapping=cmd.mapping, dry_run=cmd.dry_run, offset=cmd.offset,
                                           limit=cmd.limit)

    # --- the business calendar copy (owned by tickets) ---

    @consumes("tickets", "business_calendar.changed")
    def copy_business_calendar(self, session, envelope, data):
        calendar_copy.take_change(session, envelope.tenant_id, data)
