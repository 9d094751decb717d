"""The customer portal through the gateway, the REAL customers and tickets services, the customers
outbox relay and RabbitMQ: a manager invites a contact, the invite is exchanged (once, without a
bearer token) for a portal token, the portal user works on their company's tickets as that contact
and sees no internal note nor internal timeline entry (only their company's customer-visible ones,
from the REAL timeline service), and taking portal access away stops the token on a warm gateway within a
second (its login cache holds logins for 30 s)."""
from __future__ import annotations

import time
import uuid

import pytest

from custops import config
from gateway.app import create_app
from gateway.tests.test_revocation_real_broker import customers, relay  # noqa: F401 - fixtures
from tickets.service import TicketsService
from timeline.service import TimelineService

WITHIN = 1.0  # seconds: the revocation promise


@pytest.fixture
def services(relay, container_factory, nameko_config):  # noqa: F811 - relay is the imported fixture
    container_factory(TicketsService, nameko_config).start()
    container_factory(TimelineService, nameko_config).start()


@pytest.fixture
def gateway(services):
    app = create_app({"AMQP_URI": config.amqp_uri(), "RPC_TIMEOUT": 5.0})
    yield app
    listener = app.extensions.get("custops_revocations")
    if listener is not None:
        listener.stop()
    app.extensions["custops_rpc"].close()


def _api(app, token=None):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(method, path, body=None):
        response = client.open("/api/v1" + path, method=method, headers=headers, json=body)
        return response.status_code, response.get_json(silent=True)
    return call


def _tenant():
    from custops.rpc import RpcClient

    client = RpcClient(config.amqp_uri(), timeout=10, size=1)
    try:
        suffix = uuid.uuid4().hex[:8]
        return client.call("customers", "create_tenant", f"Portal Co {suffix}", f"owner-{suffix}@test.example")
    finally:
        client.close()


def _company(owner, portal_access=True):
    status, customer = owner("POST", "/customers", {"name": f"Globex {uuid.uuid4().hex[:6]}", "tier": "smb"})
    assert status == 201, customer
    status, contact = owner("POST", f"/customers/{customer['id']}/contacts", {
        "name": "Pat", "email": f"pat-{uuid.uuid4().hex[:6]}@globex.example", "portal_access": portal_access})
    assert status == 201, contact
    return customer, contact


def _portal_user(gateway, owner):
    customer, contact = _company(owner)
    status, invited = owner("POST", f"/customers/{customer['id']}/contacts/{contact['id']}/portal-invite", {})
    assert status == 201, invited
    status, accepted = _api(gateway)("POST", "/portal/accept", {"invite": invited["invite"]})
    assert status == 201, accepted
    return customer, contact, invited, accepted


def test_an_invite_is_exchanged_once_without_a_token_for_a_portal_login(gateway):
    owner = _api(gateway, _tenant()["token"])
    customer, contact, invited, accepted = _portal_user(gateway, owner)
    assert (accepted["role"], accepted["contact_id"], accepted["customer_id"]) == ("portal", contact["id"],
                                                                                   customer["id"])
    status, me = _api(gateway, accepted["token"])("GET", "/me")
    assert status == 200 and (me["role"], me["customer_id"]) == ("portal", customer["id"]), me

    anonymous = _api(gateway)
    status, again = anonymous("POST", "/portal/accept", {"invite": invited["invite"]})
    assert (status, again["status"]) == (410, 410) and "already used" in again["detail"], again
    assert anonymous("POST", "/portal/accept", {"invite": "csi_" + "x" * 43})[0] == 404
    assert anonymous("POST", "/portal/accept", {"invite": "nonsense"})[0] == 404
    assert anonymous("POST", "/portal/accept", {})[0] == 400
    # a contact without portal access is not invited; nor does an unknown path id name one
    _, closed = _company(owner, portal_access=False)
    status, refused = owner("POST", f"/customers/{closed['customer_id']}/contacts/{closed['id']}/portal-invite", {})
    assert status == 422, refused
    status, _ = owner("POST", f"/customers/{customer['id']}/contacts/{uuid.uuid4()}/portal-invite", {})
    assert status == 404
    assert owner("POST", f"/customers/{customer['id']}/contacts/{contact['id']}/portal-invite",
                 {"expires_in_days": 31})[0] == 422


