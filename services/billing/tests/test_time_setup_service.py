"""The precedence at write time against the real PostgreSQL and RabbitMQ: categories, project and
customer defaults as the tenant sets them, overrides with a reason, corrections deciding again, and
each setup change told through the outbox (the audit log's source)."""
import uuid

import pytest
from sqlalchemy import select

from billing.service import BillingService
from custops import db, outbox
from custops.errors import Conflict, InvalidInput


@pytest.fixture
def billing(container_factory, nameko_config):
    container = container_factory(BillingService, nameko_config)
    container.start()
    return container


def _types(tenant_id: str) -> list[str]:
    table = outbox._TABLE
    with db.engine_for("billing").connect() as conn:
        return list(conn.execute(select(table.c.type).where(table.c.tenant_id == uuid.UUID(tenant_id))
                                 .order_by(table.c.seq)).scalars())


def _fields(exc_info) -> list[str]:
    return [e["field"] for e in exc_info.value.errors]


def test_the_highest_level_that_says_decides_when_the_time_is_written(billing, rpc, new_tenant):
    tid = new_tenant()["tenant_id"]
    member = str(uuid.uuid4())
    customer = rpc.call("customers", "create_customer", tid, {"name": "Acme", "tier": "smb"})["id"]
    project = rpc.call("customers", "create_project", tid, customer, {"name": "Rollout"})["id"]
    task = rpc.call("customers", "create_task", tid, project, {"title": "Kickoff"})["id"]
    other = rpc.call("customers", "create_customer", tid, {"name": "Globex", "tier": "smb"})["id"]
    foreign_project = rpc.call("customers", "create_project", tid, other, {"name": "Theirs"})["id"]

    def log(**fields):
        return rpc.call("billing", "log_time", tid, member, {"customer_id": customer, "minutes": 30, **fields})

    with pytest.raises(InvalidInput) as exc_info:
        log(project_id=project)
    assert _fields(exc_info) == ["billable"] and "project has no billing default" in str(exc_info.value.errors)

    rpc.call("billing", "set_billing_default", tid, "customer", customer, {"billable": True})
    assert (log()["billable"], log()["billable_source"]) == (True, "customer")
    rpc.call("billing", "set_billing_default", tid, "project", project, {"billable": False})
    assert (log(project_id=project)["billable"], log(project_id=project)["billable_source"]) == (False, "project")
    # a task's time is its project's: the project's default decides
    on_task = log(task_id=task)
    assert (on_task["project_id"], on_task["billable"], on_task["billable_source"]) == (project, False, "project")
    for refused, field in (({"project_id": foreign_project}, "project_id"), ({"task_id": str(uuid.uuid4())}, "task_id"),
                           ({"task_id": task, "project_id": foreign_project}, "task_id")):
        with pytest.raises(InvalidInput) as exc_info:
            log(**refused)
        assert _fields(exc_info) == [field]
    admin = rpc.call("billing", "create_time_category", tid, {"name": "Admin", "billable": False})
    support = rpc.call("billing", "create_time_category", tid, {"name": "Support", "billable": True})
    with pytest.raises(Conflict):
        rpc.call("billing", "create_time_category", tid, {"name": "Support", "billable": False})
    entry = log(project_id=project, category="Support")
    assert (entry["billable"], entry["billable_source"], entry["category"]) == (True, "category", "Support")

    # an override of the category needs a reason, and says so
    with pytest.raises(InvalidInput) as exc_info:
        log(category="Admin", billable=True)
    assert _fields(exc_info) == ["billable_reason"]
    override = log(category="Admin", billable=True, billable_reason="the customer asked for this report")
    assert (override["billable"], override["billable_source"]) == (True, "entry")

    # a correction of the category decides again; the entry keeps its raw minutes
    moved = rpc.call("billing", "correct_time_entry", tid, member, entry["id"], {"category": "Admin"}, member)
    assert (moved["billable"], moved["billable_source"], moved["minutes"]) == (False, "category", 30)
    # an unknown or archived category is refused for new time
    rpc.call("billing", "update_time_category", tid, admin["id"], {"archived": True})
    for name in ("Admin", "Travel"):
        with pytest.raises(InvalidInput) as exc_info:
            log(category=name)
        assert _fields(exc_info) == ["category"]
    assert [c["name"] for c in rpc.call("billing", "list_time_categories", tid)["items"]] == ["Admin", "Support"]
    assert support["billable"] is True

    assert rpc.call("billing", "update_time_settings", tid, {"timer_limit_minutes": 480, "idle_stop_minutes": 30}) \
        == {"timer_limit_minutes": 480, "idle_stop_minutes": 30, "one_timer_per_member": True}
    told = _types(tid)
    assert told.count("billing_default.changed") == 2 and told.count("time_category.created") == 2
    assert "time_category.updated" in told and "time_settings.changed" in told
    # a change that changes nothing tells nothing
    rpc.call("billing", "set_billing_default", tid, "customer", customer, {"billable": True})
    assert _types(tid).count("billing_default.changed") == 2
