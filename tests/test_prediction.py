"""Predicted closure (预计办结): from the same item's turnaround in the same township over 90 days, in working time;
shown in the case JSON, the case list, the case page, the inbox rows and Open311's expected_datetime. SQLite and
PostgreSQL (the `county` fixture)."""

from datetime import datetime, timedelta

from sqlalchemy import create_engine, select

from chuishao.flows.clock import LOCAL_TZ
from chuishao.models.cases import Case
from chuishao.models.db import sync_url
from chuishao.models.org import Unit
from tests.test_web_admin import Browserish

MON = datetime(2026, 11, 9, 9, 0, tzinfo=LOCAL_TZ)  # the Monday before the test clock's START (Mon 16 Nov 09:00)
# working hours 09:00–12:00 and 13:30–17:30: created 09:00, closed after 60 … 300 working minutes the same day
CLOSED_AFTER = [(10, 0), (11, 0), (12, 0), (14, 30), (15, 30)]  # 60, 120, 180, 240, 300 working minutes


def add_closed(api, item: str, township: str, spans, first: datetime = MON) -> None:
    """Closed cases of `item` in `township`, one a day back from `first`, created at 09:00 and closed at the
    local (hour, minute) of each span — setup only: the statistics read nothing else."""
    engine = create_engine(sync_url(api.settings.url))
    with engine.begin() as conn:
        tid = conn.execute(select(Unit.id).where(Unit.code == township)).scalar_one()
        for i, (h, m) in enumerate(spans):
            created = first - timedelta(days=7 * i)
            closed = created.replace(hour=h, minute=m)
            conn.execute(Case.__table__.insert().values(
                title=f"已办结案件{i}", description="", category=item, township_id=tid, status="closed",
                urgency="normal", source="grid", version=1, return_count=0, rework_count=0, provisional=False,
                alert="none", timeline_seq=0, timeline_head="", outcome="resolved", created_at=created,
                updated_at=closed, closed_at=closed))
    engine.dispose()


def test_five_closed_cases_give_the_median_and_80th_percentile_in_working_time(county):
    add_closed(county, "LAND01", "FC", CLOSED_AFTER)
    add_closed(county, "LAND01", "LHL", [(9, 30)] * 5)  # another township: not counted
    add_closed(county, "ENV01", "FC", [(9, 30)] * 5)  # another item: not counted
    add_closed(county, "LAND01", "FC", [(9, 10)], first=MON - timedelta(days=91))  # closed before the window
    case = county.report(category="LAND01")  # Monday 16 Nov 09:00, 凤城镇
    # median 180 working minutes → 12:00; 80th percentile (inclusive) 240 + 0.2 × 60 = 252 → 13:30 + 72 min
    expected = {"median_at": "2026-11-16T12:00:00+08:00", "p80_at": "2026-11-16T14:42:00+08:00", "samples": 5,
                "window_days": 90}
    assert county.get("disp_fc", case["id"])["predicted_closure"] == expected
    listed = county.as_("disp_fc").get("/api/v1/cases").json()["items"]
    assert [c["predicted_closure"] for c in listed if c["id"] == case["id"]] == [expected]
    # an item with no history in 刘胡兰镇: a sample of none
    other = county.report(who="gw_lhl", category="ENV01", title="刘胡兰村南地焚烧秸秆")
    assert county.get("disp_lhl", other["id"])["predicted_closure"] == {
        "median_at": None, "p80_at": None, "samples": 0, "window_days": 90}


def test_four_closed_cases_predict_nothing(county):
    add_closed(county, "LAND01", "FC", CLOSED_AFTER[:4])
    case = county.report(category="LAND01")
    assert county.get("disp_fc", case["id"])["predicted_closure"] == {
        "median_at": None, "p80_at": None, "samples": 4, "window_days": 90}
    browser = Browserish(county.client)
    browser.login("disp_fc")
    html = browser.get(f"/cases/{case['id']}").text
    assert "样本不足" in html and "已办结 4 件" in html


def test_unclassified_and_finished_cases_carry_no_prediction(county):
    add_closed(county, "LAND01", "FC", CLOSED_AFTER)
    case = county.report()  # no category yet
    assert county.get("disp_fc", case["id"])["predicted_closure"] is None
    county.act("disp_fc", case["id"], "reject", {"reason": "不属于本乡镇管辖范围"})
    assert county.get("disp_fc", case["id"])["predicted_closure"] is None


def test_the_case_page_and_the_inbox_show_the_prediction(county):
    add_closed(county, "LAND01", "FC", CLOSED_AFTER)
    case = county.report(category="LAND01")
    browser = Browserish(county.client)
    browser.login("disp_fc")
    page = browser.get(f"/cases/{case['id']}").text
    assert "预计办结" in page and "2026-11-16 12:00" in page and "2026-11-16 14:42" in page
    assert "已办结 5 件" in page
    inbox = browser.get("/inbox").text
    assert "预计 今天 12:00 办结" in inbox


def test_the_case_page_says_so_once_the_median_and_then_the_80th_percentile_have_passed(county, clock):
    """The case page and the inbox row tell the same story: no past date offered as the expected closure."""
    add_closed(county, "LAND01", "FC", CLOSED_AFTER)
    case = county.report(category="LAND01")
    browser = Browserish(county.client)
    browser.login("disp_fc")
    clock.advance(hours=3, minutes=30)  # 12:30: the median (12:00) has passed, the 80th percentile (14:42) not
    page = browser.get(f"/cases/{case['id']}").text
    assert "已超过同类案件中位用时" in page and "2026-11-16 14:42" in page and "约 2026-11-16 12:00" not in page
    assert "已超过同类案件中位用时" in browser.get("/inbox").text
    clock.advance(hours=3)  # 15:30: both passed
    page = browser.get(f"/cases/{case['id']}").text
    assert "已超过本乡镇同类案件的通常办理时长" in page and "较迟" not in page


def test_open311_expected_datetime_is_the_predicted_median(county):
    from tests.test_open311 import O311

    o = O311(county)
    add_closed(county, "LAND01", "FC", CLOSED_AFTER)
    rid = o.create()  # LAND01 in 凤城镇, reported now (Monday 09:00)
    assert o.request(rid)["expected_datetime"] == "2026-11-16T12:00:00+08:00"


def test_open311_falls_back_to_the_80th_percentile_then_the_deadline(county, clock):
    from tests.test_open311 import O311

    o = O311(county)
    add_closed(county, "LAND01", "FC", CLOSED_AFTER)
    rid = o.create()
    clock.advance(hours=3, minutes=30)  # 12:30: the median (12:00) has passed, the 80th percentile (14:42) not
    assert o.request(rid)["expected_datetime"] == "2026-11-16T14:42:00+08:00"
    county.act("disp_fc", int(rid), "accept", {"category": "LAND01"})
    county.act("disp_fc", int(rid), "dispatch")
    county.act("zrzy_liaison", int(rid), "check_in")
    clock.advance(hours=3)  # 15:30: both passed; while handling the lead unit's deadline stands
    deadline = county.get("disp_fc", int(rid))["deadline"]
    assert o.request(rid)["expected_datetime"] == deadline
