"""Facts told right, end to end: who did each thing, in the order it happened, a priority change on
the timeline, the tenant's timezone from the customers service to the reports, archived contacts."""
from __future__ import annotations

import uuid

from harness import create_customer, create_ticket, eventually, problem

FLOW_DEADLINE = 15.0


def _timeline(api, customer_id) -> list[dict]:
    response = api.get(f"/api/v1/customers/{customer_id}/timeline", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_the_timeline_says_who_did_each_thing_in_the_order_it_happened(tenant):
    api = tenant.api
    customer = create_customer(api)
    ticket = create_ticket(api, customer["id"])  # urgent
    assert api.patch(f"/api/v1/tickets/{ticket['id']}", json={"priority": "high"}).status_code == 200
    assert api.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "open"}).status_code == 200
    logged = api.post(f"/api/v1/customers/{customer['id']}/interactions", json={"kind": "call", "summary": "Rang"})
    assert logged.status_code == 201, logged.text

    wanted = {"customer.created", "ticket.created", "ticket.updated", "ticket.status_changed", "interaction.call"}
    items = eventually(lambda: (found := _timeline(api, customer["id"])) and wanted <= {i["type"] for i in found}
                       and found, FLOW_DEADLINE, "every change on the timeline")
    by_type = {i["type"]: i for i in items}
    assert by_type["ticket.updated"]["summary"] == f"Ticket #{ticket['number']} priority: urgent → high"
    for kind in wanted:  # each made with the owner's token
        assert (by_type[kind]["actor_type"], by_type[kind]["actor"]) == ("member", tenant.member_id), kind
    ticket_order = [i["type"] for i in items if i["type"].startswith("ticket.")]
    assert ticket_order == ["ticket.status_changed", "ticket.updated", "ticket.created"]  # newest first

    problem(api.get(f"/api/v1/customers/{uuid.uuid4()}/timeline"), 404)


def test_the_tenants_timezone_reaches_the_reports(suite, tenant):
    api = tenant.api
    assert api.get("/api/v1/tenant").json()["timezone"] == "UTC"
    changed = api.patch("/api/v1/tenant", json={"timezone": "Pacific/Kiritimati"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Pacific/Kiritimati"
    settings = {"timezone": "Pacific/Kiritimati"}
    eventually(lambda: suite.rpc().call("reports", "get_settings", tenant.id) == settings,
               FLOW_DEADLINE, "reports use the tenant's timezone")
    problem(api.patch("/api/v1/tenant", json={"timezone": "Mars/Olympus_Mons"}), 422)
    assert api.get("/api/v1/tenant").json()["timezone"] == "Pacific/Kiritimati"


def test_an_archived_contact_is_no_longer_offered_to_new_tickets(tenant):
    api = tenant.api
    customer = create_customer(api)
    contacts = f"/api/v1/customers/{customer['id']}/contacts"
    contact = api.post(contacts, json={"name": "Jo", "email": f"jo@{customer['domains'][0]}"}).json()
    assert api.post(f"{contacts}/{contact['id']}/archive").json()["archived_at"]
    assert api.get(contacts).json() == {"items": [], "next_cursor": None, "total": 0}
    refused = api.post("/api/v1/tickets", json={"customer_id": customer["id"], "subject": "Hi",
                                                "contact_id": contact["id"]})
    assert problem(refused, 422)["errors"][0]["field"] == "contact_id"
    eventually(lambda: "contact.archived" in {i["type"] for i in _timeline(api, customer["id"])}, FLOW_DEADLINE,
               "contact.archived on the timeline")
