"""Every id a ticket command receives names something of the same tenant (issue 6 §3): ids the
tickets service owns (teams) are checked in its own tables, ids the customers service owns are
asked of it (`tickets.customer_directory`)."""
import uuid

import pytest

from custops.errors import InvalidInput


def _tenant_with_agent(rpc, new_tenant) -> tuple[str, str, str]:
    tenant = new_tenant()
    tenant_id = tenant["tenant_id"]
    customer_id = rpc.call("customers", "create_customer", tenant_id, {"name": "Acme", "tier": "smb"})["id"]
    return tenant_id, customer_id, tenant["member_id"]


def test_a_team_given_with_an_assignee_must_be_a_team_of_the_tenant(tickets_service, rpc, new_tenant):
    tenant_id, customer_id, owner_id = _tenant_with_agent(rpc, new_tenant)
    other_tenant_id, _, other_owner = _tenant_with_agent(rpc, new_tenant)
    foreign_team = rpc.call("tickets", "create_team", other_tenant_id, {"name": "Support", "member_ids": [other_owner]})
    for team_id in (str(uuid.uuid4()), foreign_team["id"]):
        with pytest.raises(InvalidInput) as refused:
            rpc.call("tickets", "create_ticket", tenant_id, {
                "customer_id": customer_id, "subject": "Printer on fire", "assignee_id": owner_id, "team_id": team_id})
        assert refused.value.errors[0]["field"] == "team_id"
    assert rpc.call("tickets", "list_tickets", tenant_id)["total"] == 0

    own_team = rpc.call("tickets", "create_team", tenant_id, {"name": "Support", "member_ids": [owner_id]})
    ticket = rpc.call("tickets", "create_ticket", tenant_id, {
        "customer_id": customer_id, "subject": "Printer on fire", "assignee_id": owner_id, "team_id": own_team["id"]})
    assert (ticket["team_id"], ticket["assignee_id"]) == (own_team["id"], owner_id)
