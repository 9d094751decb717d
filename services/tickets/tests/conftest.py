"""Fixtures the tickets service's tests share (the root conftest.py has the broker, databases and
`new_tenant`). A test module that needs another shape defines its own fixture of the same name."""
from __future__ import annotations

import uuid

import pytest

from tickets.service import TicketsService


@pytest.fixture
def tickets_service(container_factory, nameko_config):
    """The tickets service in this process, on the tests' broker and databases."""
    container = container_factory(TicketsService, nameko_config)
    container.start()
    return container


@pytest.fixture
def tenant_id(new_tenant):
    """A tenant of this test's own, created in the customers service (which refuses unknown tenants)."""
    return uuid.UUID(new_tenant()["tenant_id"])
