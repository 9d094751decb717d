"""Worked SLA examples whose expected instants were computed by hand (the comments show how).

Offsets used: Berlin CET = UTC+1, CEST = UTC+2 (2026: CEST from Sun 29 Mar 02:00 -> 03:00,
back to CET on Sun 25 Oct 03:00 -> 02:00); New York EST = UTC-5, EDT = UTC-4 (2026: EDT from
Sun 8 Mar 02:00 -> 03:00, back to EST on Sun 1 Nov 02:00 -> 01:00).
"""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tickets.business_hours import (
    Calendar,
    add_business_minutes,
    business_minutes_between,
    local_day_bounds,
)
from tickets.holiday_sources import parse_ics_holidays
from tickets.sla import PauseRules, compute_timer, pause_intervals, select_policy, starter_policies

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN_LUNCH = Calendar.workweek("Europe/Berlin", ["09:00-12:30", "13:30-18:00"])
NY_9_TO_5 = Calendar.workweek("America/New_York", ["09:00-17:00"])


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_lunch_break_splits_the_day():
    # Tue 2 Jun 2026 11:00 CEST + 240 min: 11:00-12:30 uses 90, lunch 12:30-13:30 is closed,
    # the other 150 run from 13:30 -> 16:00 CEST = 14:00 UTC.
    start = datetime(2026, 6, 2, 11, 0, tzinfo=BERLIN)
    assert add_business_minutes(BERLIN_LUNCH, start, 240) == utc(2026, 6, 2, 14, 0)
    assert business_minutes_between(BERLIN_LUNCH, start, utc(2026, 6, 2, 14, 0)) == 240


def test_enterprise_first_response_across_lunch_with_its_warning():
    # Starter policy enterprise/normal: first response 60 min. Thu 4 Jun 2026 12:10 CEST:
    # 20 min until 12:30, then 40 after 13:30 -> 14:10 CEST = 12:10 UTC.
    # Warning at 80 % = 48 min: 20 before lunch + 28 after -> 13:58 CEST = 11:58 UTC.
    policy = select_policy(starter_policies(), "enterprise", "normal")
    assert policy.targets.first_response == 60
    start = datetime(2026, 6, 4, 12, 10, tzinfo=BERLIN)
    state = compute_timer(BERLIN_LUNCH, start, policy.targets.first_response, now=utc(2026, 6, 4, 12, 0))
    assert state.deadline == utc(2026, 6, 4, 12, 10)
    assert state.warning_at == utc(2026, 6, 4, 11, 58)
    assert state.state == "warning"  # 12:00 UTC = 14:00 CEST, after the warning, before the deadline


def test_berlin_spring_forward_over_the_weekend():
    # Fri 27 Mar 2026 17:00 CET (16:00 UTC) + 120 min: 60 until 18:00, weekend closed, clocks go
    # forward on Sunday; Mon 30 Mar 09:00 CEST (07:00 UTC) + 60 -> 10:00 CEST = 08:00 UTC.
    # (Keeping Friday's +1 offset would wrongly give 09:00 UTC.)
    start = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)
    assert start == utc(2026, 3, 27, 16, 0)
    assert add_business_minutes(BERLIN_LUNCH, start, 120) == utc(2026, 3, 30, 8, 0)


def test_berlin_fall_back_over_the_weekend():
    # Fri 23 Oct 2026 17:00 CEST (15:00 UTC) + 120 min: 60 until 18:00; clocks go back on Sunday;
    # Mon 26 Oct 09:00 CET (08:00 UTC) + 60 -> 10:00 CET = 09:00 UTC.
    start = datetime(2026, 10, 23, 17, 0, tzinfo=BERLIN)
    assert add_business_minutes(BERLIN_LUNCH, start, 120) == utc(2026, 10, 26, 9, 0)


def test_new_york_spring_forward_over_the_weekend():
    # Fri 6 Mar 2026 16:30 EST (21:30 UTC) + 60 min: 30 until 17:00; Mon 9 Mar 09:00 EDT
    # (13:00 UTC) + 30 -> 13:30 UTC.
    start = datetime(2026, 3, 6, 16, 30, tzinfo=NEW_YORK)
    assert start == utc(2026, 3, 6, 21, 30)
    assert add_business_minutes(NY_9_TO_5, start, 60) == utc(2026, 3, 9, 13, 30)


