"""Invoice maths: entries priced into lines, taxes, discounts, totals, retainers, budgets. Pure.

Decisions:
- **Units.** Amounts are integer minor units of the invoice's one currency (`billing.money`);
  quantities of time are integer minutes; rates are minor units per hour.
- **A time line's amount** is `minutes x hourly rate / 60` rounded half up *once per line*, on the
  line's summed (rounded, `billing.rounding`) minutes — not summed from per-entry amounts. Entries
  priced at different rates never share a line.
- **Tax** is the customer's: a name, a rate in parts per million (20 % = 200_000; 8.875 % =
  88_750: exact for every rate in use) and a reverse-charge flag. It is computed **per line**:
  `tax = amount x rate / 1_000_000` rounded half up (half away from zero, so a discount line's
  negative tax mirrors a charge's), and the invoice's tax is the sum of its lines' taxes. (Tax on the
  subtotal can differ from that by at most half a minor unit per line; per line is what lets every
  printed line add up.) Reverse charge: every line's tax is 0 and the invoice says so.
- **Total** = sum of line amounts + sum of line taxes. Balance due = total - payments - credits.
- **Discounts** are negative lines: a fixed amount, or a percentage (basis points) of the
  non-discount lines' amounts, recomputed whenever lines change. Expenses are positive lines with
  a quantity and a unit amount.
- **Retainers**: a monthly fee with included minutes, per customer (optionally one project). A
  draft bills each calendar month of its period once (the fee line) and lets that month's entries in
  scope use up the included minutes in work-date order (priced 0, "included"); what is left after
  is overage, at the retainer's overage rate or else the entry's normal rate. An entry that crosses
  the line is split in two pieces; its raw minutes are split alongside by largest remainder, so no
  minute is lost.
- **Fixed-fee projects**: the fee is a line of its own (billed once, on or after its `bill_on`
  date); the project's entries go on the invoice at 0 ("covered by the fixed fee") so they are
  shown and locked, never billed by the hour.
- **Budgets** (hours or money per project): used, remaining, percent, and the thresholds (80, 100)
  reached; each threshold is told once (`thresholds_to_raise`).
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from billing.money import HALF_UP, Rounding, allocate, divide
from billing.rates import RateBook
from billing.rounding import NO_ROUNDING, RoundingRule, rounded_minutes

PPM = 1_000_000
BASIS_POINTS = 10_000
Grouping = Literal["project", "project_category", "project_member", "project_task"]
GROUPINGS: tuple[Grouping, ...] = ("project", "project_category", "project_member", "project_task")
BUDGET_THRESHOLDS = (80, 100)


@dataclass(frozen=True)
class Tax:
    name: str = ""
    rate_ppm: int = 0
    reverse_charge: bool = False

    def __post_init__(self):
        if not 0 <= self.rate_ppm <= PPM:
            raise ValueError("tax rate must be between 0 and 100 %")

    def on(self, amount: int, rounding: Rounding = HALF_UP) -> int:
        if self.reverse_charge or self.rate_ppm == 0:
            return 0
        return divide(amount * self.rate_ppm, PPM, rounding)


NO_TAX = Tax()


def time_amount(minutes: int, hourly: int) -> int:
    return divide(minutes * hourly, 60)


@dataclass(frozen=True)
class Retainer:
    id: uuid.UUID
    monthly_fee: int
    included_minutes: int
    starts_on: date
    ends_on: date | None = None
    project_id: uuid.UUID | None = None
    overage_hourly: int | None = None  # None: the entry's normal rate
    description: str = "Retainer"

    def covers(self, entry: dict) -> bool:
        return self.project_id is None or entry.get("project_id") == self.project_id

    def active_in(self, month: date) -> bool:
        return self.starts_on <= month_end(month) and (self.ends_on is None or self.ends_on >= month)


@dataclass(frozen=True)
class FixedFee:
    id: uuid.UUID
    project_id: uuid.UUID
    amount: int
    bill_on: date
    description: str = "Fixed fee"


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


def months_between(first: date, last: date) -> list[date]:
    out, m = [], month_start(first)
    while m <= last:
        out.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


@dataclass
class Piece:
    """A part of one entry on one line (an entry is one piece, or two when a retainer's included
    minutes run out inside it)."""

    entry_id: uuid.UUID
    raw_minutes: int
    minutes: int  # rounded
    hourly: int
    kind: str  # time | included | fixed_fee_time | no_rate
    rate_id: uuid.UUID | None = None


@dataclass
class DraftInput:
    currency: str
    period_from: date
    period_to: date
    entries: list[dict]  # id, member_id, work_date, minutes, project_id, task_id, category, customer_id
    rates: RateBook
    rounding: RoundingRule = NO_ROUNDING
    grouping: Grouping = "project"
    retainers: list[Retainer] = field(default_factory=list)
    retainer_used: dict = field(default_factory=dict)  # (retainer id, month) -> minutes already used
    retainer_billed: set = field(default_factory=set)  # (retainer id, month) already invoiced
    fixed_fees: list[FixedFee] = field(default_factory=list)  # unbilled fees of the customer
    fixed_fee_projects: frozenset = frozenset()  # project ids billed by fixed fee
    names: dict = field(default_factory=dict)  # id -> display name (projects, members, tasks)


def _group_key(entry: dict, grouping: Grouping) -> tuple:
    second = {"project": None, "project_category": entry.get("category"),
              "project_member": entry.get("member_id"), "project_task": entry.get("task_id")}[grouping]
    return (entry.get("project_id"), second)


def price_entries(d: DraftInput) -> tuple[list[Piece], list[dict]]:
    """Every entry as priced pieces, and the retainer usage this draft adds
    (`[{retainer_id, month, minutes}]`)."""
    rounded = rounded_minutes(d.entries, d.rounding)
    pieces: list[Piece] = []
    ordered = sorted(d.entries, key=lambda e: (e["work_date"], str(e["id"])))
    left: dict[tuple, int] = {}
    usage: dict[tuple, int] = defaultdict(int)
    for e in ordered:
        minutes, raw = rounded[e["id"]], e["minutes"]
        if e.get("project_id") in d.fixed_fee_projects:
            pieces.append(Piece(e["id"], raw, minutes, 0, "fixed_fee_time"))
            continue
        rate = d.rates.rate_for(e)
        hourly, rate_id = (rate.hourly_amount, rate.id) if rate else (0, None)
        retainer = next((r for r in d.retainers
                         if r.covers(e) and r.active_in(month_start(e["work_date"]))), None)
        if retainer is not None:
            key = (retainer.id, month_start(e["work_date"]))
            if key not in left:
                left[key] = max(0, retainer.included_minutes - d.retainer_used.get(key, 0))
            included = min(left[key], minutes)
            left[key] -= included
            usage[key] += included
            overage = minutes - included
            raw_in, raw_over = allocate(raw, [included, overage])
            if included:
                pieces.append(Piece(e["id"], raw_in, included, 0, "included"))
            if overage:
                if retainer.overage_hourly is not None:
                    pieces.append(Piece(e["id"], raw_over, overage, retainer.overage_hourly, "time"))
                else:
                    pieces.append(Piece(e["id"], raw_over, overage, hourly, "time" if rate else "no_rate", rate_id))
            continue
        pieces.append(Piece(e["id"], raw, minutes, hourly, "time" if rate else "no_rate", rate_id))
    return pieces, [{"retainer_id": r, "month": m, "minutes": n} for (r, m), n in usage.items()]


def _describe(key: tuple, kind: str, grouping: Grouping, names: dict) -> str:
    project, second = key
    parts = [names.get(project, f"Project {str(project)[:8]}") if project else "No project"]
    if second is not None:
        parts.append(names.get(second, str(second)))
    suffix = {"included": " (included in retainer)", "fixed_fee_time": " (covered by the fixed fee)",
              "no_rate": " (no rate)"}.get(kind, "")
    return " / ".join(parts) + suffix


def agreement_lines(d: DraftInput) -> list[dict]:
    """The fee lines of a draft: its unbilled fixed fees due by the period's end, then each month's
    retainer fee not billed yet."""
    lines = []
    for fee in sorted(d.fixed_fees, key=lambda f: (f.bill_on, str(f.id))):
        if fee.bill_on <= d.period_to:
            lines.append(_line("fixed_fee", fee.description, amount=fee.amount, quantity=1, unit_price=fee.amount,
                               project_id=fee.project_id, fixed_fee_id=fee.id,
                               project_name=d.names.get(fee.project_id)))
    for month in months_between(d.period_from, d.period_to):
        for r in d.retainers:
            if r.active_in(month) and (r.id, month) not in d.retainer_billed:
                lines.append(_line("retainer", f"{r.description} {month:%Y-%m}", amount=r.monthly_fee,
                                   quantity=1, unit_price=r.monthly_fee, project_id=r.project_id,
                                   retainer_id=r.id, retainer_month=month, project_name=d.names.get(r.project_id)))
    return lines


def time_lines(groups: dict[tuple, tuple[int, int]], grouping: Grouping, names: dict) -> list[tuple[tuple, dict]]:
    """The time lines of a draft from its groups `{(group key, kind, hourly, rate id): (rounded
    minutes, raw minutes)}`, in a stable order (by project name, then key, kind, dearest rate first),
    each with its group. The amount is priced once per line on its summed rounded minutes; the
    project's, task's and member's names are frozen on the line (`names`: id -> name)."""
    def order(k):
        (project, second), kind, hourly, _rate = k
        return (names.get(project, "~") if project else "~", str(project), str(second), kind, -hourly)

    out = []
    for gk in sorted(groups, key=order):
        key, kind, hourly, rate_id = gk
        minutes, raw = groups[gk]
        project, second = key
        task = second if grouping == "project_task" else None
        member = second if grouping == "project_member" else None
        out.append((gk, _line("time", _describe(key, kind, grouping, names), amount=time_amount(minutes, hourly),
                              quantity_minutes=minutes, raw_minutes=raw, unit_price=hourly, project_id=project,
                              rate_id=rate_id, time_kind=kind,
                              category=second if grouping == "project_category" else None,
                              member_id=member, task_id=task, project_name=names.get(project) if project else None,
                              task_name=names.get(task) if task else None,
                              member_name=names.get(member) if member else None)))
    return out


