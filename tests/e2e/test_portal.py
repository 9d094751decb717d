"""A portal user's whole journey, end to end through the gateway and every service: a manager gives a
contact portal access and invites them → the one-time invite is exchanged, with no bearer token, for a
portal token → the portal user opens a ticket and writes on it as their contact → the agent answers
publicly and adds an internal note → the portal user sees the reply, not the note, nor anything of
another company, nor money, and on the timeline only their company's customer-visible activities (the
reply, not the note) → the invite does not work twice → taking portal access away
stops the token. The audit log names the contact as the actor of the exchange."""
from __future__ import annotations

import uuid

from harness import create_customer, eventually, problem

DEADLINE = 20.0


def test_a_portal_users_journey_from_invite_to_the_agents_public_reply(suite, tenant):
    owner = tenant.api
    customer = create_customer(owner)
    other = create_customer(owner)
    elsewhere = owner.post("/api/v1/tickets", json={"customer_id": other["id"], "subject": "not theirs"}).json()
    response = owner.post(f"/api/v1/customers/{customer['id']}/contacts", json={
        "name": "Pat Portal", "email": f"pat-{uuid.uuid4().hex[:6]}@portal.example", "portal_access": True})
    assert response.status_code == 201, response.text
    contact = response.json()

    response = owner.post(f"/api/v1/customers/{customer['id']}/contacts/{contact['id']}/portal-invite",
                          json={"expires_in_days": 3})
    assert response.status_code == 201, response.text
    invite = response.json()["invite"]
    anonymous = suite.api()
    response = anonymous.post("/api/v1/portal/accept", json={"invite": invite})
    assert response.status_code == 201, response.text
    accepted = response.json()
    assert (accepted["role"], accepted["contact_id"], accepted["customer_id"]) == ("portal", contact["id"],
                                                                                   customer["id"])
    assert "already used" in problem(anonymous.post("/api/v1/portal/accept", json={"invite": invite}), 410)["detail"]

    pat = suite.api(accepted["token"])
    me = pat.get("/api/v1/me").json()
    assert (me["role"], me["customer_id"]) == ("portal", customer["id"])
    response = pat.post("/api/v1/tickets", json={"customer_id": customer["id"], "subject": "Printer on fire"})
    assert response.status_code == 201, response.text
    ticket = response.json()
    response = pat.post(f"/api/v1/tickets/{ticket['id']}/messages", json={"kind": "inbound", "body": "smoke now"})
    assert response.status_code == 201, response.text
    assert response.json()["message"]["author_contact_id"] == contact["id"]

    assert owner.post(f"/api/v1/tickets/{ticket['id']}/messages",
                      json={"kind": "note", "body": "internal: the toner is counterfeit"}).status_code == 201
    assert owner.post(f"/api/v1/tickets/{ticket['id']}/messages",
                      json={"kind": "reply", "body": "An engineer is on the way"}).status_code == 201

    messages = pat.get(f"/api/v1/tickets/{ticket['id']}/messages").json()["items"]
    assert [(m["kind"], m["body"]) for m in messages] == [("inbound", "smoke now"),
                                                          ("reply", "An engineer is on the way")]
    assert not any("counterfeit" in m["body"] for m in messages)
    staff_view = owner.get(f"/api/v1/tickets/{ticket['id']}/messages").json()["items"]
    assert [m["kind"] for m in staff_view] == ["inbound", "note", "reply"]
    assert [t["id"] for t in pat.get("/api/v1/tickets").json()["items"]] == [ticket["id"]]
    problem(pat.get(f"/api/v1/tickets/{elsewhere['id']}"), 404)
    # the timeline (issue 9): their company's customer-visible activities only — the reply, not the note
    def ticket_activities():
        page = owner.get(f"/api/v1/customers/{customer['id']}/timeline", params={"limit": 100})
        assert page.status_code == 200, page.text
        types = {a["type"]: a for a in page.json()["items"] if a["subject_id"] == ticket["id"]}
        return types if {"ticket.replied", "ticket.note_added"} <= types.keys() else None
    staff_timeline = eventually(ticket_activities, DEADLINE, "the reply and the note on the staff's timeline")
    assert staff_timeline["ticket.note_added"]["visibility"] == "internal"
    response = owner.post(f"/api/v1/customers/{other['id']}/interactions",
                          json={"kind": "call", "summary": "a call with the other company", "visibility": "customer"})
    assert response.status_code == 201, response.text
    response = pat.get(f"/api/v1/customers/{customer['id']}/timeline", params={"limit": 100})
    assert response.status_code == 200, response.text
    portal_timeline = response.json()["items"]
    assert portal_timeline and all((a["customer_id"], a["visibility"]) == (customer["id"], "customer")
                                   for a in portal_timeline), portal_timeline
    ids = {a["activity_id"] for a in portal_timeline}
    assert staff_timeline["ticket.replied"]["activity_id"] in ids
    assert staff_timeline["ticket.note_added"]["activity_id"] not in ids
    problem(pat.get(f"/api/v1/customers/{other['id']}/timeline"), 404)
    response = pat.get("/api/v1/activity", params={"limit": 100})
    assert response.status_code == 200, response.text
    assert all((a["customer_id"], a["visibility"]) == (customer["id"], "customer")
               for a in response.json()["items"]), response.text
    problem(pat.get("/api/v1/time-entries"), 403)
    problem(pat.post(f"/api/v1/tickets/{ticket['id']}/messages", json={"kind": "note", "body": "x"}), 403)

    def exchange_recorded():
        page = owner.get("/api/v1/audit", params={"actor_id": contact["id"]})
        assert page.status_code == 200, page.text
        actions = {r["action"] for r in page.json()["items"]}
        return actions if {"member.created", "token.created"} <= actions else None
    eventually(exchange_recorded, DEADLINE, "the exchange in the audit log, by the contact")

    withdrawn = owner.delete(f"/api/v1/customers/{customer['id']}/contacts/{contact['id']}/portal-access")
    assert withdrawn.status_code == 200 and withdrawn.json()["portal_access"] is False, withdrawn.text
    eventually(lambda: pat.get("/api/v1/me").status_code == 401 or None, 2.0, "the portal token refused")
