"""The caller of each request reaches the services; tenant settings, contact archiving and the
report bound, with the RpcClient double."""
from __future__ import annotations

import uuid

from custops import caller
from custops.contracts.reports import MAX_REPORT_WEEKS
from custops.events import Actor

CUSTOMER_ID = str(uuid.uuid4())
CONTACT_ID = str(uuid.uuid4())
TENANT_DOC = {"id": str(uuid.uuid4()), "name": "Acme Ops", "timezone": "Europe/Berlin",
              "created_at": "2026-01-05T10:00:00+00:00"}


def _recording_caller(seen: list):
    def answer(*args):
        seen.append(caller.current())
        return TENANT_DOC
    return answer


def test_every_call_of_a_request_carries_its_caller_and_nothing_leaks_after_it(client, services, bearer, ids):
    seen, at_login = [], []
    services.on("customers", "get_tenant", _recording_caller(seen))
    authenticate = services.answers[("customers", "authenticate")]
    services.on("customers", "authenticate", lambda token: at_login.append(caller.current()) or authenticate(token))
    headers = {**bearer("member"), "X-Request-Id": "req-42", "User-Agent": "curl/8.5"}
    assert client.get("/api/v1/tenant", headers=headers).get_json() == TENANT_DOC
    [who] = seen
    assert who.actor == Actor(type="member", id=uuid.UUID(ids["members"]["member"]))
    assert (who.request_id, who.ip, who.user_agent) == ("req-42", "127.0.0.1", "curl/8.5")
    assert caller.current() is None  # bound for the call only

    # a hostile request id is replaced by one of ours
    client.get("/api/v1/tenant", headers={**bearer("owner"), "X-Request-Id": "x" * 500 + " ;<>"})
    assert seen[1].actor.id == uuid.UUID(ids["members"]["owner"])
    assert len(seen[1].request_id) == 32 and seen[1].request_id != seen[0].request_id
    assert at_login == [None, None]  # authenticating is asked before anybody is known


def test_a_portal_user_acts_as_their_contact_when_the_directory_names_one(client, services, bearer, ids):
    def authenticate(token):
        return {"tenant_id": ids["tenant"], "member_id": ids["members"]["portal"], "role": "portal",
                "customer_id": ids["portal_customer"], "contact_id": CONTACT_ID, "email": "p@example.test"}

    seen = []
    services.on("customers", "authenticate", authenticate)
    services.on("tickets", "list_tickets", lambda *args: seen.append(caller.current()) or {"items": []})
    assert client.get("/api/v1/tickets", headers=bearer("portal")).status_code == 200
    assert seen[0].actor == Actor(type="contact", id=uuid.UUID(CONTACT_ID))


def test_a_portal_user_with_no_known_contact_acts_as_its_member(client, services, bearer, ids):
    seen = []
    services.on("tickets", "list_tickets", lambda *args: seen.append(caller.current()) or {"items": []})
    assert client.get("/api/v1/tickets", headers=bearer("portal")).status_code == 200
    assert seen[0].actor == Actor(type="member", id=uuid.UUID(ids["members"]["portal"]))


