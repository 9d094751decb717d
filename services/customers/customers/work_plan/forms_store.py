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
- Ticket rule (`ticket_rule = {subject, priority?, category?, when?}`): tickets are the tickets
  service's, so a submission meeting `when` only asks for one — `form.submitted` carries the rule's
  ticket fields, the tickets service opens the ticket (source `form`) and tells `ticket.created`
  with the submission's id, which `record_form_ticket` writes on the submission. No dual write.
- A submission's CSAT/NPS scores become the customer's latest (`latest_csat`, `latest_nps`) in
  the same transaction; one answering a ticket's satisfaction survey (`work_plan.surveys`) names
  that ticket (`survey_ticket_id`), and the tickets service puts the scores on it.
- The portal: a form with `portal_visible` is offered to every portal user of the tenant, who
  submits it as their contact for their company (`submit_in_portal`); any other form is a 404 to them.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from custops import caller, outbox, pagination
from custops.contracts.customers import FormCreated, FormLinkCreated, FormSubmitted, FormUpdated
from custops.errors import Gone, InvalidInput, NotFound
from customers.access_store import require_tenant
from customers.models import contacts, customers, form_links, form_submissions, forms, projects
from customers.work_plan import forms as rules
from customers.work_plan import store
from customers.work_plan.commands import _Input

Name = Annotated[str, Field(min_length=1, max_length=200)]


class TaskRule(_Input):
    project: Name
    title: Annotated[str, Field(min_length=1, max_length=300)]
    when: rules.Condition | None = None


class TicketRule(_Input):
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    category: Annotated[str, Field(min_length=1, max_length=50)] = "general"
    when: rules.Condition | None = None


class CreateForm(_Input):
    name: Name
    description: Annotated[str, Field(max_length=5000)] = ""
    definition: rules.FormDefinition
    task_rule: TaskRule | None = None
    ticket_rule: TicketRule | None = None
    portal_visible: bool = False


class UpdateForm(_Input):
    name: Name = None
    description: Annotated[str, Field(max_length=5000)] = None
    definition: rules.FormDefinition = None
    task_rule: TaskRule | None = None
    ticket_rule: TicketRule | None = None
    portal_visible: bool = None

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


def _check_task_rule(definition: rules.FormDefinition, rule: TaskRule | TicketRule | None,
                     name: str = "task_rule") -> None:
    if rule is None or rule.when is None:
        return
    source = {f.key: f for f in definition.fields()}.get(rule.when.field)
    if source is None or source.type in rules.NO_ANSWER_TYPES:
        raise InvalidInput(f"the {name.replace('_', ' ')} names no answerable field",
                           [{"field": f"{name}.when.field", "message": "not an answerable field of this form"}])


def _rule_doc(rule) -> dict | None:
    return rule.model_dump(mode="json", by_alias=True, exclude_none=True) if rule is not None else None


def form_shape(row) -> dict:
    return {"id": str(row["id"]), "name": row["name"], "description": row["description"],
            "definition": row["definition"], "version": row["version"], "task_rule": row["task_rule"],
            "ticket_rule": row.get("ticket_rule"), "portal_visible": bool(row.get("portal_visible")),
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
    _check_task_rule(cmd.definition, cmd.ticket_rule, "ticket_rule")
    at = store.now()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "name": cmd.name, "description": cmd.description,
           "definition": _definition_doc(cmd.definition), "version": 1, "task_rule": _rule_doc(cmd.task_rule),
           "ticket_rule": _rule_doc(cmd.ticket_rule), "portal_visible": cmd.portal_visible,
           "created_at": at, "updated_at": at}
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
    ticket_rule = cmd.ticket_rule if "ticket_rule" in changes else (
        TicketRule.model_validate(row["ticket_rule"]) if row["ticket_rule"] else None)
    _check_task_rule(definition, ticket_rule, "ticket_rule")
    values = {"updated_at": store.now()}
    if cmd.name is not None:
        values["name"] = cmd.name
    if cmd.description is not None:
        values["description"] = cmd.description
    if cmd.definition is not None:
        values["definition"] = _definition_doc(cmd.definition)
        values["version"] = row["version"] + 1
    if "task_rule" in changes:
        values["task_rule"] = _rule_doc(rule)
    if "ticket_rule" in changes:
        values["ticket_rule"] = _rule_doc(ticket_rule)
    if cmd.portal_visible is not None:
        values["portal_visible"] = cmd.portal_visible
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
    row, token = insert_link(session, tenant_id, form_id, customer_id, cmd.contact_id, multiple=cmd.multiple,
                             expires_in_days=cmd.expires_in_days, prefill=cmd.prefill)
    return link_shape(row, token)