def test_new_york_fall_back_over_the_weekend():
    # Fri 30 Oct 2026 16:00 EDT (20:00 UTC) + 120 min: 60 until 17:00; Mon 2 Nov 09:00 EST
    # (14:00 UTC) + 60 -> 15:00 UTC.
    start = datetime(2026, 10, 30, 16, 0, tzinfo=NEW_YORK)
    assert add_business_minutes(NY_9_TO_5, start, 120) == utc(2026, 11, 2, 15, 0)


def test_night_shift_through_both_berlin_dst_nights():
    # Slots Sat 22:00-24:00 and Sun 00:00-06:00 (nominally 8 h).
    # Spring night: Sat 28 Mar 22:00 CET = 21:00 UTC to Sun 29 Mar 06:00 CEST = 04:00 UTC: 7 h = 420 min.
    # Autumn night: Sat 24 Oct 22:00 CEST = 20:00 UTC to Sun 25 Oct 06:00 CET = 05:00 UTC: 9 h = 540 min.
    night = Calendar("Europe/Berlin", {"sat": ["22:00-24:00"], "sun": ["00:00-06:00"]})
    spring_open = datetime(2026, 3, 28, 22, 0, tzinfo=BERLIN)
    assert business_minutes_between(night, spring_open, utc(2026, 3, 29, 12, 0)) == 420
    assert add_business_minutes(night, spring_open, 420) == utc(2026, 3, 29, 4, 0)
    autumn_open = datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN)
    assert business_minutes_between(night, autumn_open, utc(2026, 10, 25, 12, 0)) == 540
    # 300 min from 20:00 UTC -> 01:00 UTC = 02:00 CET, i.e. after the repeated hour has been worked twice
    assert add_business_minutes(night, autumn_open, 300) == utc(2026, 10, 25, 1, 0)


def test_new_york_repeated_hour_and_skipped_hour():
    # Sun 1 Nov 2026, slot 00:00-03:00: 00:00 EDT = 04:00 UTC to 03:00 EST = 08:00 UTC: 240 min.
    # +90 min -> 05:30 UTC = 01:30 EDT (first 01:30); +150 -> 06:30 UTC = 01:30 EST (the second).
    sunday_night = Calendar("America/New_York", {"sun": ["00:00-03:00"]})
    opens = datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK)
    assert business_minutes_between(sunday_night, opens, utc(2026, 11, 1, 12, 0)) == 240
    assert add_business_minutes(sunday_night, opens, 90) == utc(2026, 11, 1, 5, 30)
    assert add_business_minutes(sunday_night, opens, 150) == utc(2026, 11, 1, 6, 30)
    # Sun 8 Mar 2026, slot 02:30-04:00: 02:30 never shows (02:00 EST jumps to 03:00 EDT), so the
    # slot opens at the jump, 03:00 EDT = 07:00 UTC, and closes 04:00 EDT = 08:00 UTC: 60 min.
    early = Calendar("America/New_York", {"sun": ["02:30-04:00"]})
    day_start, day_end = local_day_bounds(early, date(2026, 3, 8))
    assert business_minutes_between(early, day_start, day_end) == 60
    assert add_business_minutes(early, day_start, 1) == utc(2026, 3, 8, 7, 1)


def test_ticket_created_outside_business_hours():
    # Fri 15 May 2026 20:00 EDT (Sat 00:00 UTC), closed until Mon 18 May 09:00 EDT (13:00 UTC);
    # + 60 -> 10:00 EDT = 14:00 UTC. Nothing counts over the weekend.
    start = datetime(2026, 5, 15, 20, 0, tzinfo=NEW_YORK)
    assert add_business_minutes(NY_9_TO_5, start, 60) == utc(2026, 5, 18, 14, 0)
    assert business_minutes_between(NY_9_TO_5, start, utc(2026, 5, 18, 13, 0)) == 0


def test_slot_ending_at_midnight():
    # Evening desk 18:00-24:00 daily. Mon 1 Jun 2026 23:30 CEST (21:30 UTC) + 60: 30 until
    # midnight (22:00 UTC); Tue 18:00 CEST (16:00 UTC) + 30 -> 16:30 UTC.
    evening = Calendar("Europe/Berlin", {d: ["18:00-24:00"] for d in range(7)})
    start = datetime(2026, 6, 1, 23, 30, tzinfo=BERLIN)
    assert add_business_minutes(evening, start, 30) == utc(2026, 6, 1, 22, 0)  # exactly at the slot end
    assert add_business_minutes(evening, start, 60) == utc(2026, 6, 2, 16, 30)
    # Mon 20:00-24:00 followed by Tue 00:00-02:00 is one stretch: Mon 23:30 + 60 -> Tue 00:30 CEST
    # = Mon 22:30 UTC.
    straddling = Calendar("Europe/Berlin", {"mon": ["20:00-24:00"], "tue": ["00:00-02:00"]})
    assert add_business_minutes(straddling, start, 60) == utc(2026, 6, 1, 22, 30)


