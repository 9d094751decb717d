"""Help-desk routes with the RpcClient double: what reaches the tickets service, and the portal rules."""
from __future__ import annotations

import uuid

TICKET_ID = str(uuid.uuid4())
OTHER_COMPANY = str(uuid.uuid4())


def _ticket_of(customer_id):
    return lambda tenant, ticket_id: {"id": ticket_id, "customer_id": customer_id}


def _messages(tenant, ticket_id, include_internal):
    items = [{"kind": "inbound"}, {"kind": "note"}]
    return {"items": [m for m in items if include_internal or m["kind"] != "note"]}


def test_staff_see_notes_portal_users_and_contractors_do_not(client, services, bearer, ids):
    services.on("tickets", "get_ticket", _ticket_of(ids["portal_customer"]))
    services.assigned.add(ids["portal_customer"])  # the member and the contractor work on that company
    services.on("tickets", "list_messages", _messages)
    url = f"/api/v1/tickets/{TICKET_ID}/messages"
    assert [m["kind"] for m in client.get(url, headers=bearer("member")).get_json()["items"]] == ["inbound", "note"]
    for role in ("portal", "contractor"):
        assert [m["kind"] for m in client.get(url, headers=bearer(role)).get_json()["items"]] == ["inbound"]
    assert [args[-1] for args in services.calls_to("tickets", "list_messages")] == [True, False, False]


def test_portal_users_post_only_customer_messages_on_their_own_company_tickets(client, services, bearer, ids, problem):
    services.on("tickets", "get_ticket", _ticket_of(ids["portal_customer"]))
    services.on("tickets", "add_message", lambda tenant, ticket_id, msg: {"message": msg, "ticket": {"id": ticket_id}})
    url = f"/api/v1/tickets/{TICKET_ID}/messages"

    ok = client.post(url, json={"kind": "inbound", "body": "help"}, headers=bearer("portal"))
    assert ok.status_code == 201
    [(tenant, ticket_id, sent)] = services.calls_to("tickets", "add_message")
    assert (tenant, ticket_id) == (ids["tenant"], TICKET_ID)
    # a portal user enters their own message; with no contact known for them, it names none
    assert sent == {"kind": "inbound", "body": "help", "source": "portal",
                    "entered_by_member_id": ids["members"]["portal"]}

    for kind in ("note", "reply"):
        problem(client.post(url, json={"kind": kind, "body": "x"}, headers=bearer("portal")), 403)
    services.on("tickets", "get_ticket", _ticket_of(OTHER_COMPANY))
    problem(client.post(url, json={"kind": "inbound", "body": "x"}, headers=bearer("portal")), 404)
    assert len(services.calls_to("tickets", "add_message")) == 1


def test_staff_messages_carry_the_author_and_bad_kinds_are_422(client, services, bearer, ids, problem):
    services.on("tickets", "get_ticket", _ticket_of(next(iter(services.assigned))))  # a customer of theirs
    services.on("tickets", "add_message", lambda tenant, ticket_id, msg: {"message": msg, "ticket": {}})
    url = f"/api/v1/tickets/{TICKET_ID}/messages"
    assert client.post(url, json={"kind": "note", "body": "psst"}, headers=bearer("member")).status_code == 201
    [(_, _, sent)] = services.calls_to("tickets", "add_message")
    assert sent == {"kind": "note", "body": "psst", "author_member_id": ids["members"]["member"],
                    "entered_by_member_id": ids["members"]["member"]}
    problem(client.post(url, json={"kind": "shout", "body": "x"}, headers=bearer("member")), 422)  # not an enum value
    problem(client.post(url, json={"kind": "note", "body": ""}, headers=bearer("member")), 422)  # too short


def test_portal_users_cannot_assign_or_tag_when_opening_a_ticket(client, services, bearer, ids, problem):
    services.on("tickets", "create_ticket", lambda tenant, p: {"id": TICKET_ID, **p})
    body = {"customer_id": ids["portal_customer"], "subject": "Help"}
    problem(client.post("/api/v1/tickets", json={**body, "team_id": str(uuid.uuid4())}, headers=bearer("portal")), 403)
    created = client.post("/api/v1/tickets", json={**body, "category": "billing"}, headers=bearer("portal"))
    assert created.status_code == 201
    assert services.calls_to("tickets", "create_ticket") == [(ids["tenant"], {**body, "category": "billing",
                                                                              "source": "portal"})]


def test_assign_to_a_member_or_round_robin_within_a_team(client, services, bearer, problem):
    services.on("tickets", "get_ticket", _ticket_of(next(iter(services.assigned))))  # a customer of theirs
    services.on("tickets", "assign_ticket", lambda tenant, ticket_id, p: {"id": ticket_id, **p})
    services.on("tickets", "assign_round_robin", lambda tenant, ticket_id, team: {"id": ticket_id, "team": team})
    url = f"/api/v1/tickets/{TICKET_ID}/assign"
    member, team = str(uuid.uuid4()), str(uuid.uuid4())
    assert client.post(url, json={"assignee_id": member}, headers=bearer("member")).get_json()["assignee_id"] == member
    assert client.post(url, json={"assignee_id": None}, headers=bearer("member")).get_json()["assignee_id"] is None
    assert client.post(url, json={"team_id": team}, headers=bearer("member")).get_json()["team"] == team
    # well-formed (both fields are optional) but the rule "exactly one" is broken
    problem(client.post(url, json={}, headers=bearer("member")), 422)
    problem(client.post(url, json={"assignee_id": member, "team_id": team}, headers=bearer("member")), 422)