def insert_link(session: Session, tenant_id, form_id, customer_id, contact_id, *, multiple: bool,
                expires_in_days: int | None, prefill: dict, ticket_id=None) -> tuple[dict, str]:
    """A new link's row (told as `form.link_created`) and its token (never stored)."""
    at = store.now()
    token, token_hash = rules.generate_link_token()
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "form_id": form_id, "customer_id": customer_id,
           "contact_id": contact_id, "token_hash": token_hash, "multiple": multiple, "submission_count": 0,
           "prefill": prefill, "created_by": store.actor_member_id(), "created_at": at, "revoked_at": None,
           "expires_at": at + timedelta(days=expires_in_days) if expires_in_days else None, "ticket_id": ticket_id}
    session.execute(insert(form_links).values(**row))
    outbox.add(session, tenant_id, FormLinkCreated(link_id=row["id"], form_id=form_id, customer_id=customer_id,
                                                   contact_id=contact_id, multiple=multiple,
                                                   expires_at=row["expires_at"]))
    return row, token


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
    form = load_form(session, link["tenant_id"], link["form_id"])
    row = _submit(session, form, cmd.answers, customer_id=link["customer_id"], contact_id=link["contact_id"],
                  link=link, via="link")
    session.execute(update(form_links).where(form_links.c.id == link["id"])
                    .values(submission_count=form_links.c.submission_count + 1))
    return submission_shape(row)


def _ticket_request(form: dict, clean: dict) -> dict:
    """The ticket fields `form.submitted` asks the tickets service for (empty: no ticket)."""
    if not form.get("ticket_rule"):
        return {}
    rule = TicketRule.model_validate(form["ticket_rule"])
    if rule.when is not None and not rules._condition_holds(rule.when, clean.get(rule.when.field)):
        return {}
    return {"ticket_subject": rule.subject, "ticket_priority": rule.priority, "ticket_category": rule.category}


def _remember_scores(session: Session, tenant_id, customer_id, scores: list[dict], at) -> None:
    """The submission's CSAT/NPS scores are the customer's latest."""
    values = {}
    for kind in ("csat", "nps"):
        found = next((s["score"] for s in scores if s.get("type") == kind), None)
        if found is not None:
            values[f"latest_{kind}"] = int(found)
    if values:
        session.execute(update(customers).where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
                        .values(**values, latest_score_at=at))