def test_holidays_imported_from_icalendar():
    # Holidays 24-26 Dec 2026 (DTEND 27 Dec is exclusive). Wed 23 Dec 16:00 CET (15:00 UTC) + 120
    # on 09:00-17:00: 60 until 17:00; Thu 24 and Fri 25 holidays, weekend; Mon 28 Dec 09:00 CET
    # (08:00 UTC) + 60 -> 09:00 UTC.
    ics = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261224\r\n"
           "DTEND;VALUE=DATE:20261227\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    holidays = parse_ics_holidays(ics, today=date(2026, 11, 1)).dates
    assert holidays == {date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)}
    cal = Calendar.workweek("Europe/Berlin", ["09:00-17:00"], holidays=holidays)
    start = datetime(2026, 12, 23, 16, 0, tzinfo=BERLIN)
    assert add_business_minutes(cal, start, 120) == utc(2026, 12, 28, 9, 0)


def test_waiting_on_customer_moves_the_deadline_and_pending_does_not():
    # Mid-market first response, 480 min, NY 09:00-17:00. Created Mon 11 May 2026 09:00 EDT
    # (13:00 UTC). Waiting on customer 10:00-14:00 EDT, then pending 14:00-15:00 (does not pause).
    # Deadline: 60 min before the pause; resume 14:00, 180 until 17:00 (240 used); the other 240
    # on Tue 09:00 -> 13:00 EDT = 17:00 UTC.
    # Warning at 384 min: 60 + 180 = 240 by Mon 17:00; 144 more -> Tue 11:24 EDT = 15:24 UTC.
    # At Tue 14:30 EDT (18:30 UTC) unmet: elapsed = Mon 480 - 240 paused + Tue 330 = 570, so
    # breached by 90 business minutes.
    history = [(datetime(2026, 5, 11, 9, 0, tzinfo=NEW_YORK), "new"),
               (datetime(2026, 5, 11, 10, 0, tzinfo=NEW_YORK), "waiting_on_customer"),
               (datetime(2026, 5, 11, 14, 0, tzinfo=NEW_YORK), "pending"),
               (datetime(2026, 5, 11, 15, 0, tzinfo=NEW_YORK), "open")]
    pauses = pause_intervals(history, PauseRules())
    target = select_policy(starter_policies(), "mid_market", "high").targets.first_response
    state = compute_timer(NY_9_TO_5, history[0][0], target, pauses, now=utc(2026, 5, 12, 18, 30))
    assert state.deadline == utc(2026, 5, 12, 17, 0)
    assert state.warning_at == utc(2026, 5, 12, 15, 24)
    assert state.state == "breached" and state.breach_minutes == 90
    assert [(p.start, p.end, p.status, minutes) for p, minutes in state.pauses] == [
        (utc(2026, 5, 11, 14, 0), utc(2026, 5, 11, 18, 0), "waiting_on_customer", 240.0)]


def test_resolution_met_in_time_across_a_pause():
    # SMB urgent resolution, 240 min, Berlin lunch calendar. Created Mon 8 Jun 2026 11:30 CEST.
    # Waiting on customer 12:00-16:00 CEST. 30 min before the pause; resume 16:00, 120 until 18:00
    # (150 used); Tue 09:00 + 90 -> 10:30 CEST = 08:30 UTC. Resolved Tue 10:15 CEST -> met, 15
    # minutes to spare: elapsed 225.
    created = datetime(2026, 6, 8, 11, 30, tzinfo=BERLIN)
    pause = (datetime(2026, 6, 8, 12, 0, tzinfo=BERLIN), datetime(2026, 6, 8, 16, 0, tzinfo=BERLIN))
    target = select_policy(starter_policies(), "smb", "urgent").targets.resolution
    resolved = datetime(2026, 6, 9, 10, 15, tzinfo=BERLIN)
    state = compute_timer(BERLIN_LUNCH, created, target, [pause], met_at=resolved, now=resolved + timedelta(days=1))
    assert target == 240
    assert state.deadline == utc(2026, 6, 9, 8, 30)
    assert state.state == "met" and not state.breached and state.elapsed_minutes == 225
