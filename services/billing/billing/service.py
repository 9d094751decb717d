"""Billing service: the class that names its concerns, each an entrypoint mixin over pure rules.

- time entries (`billing.entry_service`): log, correct, delete, list, sum;
- the tenant's time setup (`billing.time_setup_service`): categories, billing defaults, stopwatch
  rules, timesheet approvers;
- the stopwatch (`billing.timer_service`) and weekly timesheets (`billing.timesheet_service`);
- money (`billing.invoice_service`): rates, agreements, budgets, invoices, PDFs, exports;
- the copies of members and tenants it is told of (`billing.directory`).

Every change writes its event to the outbox in the same transaction.
"""
from __future__ import annotations

from billing.directory import DirectoryCopies
from billing.entry_service import TimeEntryEntrypoints
from billing.invoice_service import InvoiceEntrypoints
from billing.time_setup_service import TimeSetupEntrypoints
from billing.timer_service import TimerEntrypoints
from billing.timesheet_service import TimesheetEntrypoints
from custops.db import Database
from custops.entrypoints import HealthEndpoints, Telemetry
from custops.rpc import ServiceRpc


class BillingService(TimeEntryEntrypoints, TimeSetupEntrypoints, TimerEntrypoints, TimesheetEntrypoints,
                     InvoiceEntrypoints, DirectoryCopies, HealthEndpoints):
    name = "billing"

    db = Database()
    rpc_client = ServiceRpc()
    telemetry = Telemetry()
