"""What billing asks the owners of the things a time entry points at. Never their tables (DESIGN §2):
the customers service answers for customers and members, the tickets service for tickets.

Each unknown or mismatched reference is one field error, all reported in one `InvalidInput` (422),
so a client fixes every field at once. Ids of another tenant are unknown here: every ask carries
the tenant. `ServiceUnavailable` / `ServiceTimeout` propagate: an owner that is down is a 503/504,
never a 4xx and never a stored entry.
"""
from __future__ import annotations

import uuid

from custops.errors import InvalidInput, NotFound


def _error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def _ask(rpc, service: str, method: str, *args) -> dict | None:
    try:
        return rpc.call(service, method, *args)
    except NotFound:
        return None


def check(rpc, tenant_id: uuid.UUID, *, customer_id: uuid.UUID | None = None,
          ticket_id: uuid.UUID | None = None, ticket_customer_id: uuid.UUID | None = None,
          member_id: uuid.UUID | None = None) -> None:
    """Raise `InvalidInput` naming each reference that does not hold:

    - `customer_id`: a customer of this tenant;
    - `ticket_id`: a ticket of this tenant whose customer is `ticket_customer_id`;
    - `member_id`: a member of this tenant who is on the team (a portal user logs no time).
    """
    errors = []
    if customer_id is not None and _ask(rpc, "customers", "get_customer", str(tenant_id), str(customer_id)) is None:
        errors.append(_error("customer_id", "no such customer in this tenant"))
    if ticket_id is not None:
        ticket = _ask(rpc, "tickets", "get_ticket", str(tenant_id), str(ticket_id))
        if ticket is None:
            errors.append(_error("ticket_id", "no such ticket in this tenant"))
        elif ticket["customer_id"] != str(ticket_customer_id):
            errors.append(_error("ticket_id", "the ticket belongs to another customer"))
    if member_id is not None:
        member = _ask(rpc, "customers", "get_member", str(tenant_id), str(member_id))
        if member is None:
            errors.append(_error("member_id", "no such member in this tenant"))
        elif member["role"] == "portal":
            errors.append(_error("member_id", "a portal user logs no time"))
    if errors:
        raise InvalidInput("the time entry refers to something that does not hold", errors)


def check_members(rpc, tenant_id: uuid.UUID, member_ids: list[uuid.UUID], field: str) -> None:
    """Raise `InvalidInput` on `field` unless every id is a team member of this tenant."""
    errors = []
    for i, member_id in enumerate(member_ids):
        member = _ask(rpc, "customers", "get_member", str(tenant_id), str(member_id))
        if member is None or member["role"] == "portal":
            errors.append(_error(f"{field}.{i}", "no such team member in this tenant"))
    if errors:
        raise InvalidInput("the approvers are not all team members", errors)


def check_work(rpc, tenant_id: uuid.UUID, customer_id: uuid.UUID, project_id: uuid.UUID | None,
               task_id: uuid.UUID | None) -> uuid.UUID | None:
    """The project the time is for: `project_id`, else the project of `task_id` (so a task's time
    counts for its project, and the project's billing default applies). Raises `InvalidInput` when
    the project or the task is not the customer's (the work plan's owner, customers, is asked), or
    the task is of another project than the one named."""
    errors = []
    if task_id is not None:
        task = _ask(rpc, "customers", "get_task", str(tenant_id), str(task_id))
        if task is None:
            errors.append(_error("task_id", "no such task in this tenant"))
        elif task["customer_id"] != str(customer_id):
            errors.append(_error("task_id", "the task belongs to another customer"))
        elif project_id is not None and task["project_id"] != str(project_id):
            errors.append(_error("task_id", "the task belongs to another project"))
        elif project_id is None:
            project_id = uuid.UUID(task["project_id"])
    if project_id is not None and not errors:
        project = _ask(rpc, "customers", "get_project", str(tenant_id), str(project_id))
        if project is None:
            errors.append(_error("project_id", "no such project in this tenant"))
        elif project["customer_id"] != str(customer_id):
            errors.append(_error("project_id", "the project belongs to another customer"))
    if errors:
        raise InvalidInput("the time refers to work that does not hold", errors)
    return project_id
