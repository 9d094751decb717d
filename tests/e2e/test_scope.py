"""Row scoping end to end, through the whole suite (gunicorn gateway, every service, relays): members,
contractors and read-only users see the customers they own or are on the account team of — and
those customers' contacts, tickets, messages, SLA timers, time and timeline — and nothing of any other
customer or tenant; a contractor sees internal notes and timeline entries only where their assignment
grants `internal_access`; a team change is seen at once. Expectations are written by hand here."""
from __future__ import annotations

import uuid

from harness import eventually

STAFF = ("owner", "admin", "member", "contractor", "read_only")
# who sees which of our customers (hand-written): A has member, contractor (with internal access) and
# read_only on its team; B the contractor only (no internal access); C nobody; F is another tenant's
SEES = {"owner": "ABC", "admin": "ABC", "member": "A", "contractor": "AB", "read_only": "A"}
INTERNAL = {"owner": "ABC", "admin": "ABC", "member": "A", "contractor": "A", "read_only": "A"}
READS_TIME = {"owner", "admin", "member", "read_only"}  # contractors log time, they do not read it
READS_SLA = {"owner", "admin", "member", "read_only"}


def _ok(response, status=200):
    assert response.status_code == status, response.text[:500]
    return response.json()


def test_every_staff_role_sees_its_customers_rows_only(suite, tenant):
    owner = tenant.api
    suffix = uuid.uuid4().hex[:8]
    apis, members = {"owner": owner}, {}
    for role in STAFF[1:]:
        members[role] = _ok(owner.post("/api/v1/members", json={
            "email": f"{role}-{suffix}@team.example", "name": role, "role": role}), 201)
        token = _ok(owner.post(f"/api/v1/members/{members[role]['id']}/tokens", json={"name": "e2e"}), 201)["token"]
        apis[role] = suite.api(token)

    rows = {}
    foreign = suite.new_tenant().api
    for name, api in (("A", owner), ("B", owner), ("C", owner), ("F", foreign)):
        customer = _ok(api.post("/api/v1/customers", json={"name": f"{name} {suffix}", "tier": "smb"}), 201)
        _ok(api.post(f"/api/v1/customers/{customer['id']}/contacts", json={
            "name": "Jo", "email": f"jo-{name.lower()}-{suffix}@acme.example"}), 201)
        ticket = _ok(api.post("/api/v1/tickets", json={"customer_id": customer["id"], "subject": f"{name} down"}), 201)
        _ok(api.post(f"/api/v1/tickets/{ticket['id']}/messages", json={"kind": "note", "body": "psst"}), 201)
        _ok(api.post(f"/api/v1/customers/{customer['id']}/interactions", json={
            "kind": "call", "summary": "internal call", "internal": True}), 201)
        entry = _ok(api.post("/api/v1/time-entries", json={"customer_id": customer["id"], "minutes": 10,
                                                           "billable": True}), 201)
        rows[name] = {"customer": customer["id"], "ticket": ticket["id"], "entry": entry["id"]}
    for name, role, internal in (("A", "member", False), ("A", "contractor", True), ("A", "read_only", False),
                                 ("B", "contractor", False)):
        _ok(owner.put(f"/api/v1/customers/{rows[name]['customer']}/team/{members[role]['id']}",
                      json={"internal_access": internal}))
    # the timeline is a projection of events: wait until it holds the internal call of every customer
    for name in "ABC":
        url = f"/api/v1/customers/{rows[name]['customer']}/timeline"
        eventually(lambda url=url: any(a["internal"] for a in _ok(owner.get(url))["items"]), 30, f"{name}'s timeline")

    for role, api in apis.items():
        for name in "ABCF":
            r, seen = rows[name], name in SEES[role]
            want = 200 if seen else 404
            for path in (f"/customers/{r['customer']}", f"/customers/{r['customer']}/contacts",
                         f"/customers/{r['customer']}/team", f"/customers/{r['customer']}/timeline",
                         f"/tickets/{r['ticket']}", f"/tickets/{r['ticket']}/messages"):
                assert api.get("/api/v1" + path).status_code == want, (role, name, path)
            assert api.get(f"/api/v1/tickets/{r['ticket']}/sla").status_code == (
                want if role in READS_SLA else 403), (role, name)
            assert api.get(f"/api/v1/time-entries/{r['entry']}").status_code == (
                want if role in READS_TIME else 403), (role, name)
            if seen:
                notes = _ok(api.get(f"/api/v1/tickets/{r['ticket']}/messages"))["items"]
                timeline = _ok(api.get(f"/api/v1/customers/{r['customer']}/timeline"))["items"]
                internal = name in INTERNAL[role]
                assert any(m["internal"] for m in notes) is internal, (role, name)
                assert any(a["internal"] for a in timeline) is internal, (role, name)
        expected = {rows[n]["customer"] for n in SEES[role]}
        assert {c["id"] for c in _ok(api.get("/api/v1/customers"))["items"]} == expected, role
        tickets = _ok(api.get("/api/v1/tickets"))
        assert {t["customer_id"] for t in tickets["items"]} == expected and tickets["total"] == len(expected), role
        if role in READS_TIME:
            assert {e["customer_id"] for e in _ok(api.get("/api/v1/time-entries"))["items"]} == expected, role
        # a filter naming a customer out of scope finds nothing
        assert _ok(api.get(f"/api/v1/tickets?customer_id={rows['F']['customer']}"))["items"] == []

    # a contractor logs time on their customers only; a customer out of scope is as unknown as another tenant's
    contractor = apis["contractor"]
    _ok(contractor.post("/api/v1/time-entries", json={"customer_id": rows["B"]["customer"], "minutes": 5,
                                                      "billable": True}), 201)
    for name in "CF":
        assert contractor.post("/api/v1/time-entries", json={
            "customer_id": rows[name]["customer"], "minutes": 5, "billable": True}).status_code == 422, name

    # off the team: every gateway worker forgets the member's scope at once (the event, not the TTL)
    _ok(owner.delete(f"/api/v1/customers/{rows['A']['customer']}/team/{members['member']['id']}"))
    eventually(lambda: all(apis["member"].get(f"/api/v1/customers/{rows['A']['customer']}",
                                              headers={"Connection": "close"}).status_code == 404
                           for _ in range(8)), 5, "the member's scope after the removal")
    assert _ok(apis["member"].get("/api/v1/tickets"))["items"] == []
