"""Money, rounding, rates and invoice maths: unit and property tests (pure, no I/O)."""
import uuid
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing import invoice_maths as im
from billing.money import (HALF_EVEN, HALF_UP, Money, CurrencyMismatch, UnknownCurrency, allocate, divide,
                           exponent, format_amount, format_money, hours_text, parse_amount)
from billing.rates import Rate, RateBook, rate_for
from billing.rounding import RoundingRule, round_up, rounded_minutes

D0 = date(2026, 3, 2)


# --- money ---

def test_exponents_follow_iso_4217():
    assert (exponent("EUR"), exponent("JPY"), exponent("KWD"), exponent("CLF")) == (2, 0, 3, 4)
    with pytest.raises(UnknownCurrency):
        exponent("XXY")


def test_text_forms_are_exact():
    assert format_amount(1250, "EUR") == "12.50" and parse_amount("12.5", "EUR") == 1250
    assert format_amount(1000, "JPY") == "1000" and parse_amount("1000", "JPY") == 1000
    assert format_amount(1250, "KWD") == "1.250" and format_amount(-5, "EUR") == "-0.05"
    assert format_money(123456789, "USD") == "1,234,567.89 USD"
    with pytest.raises(ValueError):
        parse_amount("1.005", "EUR")
    with pytest.raises(ValueError):
        parse_amount("1e3", "EUR")


def test_money_never_mixes_currencies_nor_takes_floats():
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(TypeError):
        Money(1.5, "EUR")
    assert Money(150, "EUR") - Money(50, "EUR") == Money(100, "EUR")


def test_half_up_and_half_even_differ_on_ties_only():
    assert [divide(n, 2, HALF_UP) for n in (1, 3, -1, -3)] == [1, 2, -1, -2]
    assert [divide(n, 2, HALF_EVEN) for n in (1, 3, -1, -3)] == [0, 2, 0, -2]
    assert divide(7, 3) == 2 and divide(8, 3) == 3


@given(st.integers(-10**12, 10**12), st.integers(1, 10**6), st.sampled_from([HALF_UP, HALF_EVEN]))
def test_divide_is_the_nearest_integer(n, d, rule):
    q = divide(n, d, rule)
    assert abs(Fraction(n, d) - q) <= Fraction(1, 2)


@given(st.integers(-10**9, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=30))
def test_allocate_parts_sum_to_the_whole(amount, weights):
    parts = allocate(amount, weights)
    assert sum(parts) == amount and len(parts) == len(weights)


@given(st.integers(-10**12, 10**12), st.sampled_from(["EUR", "JPY", "KWD", "CLF"]))
def test_format_and_parse_round_trip(amount, currency):
    assert parse_amount(format_amount(amount, currency), currency) == amount


def test_hours_text():
    assert (hours_text(90), hours_text(7), hours_text(7, 4)) == ("1.50", "0.12", "0.1167")


# --- rounding ---

entries_strategy = st.lists(st.fixed_dictionaries({
    "member_id": st.sampled_from(["m1", "m2"]), "day": st.integers(0, 3), "minutes": st.integers(1, 600)}),
    min_size=1, max_size=40)


def _entries(raw):
    return [{"id": i, "member_id": e["member_id"], "work_date": D0 + timedelta(days=e["day"]),
             "minutes": e["minutes"]} for i, e in enumerate(raw)]


