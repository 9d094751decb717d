"""Fixtures of the reports service's own tests."""
import pytest


@pytest.fixture
def reports(container_factory, nameko_config):
    """The real reports service, started in-process against the test broker and database."""
    from reports.service import ReportsService

    container = container_factory(ReportsService, nameko_config)
    container.start()
    return container
