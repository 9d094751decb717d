"""`/sla/calendar/public-holidays` and the SLA bounds the gateway checks before the tickets service
(which checks them again, and the rules that depend on today: docs/sla.md)."""
from __future__ import annotations

import pytest

from custops.errors import InvalidInput

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