@given(entries_strategy, st.sampled_from([1, 6, 15, 30]), st.sampled_from(["entry", "day"]))
def test_rounding_never_loses_a_minute_across_splits(raw, increment, scope):
    entries = _entries(raw)
    rounded = rounded_minutes(entries, RoundingRule(increment, scope))
    assert all(rounded[e["id"]] >= e["minutes"] for e in entries)
    if scope == "entry":
        assert all(rounded[e["id"]] % increment == 0 for e in entries)
    else:  # each member's day rounds up as one sum; its entries' shares add up to it exactly
        days = {}
        for e in entries:
            days.setdefault((e["member_id"], e["work_date"]), []).append(e)
        for day in days.values():
            total = sum(rounded[e["id"]] for e in day)
            assert total == round_up(sum(e["minutes"] for e in day), increment)
    # split the entries over any two invoices: the halves' rounded minutes add up to the whole
    half = {e["id"] for e in entries[::2]}
    assert (sum(v for k, v in rounded.items() if k in half) + sum(v for k, v in rounded.items() if k not in half)
            == sum(rounded.values()))


def test_day_rounding_example():
    entries = _entries([{"member_id": "m1", "day": 0, "minutes": 10}, {"member_id": "m1", "day": 0, "minutes": 10}])
    assert rounded_minutes(entries, RoundingRule(15, "entry")) == {0: 15, 1: 15}
    assert sorted(rounded_minutes(entries, RoundingRule(15, "day")).values()) == [15, 15]
    assert sum(rounded_minutes(_entries([{"member_id": "m1", "day": 0, "minutes": 7}] * 3),
                               RoundingRule(30, "day")).values()) == 30


# --- rates ---

P, C, M = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def _rate(amount, effective=D0, **dims):
    return Rate(id=uuid.uuid4(), hourly_amount=amount, currency="EUR", effective_from=effective, **dims)


def test_rate_precedence_category_project_customer_member():
    rates = [_rate(100), _rate(200, member_id=M), _rate(300, customer_id=C), _rate(400, project_id=P),
             _rate(500, category="design"), _rate(450, project_id=P, member_id=M)]
    entry = {"work_date": D0, "member_id": M, "customer_id": C, "project_id": P, "category": "design"}
    assert rate_for(entry, rates, "EUR").hourly_amount == 500
    assert rate_for({**entry, "category": "dev"}, rates, "EUR").hourly_amount == 450
    assert rate_for({**entry, "category": None, "member_id": uuid.uuid4()}, rates, "EUR").hourly_amount == 400
    assert rate_for({**entry, "project_id": None, "category": None}, rates, "EUR").hourly_amount == 300
    assert rate_for({"work_date": D0, "member_id": M}, rates, "EUR").hourly_amount == 200
    assert rate_for({"work_date": D0}, rates, "EUR").hourly_amount == 100
    assert rate_for({"work_date": D0}, rates, "USD") is None


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(1, 50_000), st.integers(0, 60), st.booleans(), st.booleans()),
                min_size=1, max_size=12),
       st.integers(0, 60), st.integers(1, 50_000))
def test_a_rate_change_applies_from_its_date_on_only(existing, change_day, new_amount):
    rates = [_rate(a, D0 + timedelta(days=d), **({"customer_id": C} if c else {}), **({"member_id": M} if m else {}))
             for a, d, c, m in existing]
    entries = [{"work_date": D0 + timedelta(days=n), "member_id": M, "customer_id": C} for n in range(61)]
    change = _rate(new_amount, D0 + timedelta(days=change_day), customer_id=C, member_id=M)
    before, after = RateBook(rates, "EUR"), RateBook(rates + [change], "EUR")
    for e in entries:
        if e["work_date"] < change.effective_from:
            assert after.rate_for(e) == before.rate_for(e)
        assert after.rate_for(e) == rate_for(e, rates + [change], "EUR")


# --- invoice maths ---

lines_strategy = st.lists(st.one_of(
    st.fixed_dictionaries({"kind": st.just("time"), "quantity_minutes": st.integers(1, 100_000),
                           "unit_price": st.integers(0, 500_00), "taxable": st.booleans()}),
    st.fixed_dictionaries({"kind": st.just("expense"), "quantity": st.integers(1, 100),
                           "unit_price": st.integers(0, 10_000_00), "taxable": st.booleans()}),
    st.fixed_dictionaries({"kind": st.just("discount"), "discount_bp": st.integers(0, 10_000),
                           "taxable": st.just(True)}),
    st.fixed_dictionaries({"kind": st.just("discount"), "amount": st.integers(-100_000, 0),
                           "discount_bp": st.none(), "taxable": st.just(True)})), min_size=1, max_size=25)


