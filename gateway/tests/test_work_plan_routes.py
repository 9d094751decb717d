"""Work-plan routes with the RpcClient double: input the customers service could not store is refused
here as a problem naming the field (found by schemathesis: a template `version` past a Postgres INTEGER
reached the database and came back a 502), and what each route answers is in the OpenAPI document."""
from __future__ import annotations

import uuid

import pytest

from custops.validation import MAX_INTEGER
from gateway.tests.conftest import ASSIGNED_CUSTOMER_ID

HUGE = 666312986924336454992348724592640  # the version schemathesis sent


@pytest.mark.parametrize("version", [HUGE, MAX_INTEGER + 1, 0])
def test_applying_a_template_version_out_of_range_is_a_422_naming_version(client, bearer, services, problem,
                                                                          version):
    services.on("customers", "apply_template", lambda *args: pytest.fail("reached the customers service"))
    doc = problem(client.post(f"/api/v1/customers/{ASSIGNED_CUSTOMER_ID}/onboarding", headers=bearer(),
                              json={"template_id": str(uuid.uuid4()), "version": version}), 422)
    assert [e["field"] for e in doc["errors"]] == ["version"]


def test_other_template_versions_out_of_range_are_refused_naming_version(client, bearer, services, problem):
    for method in ("get_template", "upgrade_plan", "get_project"):
        services.on("customers", method, lambda *args: pytest.fail("reached the customers service"))
    doc = problem(client.get(f"/api/v1/onboarding-templates/{uuid.uuid4()}?version={HUGE}", headers=bearer()), 422)
    assert [e["field"] for e in doc["errors"]] == ["version"]
    doc = problem(client.post(f"/api/v1/projects/{uuid.uuid4()}/template-upgrade", headers=bearer(),
                              json={"version": HUGE}), 422)
    assert [e["field"] for e in doc["errors"]] == ["version"]


def test_the_largest_version_a_column_holds_reaches_the_service(client, bearer, services):
    services.on("customers", "apply_template", lambda *args: {"created": False, "project": {"id": None}})
    answer = client.post(f"/api/v1/customers/{ASSIGNED_CUSTOMER_ID}/onboarding", headers=bearer(),
                         json={"template_id": str(uuid.uuid4()), "version": MAX_INTEGER})
    assert answer.status_code == 200
    [(_tenant, _customer, given)] = services.calls_to("customers", "apply_template")
    assert given["version"] == MAX_INTEGER


def test_the_versions_are_bounded_and_a_custom_field_removal_declares_its_422(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert schemas["ApplyTemplate"]["properties"]["version"]["maximum"] == MAX_INTEGER
    paths = doc["paths"]
    # the customers service refuses a `key` that is no field key (`0`) with a 422 naming `key`
    assert "422" in paths["/api/v1/custom-fields/{key}"]["delete"]["responses"]
    assert "422" in paths["/api/v1/custom-fields/{key}"]["put"]["responses"]


def test_a_custom_field_key_refused_by_the_service_is_answered_as_its_422(client, bearer, services, problem):
    from custops.errors import InvalidInput

    def refuse(tenant, key):
        raise InvalidInput("the input is not valid", [{"field": "key", "message": "not a field key"}])

    services.on("customers", "remove_custom_field", refuse)
    doc = problem(client.delete("/api/v1/custom-fields/0", headers=bearer()), 422)
    assert [e["field"] for e in doc["errors"]] == ["key"]


def test_a_portal_submission_is_for_the_portal_users_company_as_their_contact(client, bearer, services, problem):
    """The company and the contact come from the token, never from the request (issue 11)."""
    from gateway.tests.conftest import PORTAL_CUSTOMER_ID, _authenticate

    contact_id = str(uuid.uuid4())
    services.on("customers", "authenticate", lambda token: {**_authenticate(token), "contact_id": contact_id}
                if (_authenticate(token) or {}).get("role") == "portal" else _authenticate(token))
    services.on("customers", "submit_portal_form", lambda tenant, form_id, customer_id, contact, payload: {
        "id": str(uuid.uuid4()), "form_id": form_id, "form_version": 1, "link_id": None, "customer_id": customer_id,
        "contact_id": contact, "answers": payload["answers"], "scores": [], "task_id": None,
        "submitted_at": "2026-12-01T10:00:00+00:00", "ticket_id": None, "survey_ticket_id": None, "via": "portal"})
    form_id = str(uuid.uuid4())
    answer = client.post(f"/api/v1/portal/forms/{form_id}/submissions", headers=bearer("portal"),
                         json={"answers": {"csat": 5}, "customer_id": str(uuid.uuid4())})
    problem(answer, 400)  # a body naming a customer is refused (unknown field): the company is the token's
    answer = client.post(f"/api/v1/portal/forms/{form_id}/submissions", headers=bearer("portal"),
                         json={"answers": {"csat": 5}})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    [(_tenant, given_form, customer, contact, payload)] = services.calls_to("customers", "submit_portal_form")
    assert (given_form, customer, contact, payload) == (form_id, PORTAL_CUSTOMER_ID, contact_id,
                                                        {"answers": {"csat": 5}})
    # an owner may look at what the portal offers, but is no contact to submit as
    problem(client.post(f"/api/v1/portal/forms/{form_id}/submissions", headers=bearer("owner"),
                        json={"answers": {"csat": 5}}), 422)
    assert len(services.calls_to("customers", "submit_portal_form")) == 1
