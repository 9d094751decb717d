"""Forms' reads and writes inside the caller's session: definitions (versioned on each edit), links
that send a form to a customer, and submissions through a link. Every query is scoped by
`tenant_id` (a link's tenant is the link's); every change adds its event to the outbox in the same
transaction (and so is audited).

Decisions:
- A link token is told once, to whoever creates the link; only its SHA-256 is stored. Anyone holding
  it may read the form and submit (like a portal invite): an unknown token is a 404, a withdrawn,
  expired or used-up link a 410. The link's row lock serialises submissions, so a one-submission
  link takes exactly one however many arrive at once.
- A submission is validated against the form's current definition (`forms.validate_submission`);
  the link's `prefill` fills hidden fields (a respondent's value never overrides it).
- Task rule (`task_rule = {project, title, when?}`): a submission whose answers meet `when` (or any
  submission, without it) creates a task in the customer's newest project named `project`, and
  that project is created (the tenant's first status) when the customer has none of that name.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from custops import caller, outbox, pagination
from custops.contracts.customers import FormCreated, FormLinkCreated, FormSubmitted, FormUpdated
from custops.errors import Gone, InvalidInput, NotFound
from customers.access_store import require_tenant
from customers.models import contacts, form_links, form_submissions, forms, projects
from customers.work_plan import forms as rules
from customers.work_plan import store
from customers.work_plan.commands import _Input

Name = Annotated[str, Field(min_length=1, max_length=200)]


class TaskRule(_Input):
    project: Name
    title: Annotated[str, Field(min_length=1, max_length=300)]
    when: rules.Condition | None = None


class CreateForm(_Input):
    name: Name
    description: Annotated[str, Field(max_length=5000)] = ""
    definition: rules.FormDefinition
    task_rule: TaskRule | None = None


class UpdateForm(_Input):
    name: Name = None
    description: Annotated[str, Field(max_length=5000)] = None
    definition: rules.FormDefinition = None
    task_rule: TaskRule | None = None

    def changes(self) -> list[str]:
        return sorted(self.model_fields_set)


class CreateLink(_Input):
    contact_id: uuid.UUID | None = None
    multiple: bool = False
    expires_in_days: Annotated[int, Field(ge=1, le=365)] | None = None
    prefill: Annotated[dict[str, Annotated[str, Field(max_length=1000)]], Field(max_length=50)] = {}


class Submit(_Input):
    answers: dict[str, Any]


class SubmissionFilters(_Input):
    form_id: uuid.UUID | None = None


def _check_task_rule(definition: rules.FormDefinition, rule: TaskRule | None) -> None:
    if rule is None or rule.when is None:
        return
    source = {f.key: f for f in definition.fields()}.get(rule.when.field)
    if source is None or source.type in rules.NO_ANSWER_TYPES:
        raise InvalidInput("the task rule names no answerable field",
                           [{"field": "task_rule.when.field", "message": "not an answerable field of this form"}])


def form_shape(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "description": row["description"],
            "definition": row["definition"], "version": row["version"], "task_rule": row["task_rule"],
            "field_count": sum(1 for s in row["definition"]["sections"] for f in s["fields"]
                               if f["type"] not in rules.NO_ANSWER_TYPES),
            "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat()}


def _definition_doc(definition: rules.FormDefinition) -> dict:
    return definition.model_dump(mode="json", by_alias=True, exclude_none=True)


def load_form(session: Session, tenant_id, form_id, for_update=False) -> dict:
    stmt = select(forms).where(forms.c.tenant_id == tenant_id, forms.c.id == form_id)
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise NotFound(f"form {form_id} not found")
    return dict(row)


def create_form(session: Session, tenant_id, cmd: CreateForm) -> dict:
    require_tenant(session, tenant_id)
    _check_task_rule(cmd.definition, cmd.task_rule)
    at = store.now()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "description": cmd.description,
           "definition": _definition_doc(cmd.definition), "version": 1,
           "task_rule": cmd.task_rule.model_dump(mode="json", by_alias=True, exclude_none=True) if cmd.task_rule
           else None, "created_at": at, "updated_at": at}
    session.execute(insert(forms).values(**row))
    fields = [f for f in cmd.definition.fields() if f.type not in rules.NO_ANSWER_TYPES]
    outbox.add(session, tenant_id, FormCreated(form_id=row["id"], name=cmd.name, version=1, field_count=len(fields),
                                               field_types=sorted({f.type for f in fields})))
    return form_shape(row)


def get_form(session: Session, tenant_id, form_id) -> dict:
    return form_shape(load_form(session, tenant_id, form_id))


def list_forms(session: Session, tenant_id, limit: int, cursor) -> dict:
    stmt = select(forms).where(forms.c.tenant_id == tenant_id)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(pagination.page(stmt, forms.c.created_at, forms.c.id, cursor, limit)).mappings().all()
    return {**pagination.result(rows, limit, "created_at", form_shape), "total": total}


def update_form(session: Session, tenant_id, form_id, cmd: UpdateForm) -> dict:
    row = load_form(session, tenant_id, form_id, for_update=True)
    changes = cmd.changes()
    if not changes:
        return form_shape(row)
    definition = cmd.definition or rules.FormDefinition.model_validate(row["definition"])
    rule = cmd.task_rule if "task_rule" in changes else (
        TaskRule.model_validate(row["task_rule"]) if row["task_rule"] else None)
    _check_task_rule(definition, rule)
    values = {"updated_at": store.now()}
    if cmd.name is not None:
        values["name"] = cmd.name
    if cmd.description is not None:
        values["description"] = cmd.description
    if cmd.definition is not None:
        values["definition"] = _definition_doc(cmd.definition)
        values["version"] = row["version"] + 1
    if "task_rule" in changes:
        values["task_rule"] = rule.model_dump(mode="json", by_alias=True, exclude_none=True) if rule else None
    session.execute(update(forms).where(forms.c.id == form_id).values(**values))
    row.update(values)
    outbox.add(session, tenant_id, FormUpdated(form_id=form_id, name=row["name"], version=row["version"],
                                               changes=changes))
    return form_shape(row)


def link_shape(row, token: str | None = None) -> dict:
    shape = {"id": str(row["id"]), "form_id": str(row["form_id"]), "customer_id": str(row["customer_id"]),
             "contact_id": store._str(row["contact_id"]), "multiple": row["multiple"],
             "submission_count": row["submission_count"], "expires_at": store._iso(row["expires_at"]),
             "created_at": row["created_at"].isoformat()}
    if token is not None:
        shape["token"] = token
    return shape


def create_link(session: Session, tenant_id, form_id, customer_id, cmd: CreateLink) -> dict:
    """A link sending the form to the customer: `{id, ..., token}`, the token told this once."""
    form = load_form(session, tenant_id, form_id)
    store._customer(session, tenant_id, customer_id)
    if cmd.contact_id is not None:
        found = session.execute(select(contacts.c.id).where(
            contacts.c.tenant_id == tenant_id, contacts.c.customer_id == customer_id,
            contacts.c.id == cmd.contact_id)).first()
        if found is None:
            raise InvalidInput("no such contact of this customer",
                               [{"field": "contact_id", "message": "no such contact of this customer"}])
    hidden = {f.key for f in rules.FormDefinition.model_validate(form["definition"]).fields() if f.type == "hidden"}
    unknown = sorted(set(cmd.prefill) - hidden)
    if unknown:
        raise InvalidInput("prefill names no hidden field",
                           [{"field": f"prefill.{k}", "message": "not a hidden field of this form"} for k in unknown])
    at = store.now()
    token, token_hash = rules.generate_link_token()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "form_id": form_id, "customer_id": customer_id,
           "contact_id": cmd.contact_id, "token_hash": token_hash, "multiple": cmd.multiple, "submission_count": 0,
           "prefill": cmd.prefill, "created_by": store.actor_member_id(), "created_at": at, "revoked_at": None,
           "expires_at": at + timedelta(days=cmd.expires_in_days) if cmd.expires_in_days else None}
    session.execute(insert(form_links).values(**row))
    outbox.add(session, tenant_id, FormLinkCreated(link_id=row["id"], form_id=form_id, customer_id=customer_id,
                                                   contact_id=cmd.contact_id, multiple=cmd.multiple,
                                                   expires_at=row["expires_at"]))
    return link_shape(row, token)


def _link(session: Session, token, for_update=False) -> dict:
    if not rules.link_token_well_formed(token):
        raise NotFound("no such form link")
    stmt = select(form_links).where(form_links.c.token_hash == rules.tokens.hash_token(token))
    row = session.execute(stmt.with_for_update() if for_update else stmt).mappings().first()
    if row is None:
        raise NotFound("no such form link")
    why = rules.link_refusal(row["expires_at"], row["revoked_at"], row["multiple"], row["submission_count"],
                             store.now())
    if why is not None:
        raise Gone(why)
    return dict(row)


def form_by_link(session: Session, token) -> dict:
    """What a respondent needs to fill the form: its name, description and definition (hidden fields'
    values stay server-side)."""
    link = _link(session, token)
    form = load_form(session, link["tenant_id"], link["form_id"])
    return {"form_id": str(form["id"]), "name": form["name"], "description": form["description"],
            "definition": form["definition"], "version": form["version"], "multiple": link["multiple"],
            "expires_at": store._iso(link["expires_at"])}


def _rule_task(session: Session, tenant_id, customer_id, rule: TaskRule, form: dict, clean: dict) -> uuid.UUID | None:
    if rule.when is not None and not rules._condition_holds(rule.when, clean.get(rule.when.field)):
        return None
    project = session.execute(select(projects).where(
        projects.c.tenant_id == tenant_id, projects.c.customer_id == customer_id, projects.c.name == rule.project)
        .order_by(projects.c.created_at.desc()).limit(1).with_for_update()).mappings().first()
    if project is None:
        _, statuses = store.settings(session, tenant_id)
        project = store.insert_project(session, tenant_id, customer_id, name=rule.project, status=statuses[0])
    columns, _ = store.settings(session, tenant_id)
    column = next(c for c in columns if c.category == "todo")  # the tenant's first to-do column
    task = store.insert_task(session, tenant_id, dict(project), title=rule.title, status=column.key,
                             category=column.category, description=f"From a submission of the form {form['name']}.")
    return task["id"]


def submit_by_link(session: Session, token, cmd: Submit) -> dict:
    """Validate and store a submission through a link (InvalidInput naming each bad answer: nothing
    stored); told as `form.submitted` with the answers' summary and the CSAT/NPS scores."""
    link = _link(session, token, for_update=True)
    tenant_id = link["tenant_id"]
    form = load_form(session, tenant_id, link["form_id"])
    definition = rules.FormDefinition.model_validate(form["definition"])
    clean, errors = rules.validate_submission(definition, {**cmd.answers, **link["prefill"]})
    if errors:
        raise InvalidInput("the answers do not fit the form", errors)
    scores = rules.scores(definition, clean)
    at = store.now()
    acting = caller.current()
    if link["contact_id"] is not None:
        acting = caller.contact(link["contact_id"], request_id=getattr(acting, "request_id", None),
                                ip=getattr(acting, "ip", None))
    with caller.using(acting):
        task_id = None
        if form["task_rule"]:
            task_id = _rule_task(session, tenant_id, link["customer_id"], TaskRule.model_validate(form["task_rule"]),
                                 form, clean)
        row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "form_id": form["id"], "form_version": form["version"],
               "link_id": link["id"], "customer_id": link["customer_id"], "contact_id": link["contact_id"],
               "answers": clean, "scores": scores, "task_id": task_id, "submitted_at": at}
        session.execute(insert(form_submissions).values(**row))
        session.execute(update(form_links).where(form_links.c.id == link["id"])
                        .values(submission_count=form_links.c.submission_count + 1))
        outbox.add(session, tenant_id, FormSubmitted(
            submission_id=row["id"], form_id=form["id"], form_name=form["name"], form_version=form["version"],
            customer_id=link["customer_id"], contact_id=link["contact_id"], link_id=link["id"],
            summary=rules.summary(definition, clean), scores=scores, task_id=task_id, submitted_at=at))
    return submission_shape(row)


def submission_shape(row) -> dict:
    return {"id": str(row["id"]), "form_id": str(row["form_id"]), "form_version": row["form_version"],
            "link_id": store._str(row["link_id"]), "customer_id": str(row["customer_id"]),
            "contact_id": store._str(row["contact_id"]), "answers": row["answers"], "scores": row["scores"],
            "task_id": store._str(row["task_id"]), "submitted_at": row["submitted_at"].isoformat()}


def list_customer_submissions(session: Session, tenant_id, customer_id, f: SubmissionFilters, limit: int,
                              cursor) -> dict:
    store._customer(session, tenant_id, customer_id)
    stmt = select(form_submissions).where(form_submissions.c.tenant_id == tenant_id,
                                          form_submissions.c.customer_id == customer_id)
    if f.form_id is not None:
        stmt = stmt.where(form_submissions.c.form_id == f.form_id)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(pagination.page(stmt, form_submissions.c.submitted_at, form_submissions.c.id, cursor,
                                           limit)).mappings().all()
    return {**pagination.result(rows, limit, "submitted_at", submission_shape), "total": total}