def test_a_portal_user_works_on_their_companys_tickets_as_their_contact(gateway):
    owner = _api(gateway, _tenant()["token"])
    customer, contact, _, accepted = _portal_user(gateway, owner)
    other, _ = _company(owner)
    status, theirs = owner("POST", "/tickets", {"customer_id": other["id"], "subject": "not Pat's business"})
    assert status == 201, theirs
    pat = _api(gateway, accepted["token"])

    status, ticket = pat("POST", "/tickets", {"customer_id": customer["id"], "subject": "Printer on fire"})
    assert status == 201 and (ticket["source"], ticket["contact_id"]) == ("portal", contact["id"]), ticket
    status, reply = pat("POST", f"/tickets/{ticket['id']}/messages", {"kind": "inbound", "body": "still burning"})
    assert status == 201, reply
    assert (reply["message"]["author_contact_id"], reply["message"]["author_member_id"]) == (contact["id"], None)
    assert owner("POST", f"/tickets/{ticket['id']}/messages", {"kind": "note", "body": "internal: blame IT"})[0] == 201
    assert owner("POST", f"/tickets/{ticket['id']}/messages", {"kind": "reply", "body": "on our way"})[0] == 201

    status, messages = pat("GET", f"/tickets/{ticket['id']}/messages")
    assert status == 200
    assert [(m["kind"], m["body"]) for m in messages["items"]] == [("inbound", "still burning"),
                                                                  ("reply", "on our way")], messages
    status, listed = pat("GET", "/tickets")
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]
    assert pat("GET", f"/tickets/{theirs['id']}")[0] == 404
    assert pat("POST", f"/tickets/{ticket['id']}/messages", {"kind": "note", "body": "x"})[0] == 403
    # the timeline: their company's customer-visible activities only, never internal ones (issue 9)
    logged = {}
    for company, visibility in ((customer, "customer"), (customer, "internal"), (other, "customer")):
        summary = f"{visibility} call with {company['name']}"
        status, activity = owner("POST", f"/customers/{company['id']}/interactions",
                                 {"kind": "call", "summary": summary, "visibility": visibility})
        assert status == 201 and activity["visibility"] == visibility, activity
        logged[(company["id"], visibility)] = activity["activity_id"]
    status, staff = owner("GET", f"/customers/{customer['id']}/timeline")
    assert status == 200, staff
    assert {logged[(customer["id"], "customer")], logged[(customer["id"], "internal")]} <= {
        a["activity_id"] for a in staff["items"]}, staff
    status, timeline = pat("GET", f"/customers/{customer['id']}/timeline")
    assert status == 200, timeline
    seen = {a["activity_id"] for a in timeline["items"]}
    assert logged[(customer["id"], "customer")] in seen, timeline
    assert logged[(customer["id"], "internal")] not in seen, timeline
    assert all((a["customer_id"], a["visibility"], a["internal"]) == (customer["id"], "customer", False)
               for a in timeline["items"]), timeline
    assert pat("GET", f"/customers/{other['id']}/timeline")[0] == 404
    status, across = pat("GET", "/activity")
    assert status == 200, across
    assert logged[(customer["id"], "customer")] in {a["activity_id"] for a in across["items"]}, across
    assert all((a["customer_id"], a["visibility"]) == (customer["id"], "customer") for a in across["items"]), across
    for method, path in (("GET", "/customers"), ("GET", "/activity/heatmap"),
                         ("GET", "/time-entries"),
                         ("POST", f"/customers/{customer['id']}/contacts/{contact['id']}/portal-invite")):
        assert pat(method, path, {} if method == "POST" else None)[0] == 403, path


def test_taking_portal_access_away_stops_the_token_on_a_warm_gateway_within_a_second(gateway):
    owner = _api(gateway, _tenant()["token"])
    customer, contact, _, accepted = _portal_user(gateway, owner)
    pat = _api(gateway, accepted["token"])
    assert pat("GET", "/me")[0] == 200
    assert gateway.extensions["custops_revocations"].wait_live(10), "the revocation listener never connected"
    assert pat("GET", "/me")[0] == 200  # cached now

    status, withdrawn = owner("DELETE", f"/customers/{customer['id']}/contacts/{contact['id']}/portal-access")
    assert status == 200 and withdrawn["portal_access"] is False, withdrawn
    started = time.monotonic()
    while pat("GET", "/me")[0] != 401:
        assert time.monotonic() - started < WITHIN, "the portal token still works after a second"
        time.sleep(0.02)
    print(f"portal token refused after {(time.monotonic() - started) * 1000:.0f} ms")
