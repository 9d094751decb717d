"""A draft's time, set-based: the invoiceable entries are rounded, summed and linked in SQL, and
only their sums per *cell* come to Python to be priced. The rules are those of
`billing.invoice_maths.draft_lines` (the entry-by-entry reference); a test holds the two equal.

Why cells: a rate depends on an entry's category, project, member and work date (`billing.rates`),
a retainer on its project and month, a line on its project and the tenant's second grouping
dimension. Entries that agree on all of those — a *cell* — are priced alike, so pricing the cells
prices every entry, and a cell's line is every one of its entries' line. A draft of 50,000
entries reads a few hundred cells instead of 50,000 rows (memory flat in the entry count), and
writes its 50,000 invoice-entry links with one INSERT ... SELECT.

Steps, in the caller's transaction:
1. `stage`: the invoiceable entries with their rounded minutes into a temporary table (dropped at
   commit or rollback), so every later step reads the same set even while weeks are approved
   beside it. Per-entry rounding is an SQL expression; per-day rounding spreads each member-day's
   extra minutes by largest remainder with window functions, ties to the lower entry id, exactly
   as `billing.rounding.rounded_minutes`.
2. `cells`: one GROUP BY.
3. Python prices the cells (rates, fixed-fee projects, retainers) and builds the lines
   (`invoice_maths.time_lines`).
4. Retainers only: the included minutes are used up in work-date, entry-id order per retainer and
   month by a running sum (a window), an entry split in two where they run out, its raw minutes
   split by largest remainder (`money.allocate`, ties to the included part).
5. `link`: INSERT INTO invoice_entries ... SELECT from the staged entries and the cells' lines.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, INTEGER, UUID
from sqlalchemy.orm import Session

from billing import invoice_maths as im
from billing.invoice_maths import month_start

STAGED = "pg_temp.draft_entries"
_UUID = UUID(as_uuid=True)

_INVOICEABLE = """
    FROM time_entries t
    WHERE t.tenant_id = :tenant AND t.customer_id = :customer AND t.work_date BETWEEN :period_from AND :period_to
      AND t.billable AND t.approved_at IS NOT NULL AND t.invoice_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM invoice_entries l WHERE l.entry_id = t.id AND l.released_at IS NULL)"""


def _params(tenant_id, customer_id, period_from, period_to) -> dict:
    return {"tenant": tenant_id, "customer": customer_id, "period_from": period_from, "period_to": period_to}


def distinct_ids(session: Session, tenant_id, customer_id, period_from, period_to) -> dict[str, set]:
    """The projects, tasks and members of the invoiceable entries (whose names a draft needs), in
    one scan."""
    projects, tasks, members = session.execute(text(
        "SELECT array_agg(DISTINCT t.project_id) FILTER (WHERE t.project_id IS NOT NULL),"
        " array_agg(DISTINCT t.task_id) FILTER (WHERE t.task_id IS NOT NULL), array_agg(DISTINCT t.member_id)"
        + _INVOICEABLE), _params(tenant_id, customer_id, period_from, period_to)).one()
    return {"project": set(projects or ()), "task": set(tasks or ()), "member": set(members or ())}


def stage(session: Session, tenant_id, customer_id, period_from, period_to, rounding, grouping) -> None:
    """Step 1: the invoiceable entries, rounded, numbered by cell, in a temporary table."""
    inc = rounding.increment_minutes
    if rounding.scope == "day" and inc > 1:
        # the member-day's extra minutes (a hash GROUP BY), spread over its entries by largest
        # remainder: both windows share one sort by member-day, remainder, id
        rounded = f"""
            SELECT x.*, x.raw + x.base + CASE WHEN row_number() OVER (
                     PARTITION BY x.member_id, x.work_date ORDER BY x.rem DESC, x.id)
                     <= x.extra - sum(x.base) OVER (PARTITION BY x.member_id, x.work_date)
                   THEN 1 ELSE 0 END AS rounded
            FROM (SELECT e.*, day.extra, day.extra * e.raw / day.raw AS base, day.extra * e.raw % day.raw AS rem
                  FROM e JOIN (SELECT member_id, work_date, sum(raw)::int AS raw,
                                      ((sum(raw)::int + {inc} - 1) / {inc} * {inc} - sum(raw))::int AS extra
                               FROM e GROUP BY member_id, work_date) day
                    ON day.member_id = e.member_id AND day.work_date = e.work_date) x"""
    else:
        rounded = f"SELECT e.*, (e.raw + {inc} - 1) / {inc} * {inc} AS rounded FROM e"
    task = "t.task_id" if grouping == "project_task" else "NULL::uuid"
    # the sorts of 50,000 staged rows fit in memory (the 4 MB default spills them to disk)
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    session.execute(text(f"DROP TABLE IF EXISTS {STAGED}"))
    session.execute(text("""
        CREATE TEMPORARY TABLE draft_entries (
            id uuid NOT NULL, member_id uuid NOT NULL, project_id uuid, task_id uuid, category text,
            work_date date NOT NULL, raw int NOT NULL, rounded int NOT NULL, cell int NOT NULL,
            included int NOT NULL DEFAULT 0, raw_included int NOT NULL DEFAULT 0
        ) ON COMMIT DROP"""))
    session.execute(text(f"""
        INSERT INTO {STAGED} (id, member_id, project_id, task_id, category, work_date, raw, rounded, cell)
        WITH e AS (SELECT t.id, t.member_id, t.project_id, {task} AS task_id, t.category, t.work_date,
                          t.minutes AS raw {_INVOICEABLE}),
             r AS ({rounded})
        SELECT r.id, r.member_id, r.project_id, r.task_id, r.category, r.work_date, r.raw, r.rounded,
               dense_rank() OVER (ORDER BY r.member_id, r.work_date, r.project_id, r.task_id, r.category)
        FROM r"""), _params(tenant_id, customer_id, period_from, period_to))


def cells(session: Session) -> list[dict]:
    """Step 2: the staged entries summed per cell."""
    return [dict(r) for r in session.execute(text(f"""
        SELECT cell, project_id, task_id, category, member_id, work_date, count(*) AS entries,
               sum(raw)::int AS raw, sum(rounded)::int AS rounded
        FROM {STAGED} GROUP BY cell, project_id, task_id, category, member_id, work_date""")).mappings()]


@dataclass
class Priced:
    """The lines' groups of a draft's cells: `groups` `{group: [rounded, raw]}`, `main[cell]` the
    group of a cell's (overage) minutes, `included[cell]` that of its retainer-included ones."""

    groups: dict = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    main: dict = field(default_factory=dict)
    included: dict = field(default_factory=dict)
    usage: dict = field(default_factory=dict)  # (retainer id, month) -> included minutes used


