"""The heatmap's read model: current activities counted per tenant × local month × account, with a
count per day of the month, in all and by actor kind × visibility (`activity_months.counts`,
migration 0004).

Decisions:
- Why: the tenant heatmap counted every activity of its range (41,000 for 30 days of the benchmark's
  tenant) with a bucket search per row; a row per account and day did not help there (0.7
  activities per account and day: as many rows, 130 ms to read under load). A row per account and
  month holds the whole month: 30 days of 2,000 accounts are 2,000 to 4,000 rows, the unfiltered
  count of each day is kept as such (the filtered ones are summed from their counters), and the
  quiet accounts come from `accounts.last_human_at` (kept beside it), not a probe per account. The
  sums are returned as text (a comma-separated list parses many times faster than an int array).
  Goal p95 <= 200 ms over 1,000,000 activities; see docs/timeline-query-plans.md.
- Kept by triggers on `activities` (migration 0004) in the transaction that inserts a version or
  supersedes one, so every writer keeps it — the event consumers' batches, hand-logged
  interactions, corrections, retractions, a COPY — and an insert skipped as a duplicate
  (`ON CONFLICT DO NOTHING`) counts nothing: an AFTER INSERT trigger fires for inserted rows only.
- Days are the tenant's local days (its timezone when the activity was recorded), not UTC hours: a
  local day is exact in every zone (UTC hours are not for +05:30 or +05:45) and 24 times smaller.
  The price: when the tenant's timezone changes its rows are rebuilt from the log (`rebuild`, in the
  transaction that stores the new timezone, holding the log's writers until it commits — a rare
  change, seconds for a million activities). Weeks and months are sums of days (a new week start
  needs nothing).
- Counters by actor kind (member, contact, system — the system also stands for activities recorded
  before actors) and visibility: the filters a heatmap is asked with most (human only, a
  visibility, the caller's customers, members or contacts only) read the model; any other (types,
  an actor, links, text, dates, retracted ones, system only) counts the log itself (`supports`).
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from timeline import heatmap
from timeline.commands import ActivityFilters

KINDS = ("member", "contact", "system")
DAYS = 31
# block 0 of `counts` counts every activity; block 1 + k counter k = 2 * kind + (0 internal, 1
# customer-visible); day dd of block b is counts[b * 31 + dd] (as in migration 0004)
EVERYTHING = 6


def supports(f: ActivityFilters) -> bool:
    """Whether the heatmap for `f` can be counted from the read model."""
    return not (f.types or f.type_prefix or f.actor_id or f.occurred_from or f.occurred_to or f.links.stored()
                or f.q or f.include_retracted or f.actor_type == "system")


def blocks(f: ActivityFilters) -> list[int]:
    """The blocks of `counts` whose sum counts what `f` asks for (block 0 alone when that is all)."""
    kinds = [f.actor_type] if f.actor_type else (["member", "contact"] if f.human_only else list(KINDS))
    visible = [f.visibility == "customer"] if f.visibility else [False, True]
    if not f.include_internal:
        visible = [v for v in visible if v]
    picked = [1 + 2 * KINDS.index(k) + int(v) for k in kinds for v in visible]
    return [0] if len(picked) == EVERYTHING else picked


def counts_statement(f: ActivityFilters):
    """Per account and month overlapping the range: its blocks (`blocks(f)`), one after the other, as
    text (a comma-separated list is parsed many times faster than an int array); None when `f` can
    count nothing (internal ones for a caller who may not see them). Parameters: tenant,
    first_month, end, and customer_ids when `f` names customers."""
    picked = blocks(f)
    if not picked:
        return None
    slices = " || ".join(f"counts[{b * DAYS + 1}:{(b + 1) * DAYS}]" for b in picked)
    scope = " AND customer_id = ANY(CAST(:customer_ids AS uuid[]))" if _named(f) is not None else ""
    return text(f"""
SELECT customer_id::text, month, array_to_string({slices}, ',')
FROM activity_months
WHERE tenant_id = :tenant AND month >= :first_month AND month < :end{scope}
""")


def _named(f: ActivityFilters):
    if f.customer_ids is not None:
        return [str(c) for c in f.customer_ids]
    return [str(f.customer_id)] if f.customer_id is not None else None


def _per_day(listed: str, n_blocks: int) -> list[int]:
    values = list(map(int, listed.split(",")))
    if n_blocks == 1:
        return values
    return list(map(sum, zip(*(values[i * DAYS:(i + 1) * DAYS] for i in range(n_blocks)))))


def counts(session, tenant_id, f: ActivityFilters, columns: list[date], unit: str,
           week_start: str) -> dict[str, list[int]]:
    """`{customer_id: [count per bucket]}` for the buckets starting at `columns` (as `heatmap.buckets`
    gives them), accounts with nothing counted left out (as `queries.count_by` does)."""
    stmt = counts_statement(f)
    if stmt is None:
        return {}
    n_blocks = len(blocks(f))
    end = heatmap.end_of(columns, unit)
    params = {"tenant": tenant_id, "first_month": columns[0].replace(day=1), "end": end}
    if (named := _named(f)) is not None:
        params["customer_ids"] = named
    index = {c: i for i, c in enumerate(columns)}
    plans: dict[date, list[tuple[int, int, int]]] = {}
    out: dict[str, list[int]] = {}
    for customer_id, month, listed in session.execute(stmt, params):
        per_day = _per_day(listed, n_blocks)
        plan = plans.get(month)
        if plan is None:
            plan = plans[month] = _segments(month, columns[0], end, unit, week_start, index)
        per = out.get(customer_id)
        if unit == "day":  # one run of buckets, one per day: copied (no other row has those days)
            for bucket, lo, hi in plan:
                run = per_day[lo:hi]
                if any(run):
                    if per is None:
                        per = out[customer_id] = [0] * len(columns)
                    per[bucket:bucket + hi - lo] = run
            continue
        for bucket, lo, hi in plan:
            n = sum(per_day[lo:hi])
            if n:
                if per is None:
                    per = out[customer_id] = [0] * len(columns)
                per[bucket] += n
    return out


def _segments(month: date, start: date, end: date, unit: str, week_start: str,
              index: dict[date, int]) -> list[tuple[int, int, int]]:
    """(bucket, first day index, last day index + 1) of the days of `month` within [start, end), one
    run of consecutive days per bucket (for days: one run of them all, from its first bucket)."""
    out: list[tuple[int, int, int]] = []
    day = max(month, start)
    while day.month == month.month and day < end:
        bucket = index[heatmap.bucket_of(day, unit, week_start)]
        lo = day.day - 1
        if out and (out[-1][0] == bucket or unit == "day"):
            out[-1] = (out[-1][0], out[-1][1], lo + 1)
        else:
            out.append((bucket, lo, lo + 1))
        day += timedelta(days=1)
    return out


# holds the log's writers until the rebuild commits (they would count in the old timezone)
HOLD_WRITES = text("LOCK TABLE activities IN SHARE MODE")
REBUILD = text("SELECT activity_months_rebuild(:tenant)")


def rebuild(session, tenant_id) -> None:
    """The tenant's read model again from its log, in the timezone now stored (call in the
    transaction that stored it)."""
    session.execute(HOLD_WRITES)
    session.execute(REBUILD, {"tenant": tenant_id})
