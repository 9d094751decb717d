"""Billing's events: time entries logged, corrected and deleted.

Designed for the read models billing will feed (issue 10: utilization by member, customer, project
and week; invoices): every `time.*` event carries the whole entry as it is (or, for a deletion, as
it was), so a subscriber replaces or removes its copy without asking billing, and a `revision` that
counts the entry's versions (1 when logged), so an update that arrives after a later one is
recognised as stale. References an entry will gain later (project, task, timeline activity) arrive
as new optional fields and as new keys of `changes`: additive, within v1.
"""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from custops.events import EventData, contract

# which level decided whether time is billable (billing.billability): entry > category > project > customer
BillableSource = Literal["entry", "category", "project", "customer"]


class TimeEntryFacts(EventData):
    """The entry as it is (or, for time.deleted, was): every time.* event carries these, so a read
    model can add, correct or take back its minutes from any one of them."""

    entry_id: uuid.UUID
    member_id: uuid.UUID
    customer_id: uuid.UUID
    ticket_id: uuid.UUID | None = None
    minutes: int
    billable: bool
    work_date: date
    # added within v1 (issue 10, additive): what the time is for, why it is billable, its week
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    category: str | None = None
    billable_source: BillableSource | None = None
    tags: list[str] = []
    week_start: date | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    timer_id: uuid.UUID | None = None
    needs_confirmation: str | None = None


@contract("billing", "time.logged")
class TimeLogged(TimeEntryFacts):
    """A time entry was recorded. `member_id` is whose time it is; `entered_by_member_id` who
    entered it (a manager may log a colleague's time)."""

    note: str = ""
    # added within v1 (additive)
    entered_by_member_id: uuid.UUID | None = None
    revision: int = 1


class FieldChange(BaseModel):
    """One corrected field: its value before and after (JSON values: ids and dates as strings)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    old: Any = None
    new: Any = None


@contract("billing", "time.updated")
class TimeUpdated(TimeEntryFacts):
    """A time entry was corrected. `changes` maps each changed field (`member_id`, `customer_id`,
    `ticket_id`, `work_date`, `minutes`, `billable`, `note`) to its `old` and `new` value; the other
    fields are the entry as it now is. `updated_by_member_id` is who corrected it."""

    note: str = ""
    revision: int
    changes: dict[str, FieldChange]
    updated_by_member_id: uuid.UUID | None = None
    updated_at: AwareDatetime


@contract("billing", "time.deleted")
class TimeDeleted(TimeEntryFacts):
    """A time entry was deleted (never an invoiced one); the fields are the entry as it was, so a
    read model can take its minutes back out. `deleted_by_member_id` is who deleted it."""

    revision: int
    deleted_by_member_id: uuid.UUID | None = None
    deleted_at: AwareDatetime


# --- the stopwatch (issue 10): a member's running timers. Every timer.* event carries the timer as
# it is: whose, for what, its state and the seconds run so far (`elapsed_seconds`, pauses excluded).

TimerState = Literal["running", "paused", "stopped", "discarded"]


class TimerFacts(EventData):
    timer_id: uuid.UUID
    member_id: uuid.UUID
    customer_id: uuid.UUID
    project_id: uuid.UUID | None = None
    ticket_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    category: str | None = None
    state: TimerState
    started_at: AwareDatetime
    elapsed_seconds: int
    revision: int


@contract("billing", "timer.started")
class TimerStarted(TimerFacts):
    """A member started a timer (on a ticket, a task or a timeline activity of a customer).
    `replaced_timer_id`: the member's timer this start stopped (one timer per member by default)."""

    replaced_timer_id: uuid.UUID | None = None


@contract("billing", "timer.paused")
class TimerPaused(TimerFacts):
    """A running timer was paused; `elapsed_seconds` stands still until it is resumed."""


@contract("billing", "timer.resumed")
class TimerResumed(TimerFacts):
    """A paused timer runs again."""


@contract("billing", "timer.stopped")
class TimerStopped(TimerFacts):
    """A timer was stopped and became the time entry `entry_id` (told by its own `time.logged`).
    `reason`: `stopped` (by a person), `replaced` (the member started another), `idle` (the tenant's
    idle-stop rule). `flagged`: it ran past the tenant's limit, and its entry needs a person's
    confirmation before its week can be approved (never billed silently)."""

    reason: Literal["stopped", "replaced", "idle"]
    entry_id: uuid.UUID | None = None
    minutes: int = 0
    flagged: bool = False


@contract("billing", "timer.discarded")
class TimerDiscarded(TimerFacts):
    """A timer was thrown away without making a time entry."""


@contract("billing", "timer.flagged")
class TimerFlagged(TimerFacts):
    """A timer has run longer than the tenant's limit (`limit_minutes`): told once; stopping it makes
    an entry that needs confirmation."""

    limit_minutes: int


