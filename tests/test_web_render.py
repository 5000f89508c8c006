"""How pages say times: in Asia/Shanghai, as people say them, in working time unless the case is urgent."""

from datetime import UTC, datetime

from chuishao.api.web.render import time_left, when


def test_time_left_reads_in_working_time_or_wall_clock_for_urgent_cases():
    assert time_left(30) == "剩余 30 个工作分钟"
    assert time_left(125) == "剩余 2 个工作小时 5 分"
    assert time_left(7 * 60) == "剩余 1 个工作日"
    assert time_left(-(4 * 7 * 60 + 95)) == "超期 4 个工作日 1 小时"
    assert time_left(25, "urgent") == "剩余 25 分钟"
    assert time_left(-(43 * 24 * 60 + 5 * 60), "urgent") == "超期 43 天 5 小时"
    assert time_left(None) == ""


def test_when_says_today_yesterday_or_the_date_in_shanghai_time():
    now = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
    assert when("2026-11-18T07:30:00+00:00", now) == "今天 15:30"
    assert when(datetime(2026, 11, 17, 16, 30, tzinfo=UTC), now) == "今天 00:30"  # past midnight in Shanghai
    assert when("2026-11-17T09:10:00+08:00", now) == "昨天 09:10"
    assert when("2026-11-16T09:00:00+08:00", now) == "周一 09:00"
    assert when("2026-10-28T14:00:00+08:00", now) == "10月28日 14:00"
    assert when("2025-11-03T08:00:00+08:00", now) == "2025年11月3日 08:00"
    assert when(None, now) == "—"