def _group_key(cell: dict, grouping) -> tuple:
    second = {"project": None, "project_category": cell["category"], "project_member": cell["member_id"],
              "project_task": cell["task_id"]}[grouping]
    return (cell["project_id"], second)


def price(session: Session, d: im.DraftInput, customer_id, found: list[dict]) -> Priced:
    """Steps 3 and 4: each cell priced as `invoice_maths.price_entries` prices its entries."""
    out = Priced()
    under_retainer = []  # (cell, retainer, its (id, month) key, normal hourly, rate id)
    for c in found:
        key = _group_key(c, d.grouping)
        if c["project_id"] in d.fixed_fee_projects:
            gk = (key, "fixed_fee_time", 0, None)
        else:
            rate = d.rates.rate_for({**c, "customer_id": customer_id})
            hourly, rate_id = (rate.hourly_amount, rate.id) if rate else (0, None)
            month = month_start(c["work_date"])
            retainer = next((r for r in d.retainers if r.covers(c) and r.active_in(month)), None)
            gk = (key, "time" if rate else "no_rate", hourly, rate_id)
            if retainer is not None:
                under_retainer.append((c, retainer, (retainer.id, month), gk))
                continue
        out.main[c["cell"]] = gk
        out.groups[gk][0] += c["rounded"]
        out.groups[gk][1] += c["raw"]
    if under_retainer:
        _use_retainers(session, d, under_retainer, out)
    return out