# --- weekly timesheets (issue 10): one per member and week, the week in the member's timezone.
# Each carries the week's totals so a report of billable utilization needs no other source.

TimesheetStatus = Literal["open", "submitted", "approved", "rejected"]


class TimesheetFacts(EventData):
    timesheet_id: uuid.UUID
    member_id: uuid.UUID
    week_start: date
    timezone: str
    status: TimesheetStatus
    total_minutes: int = 0
    billable_minutes: int = 0
    entry_count: int = 0
    revision: int = 1


@contract("billing", "timesheet.submitted")
class TimesheetSubmitted(TimesheetFacts):
    """A member's week was submitted for approval (by the member, or for them by a manager)."""

    submitted_by_member_id: uuid.UUID


@contract("billing", "timesheet.approved")
class TimesheetApproved(TimesheetFacts):
    """A week was approved: its entries (`entry_ids`) are locked (`approved_at`) and may be invoiced."""

    approved_by_member_id: uuid.UUID
    comment: str | None = None
    entry_ids: list[uuid.UUID] = []


@contract("billing", "timesheet.rejected")
class TimesheetRejected(TimesheetFacts):
    """A submitted week was sent back with a comment; its entries may be corrected again."""

    rejected_by_member_id: uuid.UUID
    comment: str


@contract("billing", "timesheet.reopened")
class TimesheetReopened(TimesheetFacts):
    """An approved (or submitted) week was reopened: its entries are unlocked (`entry_ids`), none of
    them invoiced (an invoiced week cannot be reopened)."""

    reopened_by_member_id: uuid.UUID
    previous_status: TimesheetStatus
    comment: str | None = None
    entry_ids: list[uuid.UUID] = []


@contract("billing", "timesheet.reminder")
class TimesheetReminder(TimesheetFacts):
    """A member's past week is not submitted yet: raised once per member and week (for a notifier)."""


@contract("billing", "timesheet.approvers_changed")
class TimesheetApproversChanged(EventData):
    """The named approvers of a member's timesheets (besides owners and admins) were set."""

    member_id: uuid.UUID
    approver_ids: list[uuid.UUID]
    previous: dict[str, list[uuid.UUID]] = {}


# --- time settings: categories, billing defaults, the stopwatch's rules

@contract("billing", "time_category.created")
class TimeCategoryCreated(EventData):
    """A time category was added to the tenant's list, billable or internal by default."""

    time_category_id: uuid.UUID
    name: str
    billable: bool


@contract("billing", "time_category.updated")
class TimeCategoryUpdated(EventData):
    """A time category changed (`changes`: each changed field's old and new value). A changed default
    applies to time written from then on; entries keep what was decided when they were written."""

    time_category_id: uuid.UUID
    name: str
    billable: bool
    archived: bool = False
    changes: dict[str, FieldChange]


@contract("billing", "billing_default.changed")
class BillingDefaultChanged(EventData):
    """A customer's or a project's billing default was set (`billable`) or removed (null)."""

    level: Literal["customer", "project"]
    subject_id: uuid.UUID
    billable: bool | None
    previous_billable: bool | None = None


@contract("billing", "time_settings.changed")
class TimeSettingsChanged(EventData):
    """The tenant's stopwatch rules changed (`changes`: old and new of each changed setting)."""

    timer_limit_minutes: int
    idle_stop_minutes: int | None
    one_timer_per_member: bool
    changes: dict[str, FieldChange]


# --- money (issue 10): invoices, their payments and credit notes, rates, agreements, budgets.
# Amounts are integer minor units of `currency` (ISO 4217; EUR cents, JPY yen, KWD fils). Every
# `invoice.*` event carries the invoice's customer, status, currency, total and balance due, and,
# once issued, its number and due date: what "overdue invoices" in customer health needs without
# asking billing.

InvoiceStatus = Literal["draft", "issued", "paid", "void"]


class InvoiceFacts(EventData):
    invoice_id: uuid.UUID
    customer_id: uuid.UUID
    status: InvoiceStatus
    currency: str
    period_from: date
    period_to: date
    subtotal: int
    tax_total: int
    total: int
    amount_paid: int = 0
    amount_credited: int = 0
    balance_due: int
    number: int | None = None
    number_text: str | None = None
    issue_date: date | None = None
    due_date: date | None = None


@contract("billing", "invoice.created")
class InvoiceCreated(InvoiceFacts):
    """An invoice draft was made for a customer and period from its approved, uninvoiced billable
    entries (and fixed fees, retainers). `entry_count` entries, `billed_minutes` (rounded) of
    `tracked_minutes` (raw) are on it. A draft has no number."""

    line_count: int
    entry_count: int
    tracked_minutes: int
    billed_minutes: int


