"""Time entries over HTTP, through every process: a ticket of another customer is refused, a
correction and a deletion travel through billing's outbox to the timeline."""
from __future__ import annotations

from harness import create_customer, create_ticket, eventually, problem

FLOW_DEADLINE = 15.0


def _time_summaries(api, customer_id) -> list[str]:
    response = api.get(f"/api/v1/customers/{customer_id}/timeline", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [i["summary"] for i in response.json()["items"] if i["type"].startswith("time.")]


def test_time_is_corrected_and_deleted_and_the_timeline_says_so(tenant):
    api = tenant.api
    acme, globex = create_customer(api), create_customer(api)
    globex_ticket = create_ticket(api, globex["id"], subject="Not Acme's")
    refused = api.post("/api/v1/time-entries", json={"customer_id": acme["id"], "ticket_id": globex_ticket["id"],
                                                     "minutes": 30})
    assert [e["field"] for e in problem(refused, 422)["errors"]] == ["ticket_id"]

    logged = api.post("/api/v1/time-entries", json={"customer_id": acme["id"], "minutes": 30, "billable": True,
                                                    "ticket_id": create_ticket(api, acme["id"])["id"]})
    assert logged.status_code == 201, logged.text
    url = logged.headers["Location"]  # /api/v1/time-entries/<id>
    corrected = api.patch(url, json={"minutes": 45})
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["minutes"], corrected.json()["revision"]) == (45, 2)
    assert api.get(url).json() == corrected.json()
    assert api.delete(url).status_code == 200
    problem(api.get(url), 404)

    eventually(lambda: {"30m logged (billable)", "Time entry corrected: 30m → 45m",
                        "Time entry deleted: 45m (billable)"} <= set(_time_summaries(api, acme["id"])),
               FLOW_DEADLINE, "the entry, its correction and its deletion on the timeline")
