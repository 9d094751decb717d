"""`/api/v1` resources, one module each; importing them fills `gateway.api.API`."""
from gateway.routes import (audit, customers, followups, mailboxes, members, portal, reports, sla, tenant,  # noqa: F401
                            tickets, time_entries, timeline)
from gateway.routes import invoices, rates  # noqa: F401,E402 - money (issue 10)
from gateway.routes import projects, tasks, templates  # noqa: F401,E402 - the work plan (issue 11)
from gateway.routes import time_setup, timers, timesheets  # noqa: F401,E402 - time tracking (issue 10)
from gateway.routes import health  # noqa: F401,E402 - customer health (issue 12)
from gateway.routes import forms  # noqa: F401,E402 - forms (issue 11)
from gateway.routes import metrics  # noqa: F401,E402 - benchmarks, headline and customer metrics (issue 12)
