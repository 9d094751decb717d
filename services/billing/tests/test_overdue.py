"""The overdue rule, pure: "today" is the tenant's calendar day, not UTC's (issue 10)."""
from datetime import date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from billing.invoices import is_overdue, tenant_today

DUE = date(2026, 3, 23)


def _issued(balance=120_00, due=DUE):
    return {"status": "issued", "due_date": due, "total": balance, "amount_paid": 0, "amount_credited": 0}


def test_near_midnight_utc_the_tenants_day_decides():
    late_on_the_23rd = datetime(2026, 3, 23, 23, 30, tzinfo=timezone.utc)  # 12:30 on the 24th in Auckland
    assert tenant_today(late_on_the_23rd, "Pacific/Auckland") == date(2026, 3, 24)
    assert is_overdue(_issued(), tenant_today(late_on_the_23rd, "Pacific/Auckland"))
    assert not is_overdue(_issued(), tenant_today(late_on_the_23rd, "UTC"))
    early_on_the_24th = datetime(2026, 3, 24, 3, 0, tzinfo=timezone.utc)  # 20:00 on the 23rd in Los Angeles
    assert tenant_today(early_on_the_24th, "America/Los_Angeles") == DUE
    assert not is_overdue(_issued(), tenant_today(early_on_the_24th, "America/Los_Angeles"))
    assert is_overdue(_issued(), tenant_today(early_on_the_24th, "UTC"))


def test_an_unknown_or_invalid_zone_counts_in_utc():
    now = datetime(2026, 3, 23, 23, 30, tzinfo=timezone.utc)
    assert tenant_today(now, None) == tenant_today(now, "Not/AZone") == DUE


def test_only_an_issued_invoice_with_a_balance_is_overdue():
    day = DUE + timedelta(days=1)
    assert not is_overdue({**_issued(), "status": "paid"}, day)
    assert not is_overdue({**_issued(), "amount_paid": 120_00}, day)
    assert not is_overdue(_issued(), DUE)  # due that day: not yet


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)),
       st.sampled_from(["UTC", "Pacific/Auckland", "Pacific/Kiritimati", "America/Los_Angeles", "Pacific/Pago_Pago",
                        "Asia/Kolkata"]))
def test_the_tenants_day_is_within_a_day_of_utcs(now, zone):
    # the sweep's candidates (due before UTC's tomorrow) hold every invoice overdue in any zone
    assert abs((tenant_today(now, zone) - now.date()).days) <= 1
