"""Edges of the OpenAPI document found by schemathesis: what OPTIONS offers beside an id route, the
logo's byte body, and the 414 a long query can meet."""
from gateway.openapi import document


def test_options_on_a_static_path_beside_an_id_route_offers_only_its_own_methods(client, bearer):
    allowed = client.open("/api/v1/followups/analytics", method="OPTIONS", headers=bearer("owner")).allow
    assert "GET" in allowed and "PATCH" not in allowed and "DELETE" not in allowed


def test_the_logo_route_documents_its_image_body_and_query_routes_their_414():
    paths = document()["paths"]
    body = paths["/api/v1/billing/profile/logo"]["put"]["requestBody"]
    assert set(body["content"]) == {"image/png", "image/jpeg"} and body["required"] is True
    assert "414" in paths["/api/v1/customers"]["get"]["responses"]