@contract("billing", "invoice.updated")
class InvoiceUpdated(InvoiceFacts):
    """A draft changed: `change` says how (line_added, line_updated, line_removed, notes_changed,
    refreshed), `line_id` which line; the totals are the draft's after it."""

    change: str
    line_id: uuid.UUID | None = None
    line_count: int


@contract("billing", "invoice.discarded")
class InvoiceDiscarded(InvoiceFacts):
    """A draft was discarded; its entries may go on another invoice."""


@contract("billing", "invoice.issued")
class InvoiceIssued(InvoiceFacts):
    """A draft was issued: it has its number (gapless per tenant), issue and due dates, and its
    `entry_count` entries are locked for good. `pdf_sha256` names the stored PDF."""

    entry_count: int
    billed_minutes: int
    pdf_sha256: str | None = None


@contract("billing", "invoice.payment_recorded")
class InvoicePaymentRecorded(InvoiceFacts):
    """A payment of `amount` on `paid_on` was recorded; `amount_paid` and `balance_due` are after it."""

    payment_id: uuid.UUID
    amount: int
    paid_on: date
    method: str = ""
    reference: str = ""


@contract("billing", "invoice.paid")
class InvoicePaid(InvoiceFacts):
    """The balance due reached 0 (by payments and credit notes): the invoice is paid."""

    paid_at: AwareDatetime


@contract("billing", "invoice.voided")
class InvoiceVoided(InvoiceFacts):
    """An issued invoice without payments was voided (its number stays used); its
    `released_entry_count` entries may go on a new invoice."""

    reason: str
    released_entry_count: int


@contract("billing", "invoice.credit_note_issued")
class InvoiceCreditNoteIssued(InvoiceFacts):
    """A credit note of `amount` (gross) was issued against the invoice; `amount_credited` and
    `balance_due` are after it."""

    credit_note_id: uuid.UUID
    credit_note_number: str
    amount: int
    reason: str


@contract("billing", "invoice.overdue")
class InvoiceOverdue(InvoiceFacts):
    """An issued invoice passed its due date with `balance_due` still open (told once per invoice)."""

    days_overdue: int


@contract("billing", "rate.created")
class RateCreated(EventData):
    """An hourly rate (minor units per hour) from `effective_from` on, for the entries matching every
    dimension it names (none: the tenant's default). See billing.rates for the precedence."""

    rate_id: uuid.UUID
    hourly_amount: int
    currency: str
    effective_from: date
    category: str | None = None
    project_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None


@contract("billing", "billing_profile.updated")
class BillingProfileUpdated(EventData):
    """The tenant's invoicing profile changed (`changes`: old and new of each changed setting)."""

    changes: dict[str, FieldChange]


@contract("billing", "customer.billing_updated")
class CustomerBillingUpdated(EventData):
    """A customer's billing settings (currency, tax, terms) changed; `changes` old and new of each."""

    customer_id: uuid.UUID
    currency: str
    tax_name: str
    tax_rate_ppm: int
    reverse_charge: bool
    changes: dict[str, FieldChange]


@contract("billing", "fixed_fee.created")
class FixedFeeCreated(EventData):
    """A project is billed a fixed fee (its hours go on invoices at 0) on or after `bill_on`."""

    fixed_fee_id: uuid.UUID
    customer_id: uuid.UUID
    project_id: uuid.UUID
    amount: int
    currency: str
    bill_on: date
    description: str


@contract("billing", "retainer.created")
class RetainerCreated(EventData):
    """A monthly retainer: `monthly_fee` with `included_minutes`, overage at `overage_hourly` (null:
    the normal rates), for the customer (or one project) from `starts_on`."""

    retainer_id: uuid.UUID
    customer_id: uuid.UUID
    project_id: uuid.UUID | None = None
    currency: str
    monthly_fee: int
    included_minutes: int
    overage_hourly: int | None = None
    starts_on: date
    ends_on: date | None = None


@contract("billing", "project.budget_set")
class ProjectBudgetSet(EventData):
    """A project's budget: `kind` hours (`amount` in minutes) or money (minor units of `currency`)."""

    project_id: uuid.UUID
    customer_id: uuid.UUID | None = None
    kind: Literal["hours", "money"]
    amount: int
    currency: str | None = None


@contract("billing", "project.budget_threshold")
class ProjectBudgetThreshold(EventData):
    """A project's use of its budget reached `threshold` percent (80, then 100), told once each:
    `used` of `amount` (minutes, or minor units of `currency`)."""

    project_id: uuid.UUID
    customer_id: uuid.UUID | None = None
    kind: Literal["hours", "money"]
    amount: int
    used: int
    threshold: int
    currency: str | None = None
