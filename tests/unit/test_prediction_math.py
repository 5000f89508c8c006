"""Predicted closure's arithmetic (flows/prediction.py), no database: percentiles, projection on the working
calendar, the Open311 rule."""

from datetime import datetime, timedelta

from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.prediction import Prediction, Turnaround, expected_at, project, turnaround

CAL = WorkingCalendar()  # 09:00–12:00 and 13:30–17:30 on weekdays
MON = datetime(2026, 11, 16, 9, 0, tzinfo=LOCAL_TZ)


def test_five_durations_give_the_median_and_the_inclusive_80th_percentile():
    assert turnaround([300, 60, 240, 120, 180]) == Turnaround(5, 180, 252)  # 240 + 0.2 × (300 − 240)


def test_an_even_sample_takes_the_mean_of_the_middle_two():
    t = turnaround([10, 20, 30, 40, 50, 60])
    assert (t.median_minutes, t.p80_minutes) == (35, 50)  # position 1 + 0.8 × 5 = 5 → the 5th value


def test_under_five_durations_there_is_no_figure_but_the_count():
    assert turnaround([60, 120, 180, 240]) == Turnaround(4, None, None)
    assert turnaround([]) == Turnaround(0, None, None)


def test_the_projection_runs_on_working_time_over_lunch_and_the_weekend():
    friday_four = datetime(2026, 11, 20, 16, 0, tzinfo=LOCAL_TZ)
    p = project(friday_four, Turnaround(5, 90, 300), CAL)
    # 90 working minutes from Friday 16:00: 90 by 17:30, nothing over the weekend, Monday 09:00 + 0
    assert p.median_at == datetime(2026, 11, 20, 17, 30, tzinfo=LOCAL_TZ)
    # 300: 90 on Friday, 180 on Monday morning, 30 after lunch → Monday 14:00
    assert p.p80_at == datetime(2026, 11, 23, 14, 0, tzinfo=LOCAL_TZ)
    assert project(friday_four, Turnaround(3, None, None), CAL) == Prediction(3, None, None)


def test_open311_takes_the_median_then_the_80th_percentile_then_the_deadline():
    p = Prediction(5, MON + timedelta(hours=3), MON + timedelta(hours=5))
    deadline = MON + timedelta(days=5)
    assert expected_at(p, deadline, MON) == MON + timedelta(hours=3)
    assert expected_at(p, deadline, MON + timedelta(hours=4)) == MON + timedelta(hours=5)
    assert expected_at(p, deadline, MON + timedelta(hours=6)) == deadline
    assert expected_at(p, None, MON + timedelta(hours=6)) is None
    assert expected_at(Prediction(2, None, None), None, MON) is None
    assert expected_at(None, deadline, MON) == deadline
