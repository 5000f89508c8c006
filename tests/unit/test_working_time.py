"""Working time and step clocks (flows/calendar.py, flows/clocks.py) with no database: a calendar given as data,
times written in Beijing time."""

from datetime import date, datetime, timedelta

import pytest

from chuishao.flows import clocks as clk
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.clock import LOCAL_TZ

# A National Day week as data: 1–7 October off, Saturday 10 October worked instead (调休). 2026 is official;
# other years have no rule-based holidays here, only weekends, and count as provisional.
CAL = WorkingCalendar(holidays={date(2026, 10, d) for d in range(1, 8)}, workdays={date(2026, 10, 10)},
                      official_years={2026}, fallback=lambda year: set())


def at(text: str) -> datetime:
    """'2026-11-16 09:00' in Beijing time."""
    return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ)


def shown(moment: datetime) -> str:
    return f"{moment.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}"


@pytest.mark.parametrize("start, minutes, end", [
    ("2026-11-16 10:00", 60, "2026-11-16 11:00"),  # inside the morning
    ("2026-11-16 11:30", 60, "2026-11-16 14:00"),  # across lunch (12:00–13:30)
    ("2026-11-16 12:30", 30, "2026-11-16 14:00"),  # starting at lunch: the clock waits for 13:30
    ("2026-11-16 07:00", 30, "2026-11-16 09:30"),  # before the day begins
    ("2026-11-20 17:00", 60, "2026-11-23 09:30"),  # Friday evening → Monday morning
    ("2026-09-30 17:00", 60, "2026-10-08 09:30"),  # into the holiday → the first day back
    ("2026-10-09 17:00", 60, "2026-10-10 09:30"),  # Friday → the make-up Saturday
    ("2026-11-16 09:00", 7 * 60, "2026-11-16 17:30"),  # a working day is 7 hours
])
def test_working_minutes_skip_lunch_weekends_and_holidays_and_count_make_up_days(start, minutes, end):
    moment, provisional = CAL.add_working_minutes(at(start), minutes)
    assert (shown(moment), provisional) == (end, False)
    assert CAL.working_minutes_between(at(start), moment) == minutes  # and back again


def test_working_days_end_at_the_close_of_the_last_one():
    assert shown(CAL.add_working_days(at("2026-09-30 10:00"), 5)[0]) == "2026-10-13 17:30"  # 8, 9, 10, 12, 13 Oct
    assert shown(CAL.add_working_days(at("2026-11-20 16:00"), 1)[0]) == "2026-11-23 17:30"


def test_a_deadline_through_a_year_without_official_data_is_provisional():
    end, provisional = CAL.add_working_days(at("2026-12-30 10:00"), 3)
    assert (shown(end), provisional) == ("2027-01-04 17:30", True)  # 31 Dec, then 1 and 4 Jan (no data for 2027)


def test_urgent_limits_run_on_the_wall_clock_and_normal_ones_on_working_time():
    start = at("2026-11-20 16:00")  # a Friday afternoon
    assert shown(clk.add(CAL, start, "2h", "urgent")[0]) == "2026-11-20 18:00"
    assert shown(clk.add(CAL, start, "2h", "normal")[0]) == "2026-11-23 09:30"  # 1.5 h on Friday, 0.5 h Monday
    assert shown(clk.add(CAL, start, "1d", "urgent")[0]) == "2026-11-21 16:00"
    assert shown(clk.add(CAL, start, "1d", "normal")[0]) == "2026-11-23 17:30"


def test_warning_at_80_percent_and_escalation_one_working_day_or_24_hours_after_the_deadline():
    normal = clk.start(CAL, case_id=1, kind="handle", urgency="normal", spec="1d", now=at("2026-11-16 10:00"))
    # 780 working minutes to Tuesday 17:30; 80 % = 624 → 360 on Monday, 264 on Tuesday
    assert [shown(t) for t in (normal.warning_at, normal.deadline, normal.escalate_at)] == [
        "2026-11-17 14:54", "2026-11-17 17:30", "2026-11-18 17:30"]
    thursday = clk.start(CAL, case_id=1, kind="handle", urgency="normal", spec="1d", now=at("2026-11-19 10:00"))
    assert [shown(t) for t in (thursday.deadline, thursday.escalate_at)] == [
        "2026-11-20 17:30", "2026-11-23 17:30"]  # due Friday; the working day after it is Monday
    urgent = clk.start(CAL, case_id=1, kind="handle", urgency="urgent", spec="4h", now=at("2026-11-16 10:00"))
    assert [shown(t) for t in (urgent.warning_at, urgent.deadline, urgent.escalate_at)] == [
        "2026-11-16 13:12", "2026-11-16 14:00", "2026-11-17 14:00"]
    assert (normal.level, normal.next_alert_at) == ("none", normal.warning_at)