@given(lines_strategy, st.integers(0, im.PPM), st.booleans())
def test_lines_sum_to_the_total_and_tax_is_per_line_half_up(lines, rate_ppm, reverse):
    tax = im.Tax("VAT", rate_ppm, reverse)
    lines = [{"amount": 0, "quantity": None, "quantity_minutes": None, **line} for line in lines]
    priced = im.price_lines(lines, tax)
    t = im.totals(priced, paid=100)
    assert t["subtotal"] == sum(p["amount"] for p in priced)
    assert t["total"] == sum(p["amount"] + p["tax"] for p in priced)
    assert t["balance_due"] == t["total"] - 100
    for p in priced:
        exact = Fraction(p["amount"] * rate_ppm, im.PPM)
        if reverse or not p["taxable"]:
            assert p["tax"] == 0
        else:  # nearest, ties away from zero
            assert abs(exact - p["tax"]) <= Fraction(1, 2)
            if abs(exact - p["tax"]) == Fraction(1, 2):
                assert abs(p["tax"]) > abs(exact)
    base = sum(p["amount"] for p in priced if p["kind"] != "discount")
    for p in priced:
        if p["kind"] == "discount" and p.get("discount_bp") is not None:
            assert abs(Fraction(-base * p["discount_bp"], 10_000) - p["amount"]) <= Fraction(1, 2)


def test_tax_example_per_line_not_on_the_sum():
    # three lines of 0.05 at 10 %: per line 0.005 -> 0.01 each (half up) = 0.03; on the sum it would be 0.02
    priced = im.price_lines([{"kind": "expense", "quantity": 1, "unit_price": 5, "amount": 0}] * 3,
                            im.Tax("VAT", 100_000))
    assert [p["tax"] for p in priced] == [1, 1, 1] and im.totals(priced)["total"] == 18


def _draft(entries, rates, **kw):
    return im.DraftInput(currency="EUR", period_from=D0, period_to=D0 + timedelta(days=30), entries=entries,
                         rates=RateBook(rates, "EUR"), **kw)


def _entry(minutes, day=0, project=P, member=M, **kw):
    return {"id": uuid.uuid4(), "member_id": member, "customer_id": C, "project_id": project,
            "work_date": D0 + timedelta(days=day), "minutes": minutes, "category": None, "task_id": None, **kw}


def test_draft_groups_by_project_and_splits_by_rate():
    q = uuid.uuid4()
    entries = [_entry(30), _entry(45, day=1), _entry(60, project=q), _entry(15, day=10)]
    rates = [_rate(100_00), _rate(120_00, D0 + timedelta(days=10))]
    lines, links, _ = im.draft_lines(_draft(entries, rates, names={P: "Alpha", q: "Beta"}))
    assert [(ln["description"], ln["quantity_minutes"], ln["unit_price"], ln["amount"]) for ln in lines] == [
        ("Alpha", 15, 120_00, 30_00), ("Alpha", 75, 100_00, 125_00), ("Beta", 60, 100_00, 100_00)]
    assert sorted(len(v) for v in links.values()) == [1, 1, 1, 1]


def test_draft_rounds_and_keeps_raw_beside_rounded():
    lines, links, _ = im.draft_lines(_draft([_entry(7), _entry(8)], [_rate(60_00)], rounding=RoundingRule(15)))
    [line] = lines
    assert (line["raw_minutes"], line["quantity_minutes"], line["amount"]) == (15, 30, 30_00)


