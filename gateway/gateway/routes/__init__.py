"""`/api/v1` resources, one module each; importing them fills `gateway.api.API`."""
from gateway.routes import audit, customers, mailboxes, members, reports, sla, tenant, tickets, time_entries, timeline  # noqa: F401
