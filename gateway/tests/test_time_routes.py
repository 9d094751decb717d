"""Time-entry routes with the RpcClient double: whose time a caller may log, correct and delete."""
from __future__ import annotations

import uuid

import pytest

from custops.errors import Conflict

from gateway.tests.conftest import ASSIGNED_CUSTOMER_ID

ENTRY_ID = str(uuid.uuid4())
COLLEAGUE = str(uuid.uuid4())


def _entry(*args):
    return {"id": ENTRY_ID, "minutes": 30, "customer_id": ASSIGNED_CUSTOMER_ID}  # a customer the agents work on


@pytest.fixture
def billing(services):
    for method in ("log_time", "get_time_entry", "correct_time_entry", "delete_time_entry"):
        services.on("billing", method, _entry)
    return services


def _log(client, bearer, role, **fields):
    return client.post("/api/v1/time-entries", headers=bearer(role),
                       json={"customer_id": ASSIGNED_CUSTOMER_ID, "minutes": 30, **fields})


@pytest.mark.parametrize("role", ["member", "contractor"])
def test_an_agent_logs_their_own_time_but_not_a_colleagues(client, bearer, billing, ids, problem, role):
    assert _log(client, bearer, role).status_code == 201
    assert _log(client, bearer, role, member_id=ids["members"][role]).status_code == 201
    doc = problem(_log(client, bearer, role, member_id=COLLEAGUE), 403)
    assert [e["field"] for e in doc["errors"]] == ["member_id"]
    assert [call[2]["member_id"] if "member_id" in call[2] else None
            for call in billing.calls_to("billing", "log_time")] == [None, ids["members"][role]]


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_a_manager_logs_a_colleagues_time_as_its_enterer(client, bearer, billing, ids, role):
    response = _log(client, bearer, role, member_id=COLLEAGUE)
    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/time-entries/{ENTRY_ID}"
    [(tenant, caller, payload)] = billing.calls_to("billing", "log_time")
    assert (tenant, caller, payload["member_id"]) == (ids["tenant"], ids["members"][role], COLLEAGUE)


@pytest.mark.parametrize("role, scoped", [("owner", False), ("admin", False), ("member", True),
                                          ("contractor", True)])
def test_corrections_and_deletions_carry_the_callers_scope(client, bearer, billing, ids, role, scoped):
    url = f"/api/v1/time-entries/{ENTRY_ID}"
    assert client.patch(url, headers=bearer(role), json={"minutes": 45, "ticket_id": None}).status_code == 200
    assert client.delete(url, headers=bearer(role)).status_code == 200
    scope = ids["members"][role] if scoped else None
    [(tenant, caller, entry_id, payload, patch_scope)] = billing.calls_to("billing", "correct_time_entry")
    assert (tenant, caller, entry_id, payload, patch_scope) == (
        ids["tenant"], ids["members"][role], ENTRY_ID, {"minutes": 45, "ticket_id": None}, scope)
    [(_, _, _, delete_scope)] = billing.calls_to("billing", "delete_time_entry")
    assert delete_scope == scope


def test_get_one_entry(client, bearer, billing, ids):
    response = client.get(f"/api/v1/time-entries/{ENTRY_ID}", headers=bearer("read_only"))
    assert response.status_code == 200 and response.get_json()["id"] == ENTRY_ID
    assert billing.calls_to("billing", "get_time_entry") == [(ids["tenant"], ENTRY_ID)]


def test_a_locked_entry_is_a_409(client, bearer, billing, problem):
    billing.on("billing", "correct_time_entry", Conflict("time entry can no longer change: it is on an invoice"))
    problem(client.patch(f"/api/v1/time-entries/{ENTRY_ID}", headers=bearer(), json={"minutes": 5}), 409)


@pytest.mark.parametrize("body", [{"minutes": None}, {"customer_id": None}, {"minutes": "45"}, {"hours": 1},
                                  {"minutes": 0}, {"minutes": 1441}])
def test_bad_corrections_never_reach_billing(client, bearer, billing, body):
    response = client.patch(f"/api/v1/time-entries/{ENTRY_ID}", headers=bearer(), json=body)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert billing.calls_to("billing", "correct_time_entry") == []