def test_retainer_included_minutes_then_overage_and_the_fee_once_a_month():
    r = im.Retainer(uuid.uuid4(), monthly_fee=1000_00, included_minutes=120, starts_on=D0.replace(day=1),
                    overage_hourly=150_00)
    entries = [_entry(90), _entry(60, day=1), _entry(30, day=2)]
    lines, links, usage = im.draft_lines(_draft(entries, [_rate(100_00)], retainers=[r]))
    kinds = [(ln["kind"], ln.get("time_kind"), ln.get("quantity_minutes"), ln["amount"]) for ln in lines]
    # the period (Mar 2 - Apr 1) touches two months: each month's fee once
    assert kinds == [("retainer", None, None, 1000_00), ("retainer", None, None, 1000_00),
                     ("time", "included", 120, 0), ("time", "time", 60, 150_00)]
    assert usage == [{"retainer_id": r.id, "month": D0.replace(day=1), "minutes": 120}]
    assert sum(raw for parts in links.values() for _i, raw, _r in parts) == 180
    # the same month already billed and used up: no fee, all overage
    lines, _, _ = im.draft_lines(_draft(entries, [_rate(100_00)], retainers=[r],
                                        retainer_used={(r.id, D0.replace(day=1)): 120},
                                        retainer_billed={(r.id, D0.replace(day=1))}))
    assert [(ln["kind"], ln.get("quantity_minutes")) for ln in lines] == [("retainer", None), ("time", 180)]


def test_fixed_fee_project_bills_the_fee_not_the_hours():
    fee = im.FixedFee(uuid.uuid4(), P, 5000_00, D0)
    lines, links, _ = im.draft_lines(_draft([_entry(600)], [_rate(100_00)], fixed_fees=[fee],
                                            fixed_fee_projects=frozenset({P})))
    assert [(ln["kind"], ln["amount"]) for ln in lines] == [("fixed_fee", 5000_00), ("time", 0)]
    assert len(links) == 1


@settings(max_examples=50)
@given(st.lists(st.tuples(st.integers(1, 600), st.integers(0, 27)), min_size=1, max_size=30),
       st.integers(1, 30_000), st.integers(0, 27), st.integers(1, 30_000), st.sampled_from([1, 15]))
def test_a_rate_change_never_alters_an_issued_invoice(raw, old, change_day, new, increment):
    """An issued invoice keeps its priced lines: repricing them (what every edit and reload does)
    after a rate change gives the same amounts, since a line carries its own unit price. A later
    rate prices only what is drafted afterwards, and only the days from its date on."""
    assume(new != old)
    entries = [_entry(m, day=d) for m, d in raw]
    rates = [_rate(old)]
    rounding = RoundingRule(increment)
    issued = im.price_lines(im.draft_lines(_draft(entries, rates, rounding=rounding))[0], im.Tax("VAT", 200_000))
    changed = rates + [_rate(new, D0 + timedelta(days=change_day))]
    assert im.price_lines(issued, im.Tax("VAT", 200_000)) == issued
    assert im.totals(im.price_lines(issued, im.Tax("VAT", 200_000))) == im.totals(issued)
    redrafted = im.price_lines(im.draft_lines(_draft(entries, changed, rounding=rounding))[0], im.Tax("VAT", 200_000))
    before = sum(round_up(m, increment) for m, d in raw if d < change_day)
    after = sum(round_up(m, increment) for m, d in raw if d >= change_day)
    assert sum(ln["quantity_minutes"] for ln in redrafted if ln["unit_price"] == old) == before
    assert sum(ln["quantity_minutes"] for ln in redrafted if ln["unit_price"] == new) == after


def test_budget_thresholds_are_raised_once_each():
    b = im.Budget("hours", 600)
    assert im.budget_status(b, 480)["remaining"] == 120
    assert im.thresholds_to_raise(b, 479, []) == []
    assert im.thresholds_to_raise(b, 480, []) == [80]
    assert im.thresholds_to_raise(b, 700, [80]) == [100]
    assert im.thresholds_to_raise(b, 800, [80, 100]) == []
