"""`/api/v1` resources, one module each; importing them fills `gateway.api.API`."""
from gateway.routes import (audit, customers, mailboxes, members, portal, reports, sla, tenant, tickets,  # noqa: F401
                            time_entries, timeline)
