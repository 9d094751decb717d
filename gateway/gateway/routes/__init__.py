"""`/api/v1` resources, one module each; importing them fills `gateway.api.API`."""
from gateway.routes import (audit, customers, followups, mailboxes, members, portal, reports, sla, tenant,  # noqa: F401
                            tickets, time_entries, timeline)
from gateway.routes import projects, tasks, templates  # noqa: F401,E402 - the work plan (issue 11)
