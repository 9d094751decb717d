"""A service that is down gives a clear 503/504 at the gateway within the RPC timeout, never a hang —
and a request sent while it was down is not executed when it comes back (the broker drops it)."""
from __future__ import annotations

import time
import uuid

from harness import RPC_TIMEOUT, create_customer, create_ticket, eventually, problem

ANSWER_DEADLINE = RPC_TIMEOUT + 2


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_tickets_down_is_a_quick_503_or_504_and_no_late_execution(suite, tenant):
    api = tenant.api
    customer = create_customer(api)
    create_ticket(api, customer["id"], subject="before the outage")
    stale_subject = f"sent while tickets was down {uuid.uuid4().hex[:8]}"

    suite.stop("tickets")
    try:
        listed, list_seconds = timed(lambda: api.get("/api/v1/tickets"))
        posted, post_seconds = timed(lambda: api.post(
            "/api/v1/tickets", json={"customer_id": customer["id"], "subject": stale_subject}))
        for response, seconds in ((listed, list_seconds), (posted, post_seconds)):
            assert response.status_code in (503, 504), response.text
            problem(response, response.status_code)
            assert seconds < ANSWER_DEADLINE, f"answered after {seconds:.1f}s"
    finally:
        suite.start("tickets")

    # it works again (the first call may still race the RPC consumer's start)
    after = eventually(lambda: api.post("/api/v1/tickets", json={
        "customer_id": customer["id"], "subject": "after the outage"}).status_code == 201,
        20, "tickets answers again after its restart")
    assert after

    def subjects():
        response = api.get("/api/v1/tickets", params={"limit": 200})
        assert response.status_code == 200, response.text
        return {t["subject"] for t in response.json()["items"]}

    assert {"before the outage", "after the outage"} <= subjects()
    # the expired request would have been consumed before the later one; give a late worker a moment
    time.sleep(1.0)
    assert stale_subject not in subjects()
