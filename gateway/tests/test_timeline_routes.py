"""The timeline routes against a double of the services: what each role's call asks the timeline
service for (its scope, internal entries, a saved view's filters), the CSV stream, bad input."""
from __future__ import annotations

import csv
import io
import uuid

import pytest

from custops.errors import NotFound

CUSTOMER = str(uuid.uuid4())


def page(*args):
    return {"items": [], "next_cursor": None, "total": 0}


@pytest.fixture
def timeline(services):
    for method in ("list_activities", "list_tenant_activities"):
        services.on("timeline", method, page)
    return services


def test_a_customers_timeline_passes_every_filter(client, bearer, timeline):
    ticket, ada = str(uuid.uuid4()), str(uuid.uuid4())
    response = client.get(f"/api/v1/customers/{CUSTOMER}/timeline?type=interaction.call&type_prefix=ticket."
                          f"&actor_type=member&actor_id={ada}&visibility=customer&from=2026-01-01T00:00:00Z"
                          f"&to=2026-02-01T00:00:00Z&ticket_id={ticket}&q=renewal%20-price&human_only=true"
                          "&include_retracted=true&limit=20", headers=bearer())
    assert response.status_code == 200, response.get_data(as_text=True)
    [(_, customer, wanted, limit, cursor)] = timeline.calls_to("timeline", "list_activities")
    assert (customer, limit, cursor) == (CUSTOMER, 20, None)
    assert wanted == {"include_internal": True, "types": ["interaction.call"], "type_prefix": "ticket.",
                      "actor_type": "member", "actor_id": ada, "visibility": "customer",
                      "occurred_from": "2026-01-01T00:00:00+00:00", "occurred_to": "2026-02-01T00:00:00+00:00",
                      "links": {"ticket_id": ticket}, "q": "renewal -price", "human_only": True,
                      "include_retracted": True}


@pytest.mark.parametrize("query, field", [("type=Bogus", "type.0"), ("actor_type=robot", "actor_type"),
                                          ("q=", "q"), ("ticket_id=nope", "ticket_id"), ("from=yesterday", "from"),
                                          ("type_prefix=ticket", "type_prefix")])
def test_bad_filters_are_refused_before_any_call(client, bearer, problem, timeline, query, field):
    doc = problem(client.get(f"/api/v1/customers/{CUSTOMER}/timeline?{query}", headers=bearer()), 422)
    assert field in [e["field"] for e in doc["errors"]], doc
    assert timeline.calls_to("timeline", "list_activities") == []


def test_the_tenant_feed_is_scoped_per_role(client, bearer, timeline, ids):
    for role in ("owner", "member", "contractor", "portal"):
        assert client.get("/api/v1/activity?q=renewal", headers=bearer(role)).status_code == 200
    owner, member, contractor, portal = [c[1] for c in timeline.calls_to("timeline", "list_tenant_activities")]
    assert owner == {"q": "renewal"}  # the whole tenant, internal entries too
    assert member == {"q": "renewal", "customer_ids": [ids["assigned_customer"]]}
    assert contractor == {"q": "renewal", "customer_ids": [ids["assigned_customer"]], "include_internal": False}
    assert portal == {"q": "renewal", "customer_ids": [ids["portal_customer"]], "include_internal": False}


def test_a_saved_view_supplies_filters_the_parameters_win_and_the_scope_still_applies(client, bearer, timeline, ids):
    view = str(uuid.uuid4())
    timeline.on("timeline", "get_view", lambda tenant, member, view_id: {
        "id": view_id, "filters": {"types": ["interaction.call"], "human_only": True, "customer_id": CUSTOMER}})
    client.get(f"/api/v1/activity?view={view}&human_only=false", headers=bearer("member"))
    [(_, wanted, _, _)] = timeline.calls_to("timeline", "list_tenant_activities")
    assert wanted == {"types": ["interaction.call"], "human_only": False, "customer_id": CUSTOMER,
                      "customer_ids": [ids["assigned_customer"]]}
    [(_, member, view_id)] = timeline.calls_to("timeline", "get_view")
    assert (member, view_id) == (ids["members"]["member"], view)