def _submit(session: Session, form: dict, answers: dict, *, customer_id, contact_id, link: dict | None,
            via: str) -> dict:
    """Validate, store and tell one submission of `form` for the customer (as the contact, when one)."""
    tenant_id = form["tenant_id"]
    definition = rules.FormDefinition.model_validate(form["definition"])
    prefill = link["prefill"] if link is not None else {}
    clean, errors = rules.validate_submission(definition, {**answers, **prefill})
    if errors:
        raise InvalidInput("the answers do not fit the form", errors)
    scores = rules.scores(definition, clean)
    at = store.now()
    acting = caller.current()
    if contact_id is not None:
        acting = caller.contact(contact_id, request_id=getattr(acting, "request_id", None),
                                ip=getattr(acting, "ip", None))
    with caller.using(acting):
        task_id = None
        if form["task_rule"]:
            task_id = _rule_task(session, tenant_id, customer_id, TaskRule.model_validate(form["task_rule"]),
                                 form, clean)
        survey_ticket_id = link.get("ticket_id") if link is not None else None
        row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "form_id": form["id"], "form_version": form["version"],
               "link_id": link["id"] if link is not None else None, "customer_id": customer_id,
               "contact_id": contact_id, "answers": clean, "scores": scores, "task_id": task_id,
               "submitted_at": at, "ticket_id": None, "survey_ticket_id": survey_ticket_id, "via": via}
        session.execute(insert(form_submissions).values(**row))
        _remember_scores(session, tenant_id, customer_id, scores, at)
        outbox.add(session, tenant_id, FormSubmitted(
            submission_id=row["id"], form_id=form["id"], form_name=form["name"], form_version=form["version"],
            customer_id=customer_id, contact_id=contact_id, link_id=row["link_id"],
            summary=rules.summary(definition, clean), scores=scores, task_id=task_id, submitted_at=at,
            survey_ticket_id=survey_ticket_id, via=via, **_ticket_request(form, clean)))
    return row


def record_form_ticket(session: Session, tenant_id, submission_id, ticket_id) -> None:
    """The ticket the tickets service opened for a submission (told by `ticket.created`)."""
    session.execute(update(form_submissions).where(form_submissions.c.tenant_id == tenant_id,
                                                   form_submissions.c.id == submission_id)
                    .values(ticket_id=ticket_id))


# --- the portal: a portal user fills the tenant's portal-visible forms in as their contact ---

def _portal_form(session: Session, tenant_id, form_id) -> dict:
    form = load_form(session, tenant_id, form_id)
    if not form["portal_visible"]:
        raise NotFound(f"form {form_id} not found")
    return form


def portal_form_shape(form: dict) -> dict:
    """What a portal user sees of a form: no rules, no internal settings."""
    return {"id": str(form["id"]), "name": form["name"], "description": form["description"],
            "definition": form["definition"], "version": form["version"],
            "updated_at": form["updated_at"].isoformat()}


def list_portal_forms(session: Session, tenant_id, limit: int, cursor) -> dict:
    stmt = select(forms).where(forms.c.tenant_id == tenant_id, forms.c.portal_visible.is_(True))
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(pagination.page(stmt, forms.c.created_at, forms.c.id, cursor, limit)).mappings().all()
    return {**pagination.result(rows, limit, "created_at", portal_form_shape), "total": total}


def get_portal_form(session: Session, tenant_id, form_id) -> dict:
    return portal_form_shape(_portal_form(session, tenant_id, form_id))


def _portal_contact(session: Session, tenant_id, customer_id, contact_id) -> None:
    found = session.execute(select(contacts.c.id).where(
        contacts.c.tenant_id == tenant_id, contacts.c.customer_id == customer_id, contacts.c.id == contact_id,
        contacts.c.archived_at.is_(None))).first()
    if found is None:
        raise NotFound(f"customer {customer_id} not found")  # not a contact of that company (any more)


def submit_in_portal(session: Session, tenant_id, form_id, customer_id, contact_id, cmd: Submit) -> dict:
    """A portal user's submission: for their company, as their contact."""
    form = _portal_form(session, tenant_id, form_id)
    _portal_contact(session, tenant_id, customer_id, contact_id)
    return submission_shape(_submit(session, form, cmd.answers, customer_id=customer_id, contact_id=contact_id,
                                    link=None, via="portal"))


def submission_shape(row) -> dict:
    return {"id": str(row["id"]), "form_id": str(row["form_id"]), "form_version": row["form_version"],
            "link_id": store._str(row["link_id"]), "customer_id": str(row["customer_id"]),
            "contact_id": store._str(row["contact_id"]), "answers": row["answers"], "scores": row["scores"],
            "task_id": store._str(row["task_id"]), "submitted_at": row["submitted_at"].isoformat(),
            "ticket_id": store._str(row.get("ticket_id")), "survey_ticket_id": store._str(row.get("survey_ticket_id")),
            "via": row.get("via") or "link"}


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
