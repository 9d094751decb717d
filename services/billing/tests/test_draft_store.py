"""The set-based draft (`billing.draft_store`, SQL in the real PostgreSQL) makes exactly the lines,
links and retainer usage of the entry-by-entry reference (`invoice_maths.draft_lines`), for random
entries under every rounding rule and grouping, rates changing mid-period, a fixed-fee project and
retainers (included minutes running out inside an entry) (issue 10).

Each example writes its entries in a transaction that is rolled back."""
import uuid
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from billing import draft_store
from billing import invoice_maths as im
from billing.invoice_models import invoice_entries
from billing.models import time_entries
from billing.rates import Rate, RateBook
from billing.rounding import INCREMENTS, RoundingRule
from custops import db

D0 = date(2026, 3, 1)
MEMBERS = [uuid.UUID(int=i + 1) for i in range(3)]
PROJECTS = [uuid.UUID(int=100 + i) for i in range(3)] + [None]
TASKS = [uuid.UUID(int=200 + i) for i in range(2)] + [None]
CATEGORIES = ["dev", "support", None]

entry = st.fixed_dictionaries({"member": st.sampled_from(MEMBERS), "project": st.sampled_from(PROJECTS),
                               "task": st.sampled_from(TASKS), "category": st.sampled_from(CATEGORIES),
                               # a few days (ties of a member-day, a month's end) and small or equal minutes
                               "day": st.sampled_from([0, 1, 2, 30, 31]),
                               "minutes": st.one_of(st.sampled_from([1, 2, 5, 7]), st.integers(1, 600))})


@st.composite
def drafts(draw):
    entries = draw(st.lists(entry, min_size=1, max_size=40))
    rates = [Rate(uuid.uuid4(), draw(st.integers(0, 300_00)), "EUR", D0 - timedelta(days=30))]
    for _ in range(draw(st.integers(0, 4))):
        since = D0 + timedelta(days=draw(st.integers(0, 40)))
        rates.append(Rate(uuid.uuid4(), draw(st.integers(1, 300_00)), "EUR", since,
                          category=draw(st.sampled_from(CATEGORIES)), project_id=draw(st.sampled_from(PROJECTS)),
                          member_id=draw(st.sampled_from(MEMBERS + [None]))))
    retainers = [im.Retainer(uuid.UUID(int=300 + i), 500_00, draw(st.sampled_from([0, 1, 3, 20, 900])), D0,
                             project_id=draw(st.sampled_from(PROJECTS)),
                             overage_hourly=draw(st.sampled_from([None, 80_00])))
                 for i in range(draw(st.integers(0, 2)))]
    used = {(r.id, D0): draw(st.sampled_from([0, 1, 300])) for r in retainers}
    fixed = frozenset({PROJECTS[2]}) if draw(st.booleans()) else frozenset()
    return {"entries": entries, "rates": rates, "retainers": retainers, "used": used, "fixed": fixed,
            "rounding": RoundingRule(draw(st.sampled_from(INCREMENTS)), draw(st.sampled_from(["entry", "day"]))),
            "grouping": draw(st.sampled_from(im.GROUPINGS))}


def _comparable(line: dict) -> tuple:
    keys = ("kind", "description", "quantity_minutes", "raw_minutes", "unit_price", "amount", "project_id",
            "category", "member_id", "task_id", "rate_id", "time_kind", "project_name", "task_name", "member_name")
    return tuple(line.get(k) for k in keys)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drafts())
def test_the_sql_draft_is_the_reference_draft(custops_setup, case):
    _same_as_the_reference(case)


def test_an_entry_split_by_a_retainer_gives_a_tied_raw_minute_to_the_included_part(custops_setup):
    # 1 raw minute rounds up to 6; 3 included minutes are left: 3 included + 3 overage, the raw
    # minute's shares tie (allocate: to the earlier part)
    retainer = im.Retainer(uuid.UUID(int=300), 500_00, 3, D0)
    linked = _same_as_the_reference({
        "entries": [{"member": MEMBERS[0], "project": PROJECTS[0], "task": None, "category": None, "day": 0,
                     "minutes": 1}],
        "rates": [Rate(uuid.uuid4(), 100_00, "EUR", D0)], "retainers": [retainer], "used": {}, "fixed": frozenset(),
        "rounding": RoundingRule(6, "entry"), "grouping": "project"})
    assert sorted((raw, rounded) for _e, _ln, raw, rounded in linked) == [(0, 3), (1, 3)]


def _same_as_the_reference(case) -> list[tuple]:
    tenant, customer = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    rows = [{"id": uuid.uuid4(), "tenant_id": tenant, "member_id": e["member"], "customer_id": customer,
             "project_id": e["project"], "task_id": e["task"], "category": e["category"],
             "work_date": D0 + timedelta(days=e["day"]), "minutes": e["minutes"], "billable": True, "note": "",
             "entered_by_member_id": e["member"], "approved_at": now, "created_at": now} for e in case["entries"]]
    names = {PROJECTS[0]: "Website", PROJECTS[1]: "Migration", TASKS[0]: "Design review", MEMBERS[0]: "Ada"}
    d = im.DraftInput(currency="EUR", period_from=D0, period_to=D0 + timedelta(days=40),
                      entries=[{"id": r["id"], "member_id": r["member_id"], "customer_id": customer,
                                "project_id": r["project_id"], "task_id": r["task_id"], "category": r["category"],
                                "work_date": r["work_date"], "minutes": r["minutes"]} for r in rows],
                      rates=RateBook(case["rates"], "EUR"), rounding=case["rounding"], grouping=case["grouping"],
                      retainers=case["retainers"], retainer_used=case["used"], fixed_fee_projects=case["fixed"],
                      names=names)
    ref_lines, ref_links, ref_usage = im.draft_lines(d)
    with Session(db.engine_for("billing")) as session:
        session.execute(insert(time_entries), rows)
        timed, priced, counted = draft_store.draft_time(session, d, tenant, customer)
        lines = im.agreement_lines(d) + [line for _gk, line in timed]
        line_ids = {gk: uuid.uuid4() for gk, _line in timed}
        invoice = uuid.uuid4()
        draft_store.link(session, tenant, invoice, priced, line_ids)
        linked = session.execute(select(invoice_entries.c.entry_id, invoice_entries.c.line_id,
                                        invoice_entries.c.raw_minutes, invoice_entries.c.rounded_minutes)
                                 .where(invoice_entries.c.invoice_id == invoice)).tuples().all()
        session.rollback()
    assert [_comparable(ln) for ln in lines] == [_comparable(ln) for ln in ref_lines]
    position = {line_ids[gk]: len(lines) - len(timed) + i for i, (gk, _line) in enumerate(timed)}
    assert sorted((e, position[ln], raw, rounded) for e, ln, raw, rounded in linked) == sorted(
        (e, i, raw, rounded) for e, parts in ref_links.items() for i, raw, rounded in parts)
    assert priced.usage == {(u["retainer_id"], u["month"]): u["minutes"] for u in ref_usage if u["minutes"]}
    assert counted == {"entries": len(rows), "raw": sum(r["minutes"] for r in rows),
                       "rounded": sum(rounded for parts in ref_links.values() for _i, _raw, rounded in parts)}
    return linked
