"""Billing's copy of project, task and member names (`billing.directory`), against the real
customers service and PostgreSQL: a name not copied yet is asked of its owner once and kept as
older than any event, so the events still win; an older event never overwrites a newer name
(issue 10)."""
import uuid
from datetime import datetime, timedelta, timezone

from billing.directory import ASKED_AS_OF, copied_names, copy_name, names_of
from custops import db


def test_a_name_not_copied_is_asked_once_and_the_events_still_win(rpc, new_tenant):
    tenant = new_tenant()["tenant_id"]
    customer = rpc.call("customers", "create_customer", tenant, {"name": "Acme", "tier": "smb"})["id"]
    project = uuid.UUID(rpc.call("customers", "create_project", tenant, customer, {"name": "Website"})["id"])
    unknown = uuid.uuid4()
    access = db.DatabaseAccess(db.engine_for("billing"), "billing", None)

    assert names_of(access, rpc, uuid.UUID(tenant), {"project": {project, unknown}}) == {
        "project": {project: "Website"}}  # an id its owner does not know gets no name
    with access.read() as session:
        assert copied_names(session, uuid.UUID(tenant), {"project": {project, unknown}}) == {
            "project": {project: "Website"}}

    now = datetime.now(timezone.utc)
    with access.transaction() as session:
        copy_name(session, uuid.UUID(tenant), "project", project, "Website relaunch", now)  # an event: newer
        copy_name(session, uuid.UUID(tenant), "project", project, "Old", now - timedelta(hours=1))  # late: loses
        copy_name(session, uuid.UUID(tenant), "project", project, "Asked", ASKED_AS_OF)  # an answer: loses
    assert names_of(access, rpc, uuid.UUID(tenant), {"project": {project}}) == {
        "project": {project: "Website relaunch"}}