def draft_lines(d: DraftInput) -> tuple[list[dict], dict, list[dict]]:
    """The draft's lines (without tax; see `price_lines`), `{entry_id: [(line index, raw, rounded)]}`
    and the retainer usage, entry by entry: the rules' reference. (`billing.draft_store` computes
    the same set-based in SQL for a real draft; a test holds the two equal.) Lines come in a stable
    order: fees first, then time by project."""
    pieces, usage = price_entries(d)
    by_entry = {e["id"]: e for e in d.entries}
    lines = agreement_lines(d)
    groups: dict[tuple, list[Piece]] = defaultdict(list)
    for p in pieces:
        key = _group_key(by_entry[p.entry_id], d.grouping)
        groups[(key, p.kind, p.hourly, p.rate_id)].append(p)
    links: dict = defaultdict(list)
    sums = {gk: (sum(p.minutes for p in ps), sum(p.raw_minutes for p in ps)) for gk, ps in groups.items()}
    for gk, line in time_lines(sums, d.grouping, d.names):
        index = len(lines)
        lines.append(line)
        for p in groups[gk]:
            links[p.entry_id].append((index, p.raw_minutes, p.minutes))
    return lines, dict(links), usage


def _line(kind: str, description: str, *, amount: int, unit_price: int, quantity: int | None = None,
          quantity_minutes: int | None = None, raw_minutes: int | None = None, **extra) -> dict:
    return {"kind": kind, "description": description, "quantity": quantity, "quantity_minutes": quantity_minutes,
            "raw_minutes": raw_minutes, "unit_price": unit_price, "amount": amount, "taxable": True,
            "discount_bp": None, **extra}


