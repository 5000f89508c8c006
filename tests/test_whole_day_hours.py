"""Working hours may end at 24:00: a window can cover a whole day, and the clock arithmetic across midnight is exact
(issue 10: `24:00` was refused, and with 00:00–23:59 two working hours from 23:30 ended at 01:31)."""

import re
from datetime import date, datetime, time, timedelta

import pytest

from chuishao.flows.calendar import END_OF_DAY, WorkingCalendar, parse_hhmm, parse_hours
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.errors import Invalid
from tests.conftest import ADMIN_PASSWORD
from tests.test_web_admin import Browserish

WHOLE_DAY = ((time(0, 0), END_OF_DAY),)


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=LOCAL_TZ)


def calendar(hours=WHOLE_DAY, **kw) -> WorkingCalendar:
    """2026 with no statutory holidays, so only weekends and `holidays` rest."""
    return WorkingCalendar(hours=hours, official_years={2026}, **kw)


def test_two_working_hours_from_half_past_eleven_at_night_end_at_half_past_one():
    cal = calendar()
    end, provisional = cal.add_working_minutes(at("2026-11-17T23:30"), 120)  # a Tuesday
    assert end.astimezone(LOCAL_TZ) == at("2026-11-18T01:30") and not provisional
    assert cal.working_minutes_between(at("2026-11-17T23:30"), at("2026-11-18T01:30")) == 120
    assert cal.working_minutes_between(at("2026-11-18T01:30"), at("2026-11-17T23:30")) == -120
    assert cal.day_minutes() == 1440


def test_the_next_day_counts_only_if_it_is_a_working_day():
    cal = calendar()
    end, _ = cal.add_working_minutes(at("2026-11-20T23:30"), 120)  # Friday night: Saturday and Sunday rest
    assert end.astimezone(LOCAL_TZ) == at("2026-11-23T01:30")
    assert cal.working_minutes_between(at("2026-11-20T23:30"), at("2026-11-23T01:30")) == 120
    cal = calendar(holidays={date(2026, 11, 18)})  # Wednesday off
    end, _ = cal.add_working_minutes(at("2026-11-17T23:30"), 120)
    assert end.astimezone(LOCAL_TZ) == at("2026-11-19T01:30")


def test_a_day_that_ends_at_midnight_ends_at_the_next_days_zero_hour():
    cal = calendar(hours=((time(8, 0), time(12, 0)), (time(18, 0), END_OF_DAY)))
    end, _ = cal.add_working_days(at("2026-11-17T10:00"), 1)
    assert end.astimezone(LOCAL_TZ) == at("2026-11-19T00:00")  # the end of Wednesday, 24:00
    assert cal.day_minutes() == 4 * 60 + 6 * 60
    # exactly one working day of minutes from the start of a day's first window reaches that day's end
    end, _ = cal.add_working_minutes(at("2026-11-18T08:00"), cal.day_minutes())
    assert end.astimezone(LOCAL_TZ) == at("2026-11-19T00:00")


def test_minutes_between_agree_with_a_minute_by_minute_walk_across_midnights():
    cal = calendar(hours=((time(6, 0), time(9, 0)), (time(20, 0), END_OF_DAY)))
    start = at("2026-11-16T00:00")
    working = set()
    t = start
    while t < start + timedelta(days=10):
        if cal.is_workday(t.date()) and (time(6) <= t.time() < time(9) or t.time() >= time(20)):
            working.add(t)
        t += timedelta(minutes=1)
    spans = ((0, 10 * 1440 - 1), (23 * 60 + 30, 24 * 60 + 30), (1439, 1441), (4 * 1440 + 1300, 7 * 1440 + 400))
    for a_min, b_min in spans:
        a, b = start + timedelta(minutes=a_min), start + timedelta(minutes=b_min)
        walked = sum(1 for m in range(a_min, b_min) if start + timedelta(minutes=m) in working)
        assert cal.working_minutes_between(a, b) == walked, (a, b)
        end, _ = cal.add_working_minutes(a, walked)
        assert cal.working_minutes_between(a, end) == walked


def test_24_00_is_an_end_only_and_00_00_as_an_end_means_midnight():
    assert parse_hhmm("24:00", end=True) is END_OF_DAY
    assert parse_hhmm("00:00", end=True) is END_OF_DAY  # what a browser's time field can say
    assert parse_hhmm("00:00") == time(0, 0)
    for bad in ("24:00", "24:01", "25:00", "7:00", "07:60", "", "0700"):
        with pytest.raises(ValueError):
            parse_hhmm(bad)
    assert parse_hours([["00:00", "24:00"]]) == WHOLE_DAY
    for bad in ([["24:00", "24:00"]], [["09:00", "24:00"], ["23:00", "24:00"]], [["09:00", "08:00"]], []):
        with pytest.raises(Invalid):
            parse_hours(bad)


def test_the_api_takes_a_whole_day_and_deadlines_follow_it(county, clock):
    api = county
    admin = api.as_("admin")
    r = admin.put("/api/v1/calendar/hours", json={"windows": [["00:00", "24:00"]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"windows": [["00:00", "24:00"]]}
    assert api.as_("disp_fc").get("/api/v1/calendar/2026").json()["hours"] == [["00:00", "24:00"]]
    clock.now = at("2026-11-17T23:30")  # Tuesday night
    case = api.report()
    # accept: 2 working hours → 30 minutes before midnight, 90 after
    assert case["deadline"] == "2026-11-18T01:30:00+08:00"
    assert case["time_left_minutes"] == 120
    # the calendar is read back from the database as it was written
    svc = api.client.app.state.services
    cal = api.client.portal.call(svc.cases.calendar.load, clock())
    assert cal.hours == WHOLE_DAY
    for bad in ([["24:00", "24:00"]], [["00:00", "24:30"]], [["00:00", "24:00"], ["08:00", "09:00"]]):
        r = admin.put("/api/v1/calendar/hours", json={"windows": bad})
        assert r.status_code == 422 and r.json()["error"]["message"].startswith("工作时段"), (bad, r.text)


def test_the_admin_page_takes_a_whole_day(county):
    """The calendar page's time fields cannot say 24:00: an end of 00:00 is midnight, and the page shows it so."""
    web = Browserish(county.client)
    web.login("admin", ADMIN_PASSWORD)
    r = web.post("/admin/calendar/hours", {"start0": "00:00", "end0": "00:00"})
    assert r.status_code == 303, r.text
    assert county.as_("disp_fc").get("/api/v1/calendar/2026").json()["hours"] == [["00:00", "24:00"]]
    html = web.get("/admin/calendar").text
    assert re.search(r'name="end0" type="time" value="00:00"', html)
    assert "表示到当天 24:00" in html
