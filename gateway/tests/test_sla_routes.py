"""`/sla/calendar/public-holidays` and the SLA bounds the gateway checks before the tickets service
(which checks them again, and the rules that depend on today: docs/sla.md)."""
from __future__ import annotations

import pytest

from custops.errors import InvalidInput, NotFound

CALENDAR = {"timezone": "Europe/Berlin", "weekly_slots": {"0": [["09:00", "17:00"]]}, "holidays": ["2026-01-06"],
            "always_open": False, "version": 3}


def test_public_holidays_are_loaded_by_region_code(client, bearer, services, ids):
    services.on("tickets", "load_public_holidays", lambda tenant, body: {
        **CALENDAR, "region": body["region"].upper(), "added": 1,
        "public_holidays": [{"date": "2026-01-06", "name": "Epiphany"}]})
    response = client.post("/api/v1/sla/calendar/public-holidays", headers=bearer(),
                           json={"region": "DE-BY", "years": [2026]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["public_holidays"] == [{"date": "2026-01-06", "name": "Epiphany"}]
    assert services.calls_to("tickets", "load_public_holidays") == [(ids["tenant"], {"region": "DE-BY",
                                                                                      "years": [2026]})]


@pytest.mark.parametrize("body, status, field", [
    ({"region": "Bavaria", "years": [2026]}, 422, "region"),
    ({"region": "DE-BY", "years": []}, 422, "years"),
    ({"region": "DE-BY", "years": list(range(2020, 2031))}, 422, "years"),
    ({"region": "DE-BY", "years": [9999]}, 422, "years.0"),
    ({"region": "DE-BY"}, 400, "years"),
])
def test_bad_public_holiday_requests_are_refused_before_the_service(client, bearer, problem, services, body,
                                                                     status, field):
    doc = problem(client.post("/api/v1/sla/calendar/public-holidays", headers=bearer(), json=body), status)
    assert field in [e["field"] for e in doc["errors"]], doc
    assert services.calls_to("tickets", "load_public_holidays") == []


def test_an_unknown_region_is_the_services_422_naming_the_field(client, bearer, problem, services):
    services.on("tickets", "load_public_holidays", InvalidInput(
        "no public holidays are known for the country 'XX'", [{"field": "region", "message": "unknown"}]))
    doc = problem(client.post("/api/v1/sla/calendar/public-holidays", headers=bearer(),
                              json={"region": "XX", "years": [2026]}), 422)
    assert [e["field"] for e in doc["errors"]] == ["region"]


@pytest.mark.parametrize("role", ["member", "read_only", "contractor", "portal"])
def test_only_sla_writers_load_public_holidays(client, bearer, problem, role):
    problem(client.post("/api/v1/sla/calendar/public-holidays", headers=bearer(role),
                        json={"region": "FR", "years": [2026]}), 403)


def test_a_day_with_more_than_twelve_slots_is_refused_at_the_gateway(client, bearer, problem, services):
    slots = [[f"{h:02d}:00", f"{h:02d}:30"] for h in range(13)]
    doc = problem(client.put("/api/v1/sla/calendar", headers=bearer(), json={"weekly_slots": {"0": slots}}), 422)
    assert doc["errors"][0]["field"].startswith("weekly_slots")
    assert services.calls_to("tickets", "put_business_calendar") == []


# --- recompute jobs (issue 14) ------------------------------------------------------------------------

JOB = {"id": "6f1c2f4e-8a54-4d0e-9b3c-0f6f4a1e2b7d", "reason": "calendar", "status": "running",
       "customer_id": None, "calendar_version": 3, "settings_version": 1,
       "policy_versions": {"0a4c2f4e-8a54-4d0e-9b3c-0f6f4a1e2b7d": 2}, "total": 10000, "done": 2500,
       "superseded_by": None, "error": None, "created_at": "2026-12-01T12:00:00+00:00",
       "started_at": "2026-12-01T12:00:00.100000+00:00", "finished_at": None}


def test_a_calendar_change_answers_at_once_with_its_recompute_job(client, bearer, services, ids):
    services.on("tickets", "put_business_calendar", lambda tenant, body: {**CALENDAR, "recompute": {
        **JOB, "status": "queued", "total": None, "done": 0, "started_at": None}})
    response = client.put("/api/v1/sla/calendar", headers=bearer(), json={"timezone": "Europe/Berlin"})
    assert response.status_code == 200, response.get_data(as_text=True)  # as before: only a field more
    body = response.get_json()
    assert body["version"] == 3 and (body["recompute"]["id"], body["recompute"]["status"]) == (JOB["id"], "queued")


def test_a_recompute_job_and_the_list_of_them_are_read_with_sla_read(client, bearer, services, ids):
    services.on("tickets", "get_sla_recompute_job", lambda tenant, job_id: {**JOB, "id": job_id})
    services.on("tickets", "list_sla_recompute_jobs", lambda tenant, status, limit, cursor: {
        "items": [JOB], "next_cursor": None})
    for role in ("owner", "admin", "member", "read_only"):
        response = client.get(f"/api/v1/sla/recompute-jobs/{JOB['id']}", headers=bearer(role))
        assert response.status_code == 200, (role, response.get_data(as_text=True))
        assert (response.get_json()["done"], response.get_json()["total"]) == (2500, 10000)
    assert services.calls_to("tickets", "get_sla_recompute_job")[0] == (ids["tenant"], JOB["id"])

    listed = client.get("/api/v1/sla/recompute-jobs?status=running&limit=10", headers=bearer("member"))
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert listed.get_json() == {"items": [JOB], "next_cursor": None, "total": 1}
    assert services.calls_to("tickets", "list_sla_recompute_jobs") == [(ids["tenant"], "running", 10, None)]


@pytest.mark.parametrize("role", ["contractor", "portal"])
def test_recompute_jobs_are_not_for_those_without_sla_read(client, bearer, problem, services, role):
    problem(client.get(f"/api/v1/sla/recompute-jobs/{JOB['id']}", headers=bearer(role)), 403)
    problem(client.get("/api/v1/sla/recompute-jobs", headers=bearer(role)), 403)
    assert services.calls_to("tickets", "get_sla_recompute_job") == []


def test_bad_recompute_job_requests_are_refused_before_the_service(client, bearer, problem, services):
    doc = problem(client.get("/api/v1/sla/recompute-jobs?status=paused", headers=bearer()), 422)
    assert [e["field"] for e in doc["errors"]] == ["status"]
    problem(client.get("/api/v1/sla/recompute-jobs/not-a-job", headers=bearer()), 404)
    assert services.calls == [c for c in services.calls if c[1] == "authenticate"]


def test_an_unknown_recompute_job_is_the_services_404(client, bearer, problem, services):
    services.on("tickets", "get_sla_recompute_job", NotFound(f"SLA recompute job {JOB['id']} not found"))
    problem(client.get(f"/api/v1/sla/recompute-jobs/{JOB['id']}", headers=bearer()), 404)


def test_the_recompute_documents_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    job = schemas["RecomputeJob"]
    assert {"id", "status", "done", "total", "calendar_version", "policy_versions"} <= set(job["required"])
    ok = doc["paths"]["/api/v1/sla/recompute-jobs/{job_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RecomputeJob"}
    put = doc["paths"]["/api/v1/sla/calendar"]["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "recompute" in schemas[put["$ref"].rsplit("/", 1)[1]]["properties"]
    assert {"recompute_pending", "recompute_job_id"} <= set(schemas["TicketSla"]["required"])