def _use_retainers(session: Session, d: im.DraftInput, under: list[tuple], out: Priced) -> None:
    keys = sorted({k for _c, _r, k, _gk in under}, key=str)
    left = {k: max(0, next(r for _c, r, kk, _g in under if kk == k).included_minutes - d.retainer_used.get(k, 0))
            for k in keys}
    index = {k: i for i, k in enumerate(keys)}
    cell_ids = [c["cell"] for c, _r, _k, _gk in under]
    session.execute(text(f"""
        UPDATE {STAGED} d
        SET included = s.included,
            raw_included = d.raw * s.included / d.rounded
              + CASE WHEN d.raw * s.included % d.rounded >= d.raw * (d.rounded - s.included) % d.rounded
                      AND d.raw * s.included / d.rounded + d.raw * (d.rounded - s.included) / d.rounded < d.raw
                     THEN 1 ELSE 0 END
        FROM (SELECT de.id, LEAST(GREATEST(m.left_minutes - (sum(de.rounded) OVER (
                       PARTITION BY m.retainer ORDER BY de.work_date, de.id) - de.rounded), 0), de.rounded) AS included
              FROM {STAGED} de JOIN unnest(:cells, :retainers, :lefts) AS m(cell, retainer, left_minutes)
                ON m.cell = de.cell) s
        WHERE d.id = s.id""").bindparams(*_int_arrays("cells", "retainers", "lefts")),
        {"cells": cell_ids, "retainers": [index[k] for _c, _r, k, _gk in under],
         "lefts": [left[k] for _c, _r, k, _gk in under]})
    split = {r["cell"]: r for r in session.execute(text(f"""
        SELECT cell, sum(included)::int AS included, sum(raw_included)::int AS raw_included,
               sum(rounded - included)::int AS overage, sum(raw - raw_included)::int AS raw_overage
        FROM {STAGED} WHERE cell = ANY(:cells) GROUP BY cell""").bindparams(*_int_arrays("cells")),
        {"cells": cell_ids}).mappings()}
    for c, retainer, k, gk in under:
        s = split[c["cell"]]
        key = gk[0]
        if s["included"]:
            inc = (key, "included", 0, None)
            out.included[c["cell"]] = inc
            out.groups[inc][0] += s["included"]
            out.groups[inc][1] += s["raw_included"]
            out.usage[k] = out.usage.get(k, 0) + s["included"]
        if s["overage"]:
            over = (key, "time", retainer.overage_hourly, None) if retainer.overage_hourly is not None else gk
            out.main[c["cell"]] = over
            out.groups[over][0] += s["overage"]
            out.groups[over][1] += s["raw_overage"]


def _int_arrays(*names):
    return [bindparam(n, type_=ARRAY(INTEGER)) for n in names]


def link(session: Session, tenant_id, invoice_id, priced: Priced, line_ids: dict) -> int:
    """Step 5: the invoice-entry links, one INSERT ... SELECT (`line_ids`: group -> line id)."""
    main = [(cell, line_ids[gk]) for cell, gk in priced.main.items()]
    included = [(cell, line_ids[gk]) for cell, gk in priced.included.items()]
    result = session.execute(text(f"""
        INSERT INTO invoice_entries (tenant_id, invoice_id, line_id, entry_id, raw_minutes, rounded_minutes)
        SELECT :tenant, :invoice, m.line_id, d.id, d.raw - d.raw_included, d.rounded - d.included
        FROM {STAGED} d JOIN unnest(:main_cells, :main_lines) AS m(cell, line_id) ON m.cell = d.cell
        WHERE d.rounded > d.included
        UNION ALL
        SELECT :tenant, :invoice, m.line_id, d.id, d.raw_included, d.included
        FROM {STAGED} d JOIN unnest(:in_cells, :in_lines) AS m(cell, line_id) ON m.cell = d.cell
        WHERE d.included > 0""").bindparams(
        *_int_arrays("main_cells", "in_cells"), bindparam("main_lines", type_=ARRAY(_UUID)),
        bindparam("in_lines", type_=ARRAY(_UUID)), bindparam("tenant", type_=_UUID), bindparam("invoice", type_=_UUID)),
        {"tenant": tenant_id, "invoice": invoice_id, "main_cells": [c for c, _ in main],
         "main_lines": [ln for _, ln in main], "in_cells": [c for c, _ in included],
         "in_lines": [ln for _, ln in included]})
    return result.rowcount


def draft_time(session: Session, d: im.DraftInput, tenant_id, customer_id) -> tuple[list[tuple], Priced, dict]:
    """Steps 1-4: the time lines (group, line) of the draft, how its cells map to them, and the
    entries' totals (`entries`, `raw`, `rounded`)."""
    stage(session, tenant_id, customer_id, d.period_from, d.period_to, d.rounding, d.grouping)
    found = cells(session)
    priced = price(session, d, customer_id, found)
    lines = im.time_lines({gk: tuple(v) for gk, v in priced.groups.items() if v[0] or v[1]}, d.grouping, d.names)
    totals = {"entries": sum(c["entries"] for c in found), "raw": sum(c["raw"] for c in found),
              "rounded": sum(c["rounded"] for c in found)}
    return lines, priced, totals
