"""Gateway test fixtures.

Import fix-up first: pytest (`--import-mode=importlib`) names these modules `gateway.tests.*` after
their path and registers a placeholder namespace module `gateway` for the directory holding this
distribution. The real import package `gateway` (gateway/gateway/) must win, so this distribution's
root goes first on sys.path and the placeholder is replaced by the real package.
"""
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
_placeholder = sys.modules.get("gateway")
if _placeholder is not None and getattr(_placeholder, "__file__", None) is None:
    del sys.modules["gateway"]
    import gateway  # noqa: E402

    gateway.tests = sys.modules.get("gateway.tests")  # keep pytest's module tree navigable

import uuid  # noqa: E402

import pytest  # noqa: E402

from custops.errors import ServiceUnavailable  # noqa: E402
from gateway import auth, roles  # noqa: E402
from gateway.app import create_app  # noqa: E402

TENANT_ID = str(uuid.uuid4())
PORTAL_CUSTOMER_ID = str(uuid.uuid4())
ASSIGNED_CUSTOMER_ID = str(uuid.uuid4())  # every scoped member's account team's customer, by default
MEMBER_IDS = {role: str(uuid.uuid4()) for role in roles.ROLES}


def token_for(role: str) -> str:
    return f"token-of-{role}"


class InMemoryServices:
    """A double of OUR `custops.rpc.RpcClient` interface (`call(service, method, *args)`), so unit
    tests need no broker. Calls are recorded; a method with no answer registered behaves like a
    service that is not running (ServiceUnavailable), as the real client does."""

    def __init__(self):
        self.answers = {}
        self.calls: list[tuple] = []
        # the customers whose account team every scoped member (member, contractor, read_only) is on,
        # as `customers.scope_of` answers by default; `internal` those with internal access
        self.assigned: set[str] = {ASSIGNED_CUSTOMER_ID}
        self.internal: set[str] = set()
        self.on("customers", "scope_of", lambda tenant, member: {
            "customer_ids": sorted(self.assigned), "internal_customer_ids": sorted(self.internal)})

    def on(self, service: str, method: str, answer) -> None:
        """`answer`: a callable taking the call's arguments, or an exception instance to raise."""
        self.answers[(service, method)] = answer

    def call(self, service, method, *args, **kwargs):
        self.calls.append((service, method, args))
        answer = self.answers.get((service, method))
        if answer is None:
            raise ServiceUnavailable(f"service {service} is not running")
        if isinstance(answer, BaseException):
            raise answer
        return answer(*args, **kwargs)

    def calls_to(self, service, method) -> list[tuple]:
        return [args for s, m, args in self.calls if (s, m) == (service, method)]


def _authenticate(token):
    for role in roles.ROLES:
        if token == token_for(role):
            return {"tenant_id": TENANT_ID, "member_id": MEMBER_IDS[role], "role": role,
                    "customer_id": PORTAL_CUSTOMER_ID if role == "portal" else None,
                    "email": f"{role}@example.test"}
    return None


@pytest.fixture
def services():
    double = InMemoryServices()
    double.on("customers", "authenticate", _authenticate)
    return double


@pytest.fixture
def app(services):
    return create_app({"RPC_CLIENT": services, "TESTING": True})


@pytest.fixture(scope="module")
def _one_app_of_the_module():
    return create_app({"RPC_CLIENT": InMemoryServices(), "TESTING": True})


@pytest.fixture
def reused_app(_one_app_of_the_module, services):
    """An `app` for a module that asks thousands of questions (the role and scope matrices): built
    once per module (building one costs ~70 ms, most of such a case), then given each test's double
    and fresh auth and scope caches, so no test sees another's answers."""
    app = _one_app_of_the_module
    app.extensions["custops_rpc"]._client = services
    app.extensions["custops_auth_cache"] = auth.TtlCache(ttl=float(app.config["AUTH_CACHE_SECONDS"]))
    app.extensions.pop("custops_scope_cache", None)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def _bearer(role: str = "owner") -> dict:
    return {"Authorization": f"Bearer {token_for(role)}"}


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json", response.headers
    doc = response.get_json(force=True)
    assert doc["status"] == status and doc["title"] and doc["type"], doc
    return doc


@pytest.fixture
def bearer():
    """`bearer(role)`: the Authorization header of a token with that role."""
    return _bearer


@pytest.fixture
def problem():
    """`problem(response, status)`: assert a problem document with that status; returns it."""
    return _assert_problem


@pytest.fixture
def ids():
    return {"tenant": TENANT_ID, "portal_customer": PORTAL_CUSTOMER_ID, "members": MEMBER_IDS,
            "assigned_customer": ASSIGNED_CUSTOMER_ID}