def line_amount(line: dict) -> int:
    """A line's net amount from its quantity and unit price (time: per hour of minutes)."""
    if line["kind"] == "time":
        return time_amount(line["quantity_minutes"], line["unit_price"])
    if line["kind"] == "discount" and line.get("discount_bp") is not None:
        return line["amount"]  # set by `price_lines` from the other lines
    return line["quantity"] * line["unit_price"]


def price_lines(lines: list[dict], tax: Tax, rounding: Rounding = HALF_UP) -> list[dict]:
    """Lines with `amount` recomputed (percentage discounts from the other lines' amounts) and their
    `tax`. Fixed discounts keep their (negative) amount."""
    priced = []
    for line in lines:
        amount = line["amount"] if line["kind"] == "discount" else line_amount(line)
        priced.append({**line, "amount": amount})
    base = sum(p["amount"] for p in priced if p["kind"] != "discount")
    for p in priced:
        if p["kind"] == "discount" and p.get("discount_bp") is not None:
            p["amount"] = -divide(base * p["discount_bp"], BASIS_POINTS, rounding)
        p["tax"] = tax.on(p["amount"], rounding) if p.get("taxable", True) else 0
    return priced


def totals(priced: list[dict], paid: int = 0, credited: int = 0) -> dict:
    subtotal = sum(p["amount"] for p in priced)
    tax = sum(p["tax"] for p in priced)
    total = subtotal + tax
    return {"subtotal": subtotal, "tax_total": tax, "total": total, "amount_paid": paid,
            "amount_credited": credited, "balance_due": total - paid - credited}


# --- budgets ---

@dataclass(frozen=True)
class Budget:
    kind: Literal["hours", "money"]
    amount: int  # minutes for an hours budget, minor units for a money budget


def budget_status(budget: Budget, used: int) -> dict:
    percent = divide(used * 100, budget.amount, "half_even") if budget.amount else 0
    return {"kind": budget.kind, "amount": budget.amount, "used": used, "remaining": budget.amount - used,
            "percent_used": percent,
            "thresholds_reached": [t for t in BUDGET_THRESHOLDS if used * 100 >= t * budget.amount]}


def thresholds_to_raise(budget: Budget, used: int, raised: list[int]) -> list[int]:
    """The thresholds reached now and never told before (each is told once)."""
    return [t for t in budget_status(budget, used)["thresholds_reached"] if t not in raised]