def test_levels_come_due_in_order_and_each_once():
    clock = clk.start(CAL, case_id=1, kind="handle", urgency="urgent", spec="4h", now=at("2026-11-16 10:00"))
    assert clk.due_levels(clock, at("2026-11-16 13:00")) == []
    assert [lvl for lvl, _ in clk.due_levels(clock, at("2026-11-16 15:00"))] == ["warning", "overdue"]
    clock.level = "overdue"  # the sweep fired both
    assert clk.due_levels(clock, at("2026-11-16 15:00")) == [] and clk.next_due(clock) == clock.escalate_at
    assert clk.due_levels(clock, at("2026-11-17 14:00")) == [("escalated", clock.escalate_at)]


def test_pause_and_resume_shift_only_the_points_still_ahead():
    clock = clk.start(CAL, case_id=1, kind="handle", urgency="normal", spec="1d", now=at("2026-11-16 10:00"))
    warning = clock.warning_at  # Tuesday 14:54, before the pause: it stays where it was
    clock.level = "warning"
    clk.pause(clock, at("2026-11-17 15:00"))
    assert clk.next_due(clock) is None  # a paused clock raises nothing
    assert clk.remaining_minutes(CAL, clock, at("2026-11-19 09:00")) == 150  # frozen at the pause
    clk.resume(CAL, clock, at("2026-11-19 09:00"))  # Wednesday spent suspended
    assert clock.warning_at == warning
    assert [shown(t) for t in (clock.deadline, clock.escalate_at)] == ["2026-11-19 11:30", "2026-11-20 11:30"]
    assert clock.paused_minutes == 150 + 420 and clock.paused_at is None
    assert clk.next_due(clock) == clock.deadline


def test_an_urgent_pause_counts_wall_clock_time():
    clock = clk.start(CAL, case_id=1, kind="handle", urgency="urgent", spec="4h", now=at("2026-11-16 10:00"))
    clk.pause(clock, at("2026-11-16 11:00"))
    clk.resume(CAL, clock, at("2026-11-16 13:30"))
    assert shown(clock.deadline) == "2026-11-16 16:30" and clock.paused_minutes == 150


def test_an_extension_ends_the_clock_and_starts_one_with_the_later_deadline_and_fresh_levels():
    clock = clk.start(CAL, case_id=7, kind="handle", urgency="normal", spec="1d", now=at("2026-11-16 10:00"))
    clock.level = "warning"
    fresh = clk.extend(CAL, clock, 2, at("2026-11-17 15:00"))
    assert (clock.stopped_at, clock.ended_by, clock.on_time) == (at("2026-11-17 15:00"), "extension", None)
    assert shown(fresh.deadline) == "2026-11-19 17:30"  # two working days after Tuesday's deadline
    assert (fresh.level, fresh.extended_days, fresh.started_at, fresh.case_id) == ("none", 2, clock.started_at, 7)
    assert shown(fresh.escalate_at) == "2026-11-20 17:30" and fresh.next_alert_at == fresh.warning_at
    urgent = clk.start(CAL, case_id=7, kind="handle", urgency="urgent", spec="4h", now=at("2026-11-16 10:00"))
    assert clk.extend(CAL, urgent, 2, at("2026-11-16 11:00")).deadline == urgent.deadline + timedelta(days=2)


def test_whether_a_step_was_on_time_is_frozen_when_it_stops():
    late = clk.start(CAL, case_id=1, kind="accept", urgency="normal", spec="2h", now=at("2026-11-16 09:00"))
    clk.stop(late, at("2026-11-16 11:01"))
    on_time = clk.start(CAL, case_id=1, kind="accept", urgency="normal", spec="2h", now=at("2026-11-16 09:00"))
    clk.stop(on_time, at("2026-11-16 11:00"))
    assert (late.on_time, on_time.on_time, late.next_alert_at) == (False, True, None)
    assert clk.remaining_minutes(CAL, late, at("2026-11-16 14:00")) == -90  # 11:00–12:00, 13:30–14:00


def test_a_limit_comes_from_the_township_then_the_item_then_the_default():
    item, township = {"handle": {"normal": "3d"}}, {"handle": {"normal": "2d"}}
    assert clk.resolve_limit("handle", "normal", item, township) == "2d"
    assert clk.resolve_limit("handle", "normal", item, None) == "3d"
    assert clk.resolve_limit("handle", "urgent", item, township) == clk.DEFAULT_LIMITS["handle"]["urgent"]