def test_tenant_settings_are_read_by_staff_and_changed_by_managers(client, services, bearer, ids, problem):
    services.on("customers", "get_tenant", lambda tenant: TENANT_DOC)
    services.on("customers", "update_tenant_settings", lambda tenant, changes: {**TENANT_DOC, **changes})
    changed = client.patch("/api/v1/tenant", json={"timezone": "America/New_York"}, headers=bearer("admin"))
    assert changed.status_code == 200 and changed.get_json()["timezone"] == "America/New_York"
    assert services.calls_to("customers", "update_tenant_settings") == [
        (ids["tenant"], {"timezone": "America/New_York"})]
    assert services.calls_to("customers", "get_tenant") == []
    for role in ("member", "contractor", "read_only"):
        assert client.get("/api/v1/tenant", headers=bearer(role)).status_code == 200
        problem(client.patch("/api/v1/tenant", json={"name": "x"}, headers=bearer(role)), 403)
    problem(client.get("/api/v1/tenant", headers=bearer("portal")), 403)
    for body in ({"timezone": None}, {"name": ""}, {"timezone": "x" * 65}, {"locale": None}, {"locale": "x" * 36},
                 {"week_start": "friday"}, {"colour": "blue"}, {"name": 5}):
        assert 400 <= client.patch("/api/v1/tenant", json=body, headers=bearer("owner")).status_code < 500, body
    assert len(services.calls_to("customers", "update_tenant_settings")) == 1
    # locale and week start travel to the service as given (it validates and canonicalises the tag)
    client.patch("/api/v1/tenant", json={"locale": "de-CH", "week_start": "sunday"}, headers=bearer("owner"))
    assert services.calls_to("customers", "update_tenant_settings")[-1] == (
        ids["tenant"], {"locale": "de-CH", "week_start": "sunday"})


def test_contacts_are_archived_and_listed_with_or_without_the_archived(client, services, bearer, ids, problem):
    contact = {"id": CONTACT_ID, "customer_id": CUSTOMER_ID, "name": "Jo", "email": "jo@acme.example",
               "phone": None, "portal_access": False, "created_at": "2026-01-05T10:00:00+00:00",
               "archived_at": "2026-02-01T10:00:00+00:00"}
    services.on("customers", "archive_contact", lambda tenant, customer, contact_id: contact)
    services.on("customers", "list_contacts", lambda tenant, customer, f: {"items": [contact], "next_cursor": None,
                                                                            "total": 1})
    url = f"/api/v1/customers/{CUSTOMER_ID}/contacts"
    archived = client.post(f"{url}/{CONTACT_ID}/archive", headers=bearer("admin"))
    assert archived.status_code == 200 and archived.get_json() == contact
    assert services.calls_to("customers", "archive_contact") == [(ids["tenant"], CUSTOMER_ID, CONTACT_ID)]
    problem(client.post(f"{url}/{CONTACT_ID}/archive", headers=bearer("member")), 403)

    services.assigned.add(CUSTOMER_ID)  # the member works on that customer
    assert client.get(url, headers=bearer("member")).get_json()["total"] == 1
    client.get(f"{url}?include_archived=true", headers=bearer("member"))
    assert [args[-1] for args in services.calls_to("customers", "list_contacts")] == [
        {"include_archived": False}, {"include_archived": True}]
    problem(client.get(f"{url}?include_archived=maybe", headers=bearer("member")), 400)  # not a boolean at all


def test_the_report_window_has_one_bound_the_document_and_the_service_share(client, services, bearer, problem):
    services.on("reports", "ticket_volume", lambda tenant, customer, *weeks: {"items": [], "totals": {
        "created": 0, "resolved": 0, "closed": 0}})
    assert client.get(f"/api/v1/reports/ticket-volume?weeks={MAX_REPORT_WEEKS}",
                      headers=bearer("owner")).status_code == 200
    problem(client.get(f"/api/v1/reports/ticket-volume?weeks={MAX_REPORT_WEEKS + 1}", headers=bearer("owner")), 422)
    assert [args[-1] for args in services.calls_to("reports", "ticket_volume")] == [MAX_REPORT_WEEKS]
    doc = client.get("/api/v1/openapi.json").get_json()
    [weeks] = [p for p in doc["paths"]["/api/v1/reports/ticket-volume"]["get"]["parameters"] if p["name"] == "weeks"]
    assert _maximum(weeks["schema"]) == MAX_REPORT_WEEKS


def _maximum(schema: dict):
    if "maximum" in schema:
        return schema["maximum"]
    return next(m for s in schema.get("anyOf", []) if (m := _maximum(s)) is not None)


def test_activities_document_their_actor_type(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    actor_type = schemas["Activity"]["properties"]["actor_type"]
    kinds = {v for s in actor_type.get("anyOf", [actor_type]) for v in s.get("enum", [])}
    assert kinds == {"member", "contact", "system"}