def test_heatmaps_are_the_teams_and_scoped(client, bearer, problem, services, ids):
    services.on("timeline", "activity_heatmap", lambda tenant, query: {"accounts": [], "query": query})
    ok = client.get("/api/v1/activity/heatmap?start=2026-03-01&end=2026-03-31&bucket=week&quiet_days=30"
                    "&human_only=true", headers=bearer("member"))
    assert ok.status_code == 200, ok.get_data(as_text=True)
    [(_, query)] = services.calls_to("timeline", "activity_heatmap")
    assert query == {"start": "2026-03-01", "end": "2026-03-31", "bucket": "week", "quiet_days": 30,
                     "filters": {"human_only": True, "customer_ids": [ids["assigned_customer"]]}}
    assert client.get("/api/v1/activity/heatmap", headers=bearer("portal")).status_code == 403
    problem(client.get("/api/v1/activity/heatmap?bucket=year", headers=bearer()), 422)
    problem(client.get("/api/v1/activity/heatmap?quiet_days=0", headers=bearer()), 422)


def test_the_csv_export_streams_every_page_and_never_runs_a_formula(client, bearer, services):
    pages = {None: {"columns": ["id", "summary"], "rows": [["1", "=HYPERLINK(\"x\")"]], "next_cursor": "c2"},
             "c2": {"columns": ["id", "summary"], "rows": [["2", "plain"]], "next_cursor": None}}
    services.on("timeline", "export_activities", lambda tenant, wanted, cursor, limit: pages[cursor])
    response = client.get("/api/v1/activity/export.csv?type_prefix=interaction.", headers=bearer("admin"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert list(csv.reader(io.StringIO(response.get_data(as_text=True)))) == [
        ["id", "summary"], ["1", "'=HYPERLINK(\"x\")"], ["2", "plain"]]
    assert [c[1] for c in services.calls_to("timeline", "export_activities")] == [
        {"type_prefix": "interaction."}] * 2


def test_corrections_retraction_history_and_views_reach_the_service(client, bearer, services, ids):
    activity = str(uuid.uuid4())
    for method in ("correct_interaction", "retract_interaction", "save_view"):
        services.on("timeline", method, lambda *args: {"id": activity})
    services.on("timeline", "activity_history", page)
    base = f"/api/v1/customers/{ids['assigned_customer']}/timeline/{activity}"
    assert client.post(f"{base}/corrections", json={"summary": "fixed", "fields": {"duration_minutes": 5}},
                       headers=bearer("member")).status_code == 201
    assert client.post(f"{base}/retraction", json={"reason": "wrong customer"},
                       headers=bearer("member")).status_code == 201
    assert client.post(f"{base}/retraction", json={}, headers=bearer("member")).status_code == 400
    assert client.get(f"{base}/history", headers=bearer("contractor")).status_code == 200
    [(_, customer, _, include_internal)] = services.calls_to("timeline", "activity_history")
    assert include_internal is False  # a contractor without internal access
    saved = client.post("/api/v1/activity-views", json={"name": "Calls", "filters": {"types": ["interaction.call"]}},
                        headers=bearer("contractor"))
    assert saved.status_code == 201 and saved.headers["Location"].endswith(f"/activity-views/{activity}")
    [(_, member, body)] = services.calls_to("timeline", "save_view")
    assert member == ids["members"]["contractor"] and body["name"] == "Calls"
    assert client.post("/api/v1/activity-views", json={"name": "x"}, headers=bearer("read_only")).status_code == 403


def test_the_csv_export_of_an_unknown_view_is_a_404(client, bearer, services):
    services.on("timeline", "get_view", NotFound("view x not found"))
    response = client.get(f"/api/v1/activity/export.csv?view={uuid.uuid4()}", headers=bearer("admin"))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "POST"])
def test_an_undeclared_method_on_a_static_path_beside_an_id_route_is_a_405(client, bearer, method):
    # `/followups/<uuid:followup_id>` takes PATCH; `analytics` is no id but the path of a GET route
    response = client.open("/api/v1/followups/analytics", method=method, headers=bearer("admin"))
    assert response.status_code == 405, response.get_data(as_text=True)
    assert "GET" in response.headers["Allow"]
    bad_id = client.patch("/api/v1/followups/not-an-id", json={}, headers=bearer("admin"))
    assert bad_id.status_code == 404 and bad_id.get_json()["errors"][0]["field"] == "followup_id"
