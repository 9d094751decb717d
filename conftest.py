"""Root test configuration.

nameko's pytest plugin stopped monkey patching in 2.13, and bare pytest hangs on its broker
fixtures without it (STACK.md), so eventlet is patched here, before anything else is imported.
Tests use their own databases (`custops_test_*`) so a demo started with `make run` is left alone.
"""
import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

# cross-service test helpers (tests/harness.py) import by name under --import-mode=importlib
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "tests"))

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
os.environ.setdefault("CUSTOPS_DB_PREFIX", "custops_test_")
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

# CUSTOPS_TEST_VHOST lets two test runs on one machine (e.g. two working copies) stay apart
TEST_VHOST = os.environ.get("CUSTOPS_TEST_VHOST", "custops_test")


def _test_amqp_uri() -> str | None:
    """A `custops_test` vhost on the local broker, so tests never share queues with a demo that
    `make run` started (its services would take the tests' messages). Only when AMQP_URI is not
    given: a broker we do not administer is used as it is."""
    import shutil
    import subprocess

    ctl = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin")
    if os.environ.get("AMQP_URI") or ctl is None:
        return None
    try:
        listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True, timeout=60)
        if TEST_VHOST not in listed.stdout.split():
            subprocess.run([ctl, "-q", "add_vhost", TEST_VHOST], capture_output=True, timeout=60, check=True)
        subprocess.run([ctl, "-q", "set_permissions", "-p", TEST_VHOST, "guest", ".*", ".*", ".*"],
                       capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"conftest: no test vhost ({exc}); using the default one")
        return None
    return "amqp://guest:guest@127.0.0.1:5672/" + TEST_VHOST


if (_uri := _test_amqp_uri()) is not None:
    os.environ["AMQP_URI"] = _uri

import pytest  # noqa: E402

from custops import config  # noqa: E402

# Fixtures that reach the real RabbitMQ or PostgreSQL: a test using any of them (directly or through
# another fixture) is an integration test; `pytest -m "not integration"` runs the pure ones in seconds.
_INTEGRATION_FIXTURES = frozenset({
    "custops_setup", "nameko_config", "container_factory", "runner_factory", "rabbit_config", "rabbit_manager",
    "rpc", "suite",
})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def custops_setup():
    """Create, migrate and wire (queues) every service's test database, once per run."""
    from custops.cli import main

    main(["setup"])
    return True


@pytest.fixture
def nameko_config(custops_setup):
    """Config for running a service container in-process against the real RabbitMQ."""
    cfg = config.nameko_config("test")
    cfg["WEB_SERVER_ADDRESS"] = "127.0.0.1:0"
    return cfg


@pytest.fixture
def tenant_id():
    import uuid

    return uuid.uuid4()


@pytest.fixture
def rpc():
    """An RPC client to the services running against the test broker, closed after the test."""
    from custops.rpc import RpcClient

    client = RpcClient(timeout=10)
    yield client
    client.close()


@pytest.fixture
def customers_service(container_factory, nameko_config):
    """The real customers service, started in-process (other services ask it about tenants and
    customers, and it refuses tenants it does not know)."""
    from customers.service import CustomersService

    container = container_factory(CustomersService, nameko_config)
    container.start()
    return container


@pytest.fixture
def new_tenant(customers_service, rpc):
    """Creates a fresh tenant in the real customers service; returns `{tenant_id, member_id, token}`."""
    import uuid

    def create(owner_email="owner@tenant.example", owner_name=None, name=None) -> dict:
        return rpc.call("customers", "create_tenant", name or f"Tenant {uuid.uuid4()}", owner_email, owner_name)

    return create