def test_list_filters_reach_the_service_and_portal_users_are_scoped(client, services, bearer, ids, problem):
    services.on("tickets", "list_tickets", lambda tenant, f, limit, cursor: {
        "items": [], "next_cursor": None, "total": 0, "filters": f})
    doc = client.get("/api/v1/tickets?assignee=none&breached=true&tag=vip&due_before=2026-01-01T00:00:00Z",
                     headers=bearer()).get_json()
    assert doc["filters"] == {"assignee": "none", "breached": True, "tag": "vip",
                              "due_before": "2026-01-01T00:00:00Z"}
    assert doc["total"] == 0
    problem(client.get("/api/v1/tickets?breached=maybe", headers=bearer()), 400)
    problem(client.get("/api/v1/tickets?due_before=2026-01-01T00:00:00", headers=bearer()), 422)  # no UTC offset
    portal = client.get("/api/v1/tickets?tag=vip", headers=bearer("portal")).get_json()
    assert portal["filters"] == {"tag": "vip", "customer_id": ids["portal_customer"]}


def test_render_signs_with_the_callers_name(client, services, bearer, ids):
    services.on("tickets", "get_ticket", _ticket_of(next(iter(services.assigned))))  # a customer of theirs
    services.on("customers", "get_member", lambda tenant, member: {"id": member, "name": "Ada"})
    services.on("tickets", "render_canned_response", lambda tenant, cid, tid, agent: {"body": f"-- {agent}"})
    response = client.post(f"/api/v1/canned-responses/{uuid.uuid4()}/render", json={"ticket_id": TICKET_ID},
                           headers=bearer("member"))
    assert response.get_json() == {"body": "-- Ada"}
    [(_, member)] = services.calls_to("customers", "get_member")
    assert member == ids["members"]["member"]


def test_an_agent_enters_a_customer_message_without_becoming_its_author(client, services, bearer, ids):
    services.on("tickets", "get_ticket", _ticket_of(next(iter(services.assigned))))  # a customer of theirs
    services.on("tickets", "add_message", lambda tenant, ticket_id, msg: {"message": msg, "ticket": {}})
    contact = str(uuid.uuid4())
    response = client.post(f"/api/v1/tickets/{TICKET_ID}/messages", headers=bearer("member"),
                           json={"kind": "inbound", "body": "phoned in", "author_contact_id": contact})
    assert response.status_code == 201
    [(_, _, sent)] = services.calls_to("tickets", "add_message")
    assert sent == {"kind": "inbound", "body": "phoned in", "author_contact_id": contact,
                    "entered_by_member_id": ids["members"]["member"]}


def test_a_portal_user_cannot_write_as_another_contact(client, services, bearer, ids, problem):
    services.on("tickets", "get_ticket", _ticket_of(ids["portal_customer"]))
    services.on("tickets", "add_message", lambda tenant, ticket_id, msg: {"message": msg, "ticket": {}})
    doc = problem(client.post(f"/api/v1/tickets/{TICKET_ID}/messages", headers=bearer("portal"),
                              json={"kind": "inbound", "body": "x", "author_contact_id": str(uuid.uuid4())}), 403)
    assert [e["field"] for e in doc["errors"]] == ["author_contact_id"]
    assert services.calls_to("tickets", "add_message") == []


def test_a_portal_users_message_is_written_by_their_own_contact(client, services, bearer, ids):
    own = str(uuid.uuid4())  # the contact the customers service names for the portal user
    services.on("customers", "authenticate", lambda token: {
        "tenant_id": ids["tenant"], "member_id": ids["members"]["portal"], "role": "portal",
        "customer_id": ids["portal_customer"], "contact_id": own})
    services.on("tickets", "get_ticket", _ticket_of(ids["portal_customer"]))
    services.on("tickets", "add_message", lambda tenant, ticket_id, msg: {"message": msg, "ticket": {}})
    for given in ({}, {"author_contact_id": own}):
        response = client.post(f"/api/v1/tickets/{TICKET_ID}/messages", headers=bearer("portal"),
                               json={"kind": "inbound", "body": "x", **given})
        assert response.status_code == 201, response.get_data(as_text=True)
    assert [sent["author_contact_id"] for (_, _, sent) in services.calls_to("tickets", "add_message")] == [own, own]


def test_archive_a_team_and_list_archived_ones(client, services, bearer, ids):
    team_id = str(uuid.uuid4())
    services.on("tickets", "archive_team", lambda tenant, t: {"id": t, "name": "T1", "member_ids": [],
                                                               "created_at": "2026-03-01T00:00:00+00:00",
                                                               "archived_at": "2026-03-02T00:00:00+00:00"})
    services.on("tickets", "list_teams", lambda tenant, f: {"items": [], "next_cursor": None, "total": 0})
    assert client.delete(f"/api/v1/teams/{team_id}", headers=bearer("admin")).status_code == 200
    assert services.calls_to("tickets", "archive_team") == [(ids["tenant"], team_id)]
    client.get("/api/v1/teams", headers=bearer("member"))
    client.get("/api/v1/teams?include_archived=true", headers=bearer("member"))
    assert [f for (_, f) in services.calls_to("tickets", "list_teams")] == [
        {"include_archived": False}, {"include_archived": True}]


def test_remove_a_category_by_name(client, services, bearer, ids, problem):
    from custops.errors import Conflict

    services.on("tickets", "remove_category", lambda tenant, name: {"name": name, "deleted": True})
    response = client.delete("/api/v1/ticket-categories/hardware", headers=bearer("owner"))
    assert response.status_code == 200 and response.get_json() == {"name": "hardware", "deleted": True}
    services.on("tickets", "remove_category", Conflict("bug is a built-in category and cannot be removed"))
    problem(client.delete("/api/v1/ticket-categories/bug", headers=bearer("owner")), 409)
    problem(client.delete("/api/v1/ticket-categories/hardware", headers=bearer("member")), 403)
