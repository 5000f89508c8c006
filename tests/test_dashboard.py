"""The live dashboard's figures (flows/dashboard.py) and the reports pages, on both databases.

A small known day in the test county: five reports, each pushed to a known step through the API, then the
sweep at 16:10 the same Monday. Every figure below is counted by hand from that day.
"""

import asyncio
import re
from datetime import datetime

import pytest

from chuishao.api.web.session import SESSION_COOKIE
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.dashboard import figures
from chuishao.flows.errors import Forbidden
from chuishao.flows.sweep import sweep


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=LOCAL_TZ)


def actor_of(api, username: str, clock):
    svc = api.client.app.state.services
    return svc.tokens.read(api.token(username), clock())


def figures_for(api, username: str, clock) -> dict:
    svc = api.client.app.state.services
    return api.client.portal.call(figures, svc.db, svc.cases.units, actor_of(api, username, clock), clock())


def as_page_user(api, username: str):
    """The browser's session: the same signed token in the cookie, no Bearer header (a fresh one: tests move
    the clock past a token's life)."""
    api._tokens.pop(username, None)
    api.client.cookies.set(SESSION_COOKIE, api.token(username))


@pytest.fixture
def day(county, clock):
    """Monday 16 Nov 2026 (START, 09:00): c1 closed, c2 suspended at acceptance, c3 reported in 刘胡兰镇,
    c4 whistled to 生态环境分局 and not checked in, c5 (urgent) checked in 10 minutes late by 市场监管局;
    c6 reported at 14:30 in 凤城镇西街网格. Then the sweep at 16:10: c3's acceptance (2 working hours) is
    overdue (红灯); c6's has passed 80 % (16:06, 黄灯); c2's clock is paused; the rest have time left."""
    api = county
    c1 = api.to_feedback()["id"]  # LAND01: 自然资源局 leads, 住建局 assists (never checks in)
    api.act("liaison_fc", c1, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})
    c2 = api.report(title="西街井盖缺失")["id"]
    api.act("disp_fc", c2, "accept", {"category": "ENV01"})
    api.act("liaison_fc", c2, "suspend", {"reason": "等待上级批复"})
    c3 = api.report(who="gw_lhl", title="刘胡兰村焚烧秸秆")["id"]
    c4 = api.to_dispatched("ENV01", title="东街焚烧秸秆")["id"]
    c5 = api.report(title="东街无证食品摊", urgency="urgent")["id"]
    api.act("disp_fc", c5, "accept", {"category": "MKT01"})
    api.act("disp_fc", c5, "dispatch")
    clock.now = at("2026-11-16T09:40")  # urgent check-in allows 30 minutes
    api.act("scjg_liaison", c5, "check_in")
    clock.now = at("2026-11-16T14:30")
    c6 = api.report(who="gw_fc2", title="西街路灯不亮")["id"]
    clock.now = at("2026-11-16T16:10")
    svc = api.client.app.state.services
    api.client.portal.call(sweep, svc.db, svc.cases.calendar.current, clock())
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6}


def by_code(rows: list[dict]) -> dict:
    return {r["code"]: r for r in rows}


def test_county_figures_count_the_day(county, clock, day):
    d = figures_for(county, "supervisor", clock)
    assert d["scope"] == {"kind": "county", "code": "WS", "name": "文水县"}
    assert d["today"] == "2026-11-16" and d["month"] == "2026-11"
    assert d["totals"] == {"open": 5, "new_today": 6, "closed_today": 1, "warning": 1, "overdue": 1,
                           "escalated": 0, "suspended": 1}
    assert [(s["step"], s["open"], s["suspended"]) for s in d["by_step"]] == [
        (1, 2, 0), (2, 0, 1), (3, 1, 0), (4, 1, 0), (5, 0, 0), (6, 0, 0)]
    assert {s["status"]: s["count"] for s in d["by_status"] if s["count"]} == {
        "reported": 2, "dispatched": 1, "handling": 1, "suspended": 1}
    assert [(a["label"], a["count"]) for a in d["alerts"]] == [("黄灯", 1), ("红灯", 1), ("督办", 0)]
    assert [(t["code"], t["open"], t["overdue"], t["new_today"], t["closed_today"]) for t in d["by_township"]] == [
        ("FC", 4, 0, 5, 1), ("LHL", 1, 1, 1, 0)]
    depts = by_code(d["by_department"])
    assert set(depts) == {"ZRZY", "STHJ", "ZJJ", "SCJG", "FC-ZFD"}  # every department and team, zeros too
    assert [r["code"] for r in d["by_department"][:2]] == ["STHJ", "SCJG"]  # ranked by open cases they lead
    assert (depts["STHJ"]["open"], depts["STHJ"]["awaiting_check_in"]) == (1, 1)
    assert (depts["SCJG"]["open"], depts["SCJG"]["awaiting_check_in"]) == (1, 0)
    assert (depts["ZRZY"]["open"], depts["ZJJ"]["awaiting_check_in"]) == (0, 0)  # closed; assist ended with it
    # c1's and c5's check-ins stopped this month, c5's late; c1's handling was on time
    assert d["rates"]["check_in"] == {"label": "及时报到率", "num": 1, "den": 2, "rate": 0.5}
    assert d["rates"]["on_time"] == {"label": "按期办结率", "num": 1, "den": 1, "rate": 1.0}
    newest, before = d["latest"][:2]
    assert (newest["case_id"], newest["label"], newest["unit_name"], newest["at"]) == (
        day["c6"], "上报", "凤城镇西街网格", "2026-11-16T14:30:00+08:00")
    assert (before["case_id"], before["action"], before["to_label"], before["unit_name"]) == (
        day["c5"], "check_in", "办理中", "市场监督管理局")
    assert len(d["latest"]) == 10 and [e["id"] for e in d["latest"]] == sorted(
        (e["id"] for e in d["latest"]), reverse=True)


def test_a_township_sees_only_its_township(county, clock, day):
    fc = figures_for(county, "disp_fc", clock)
    assert fc["scope"]["name"] == "凤城镇"
    assert fc["totals"] == {"open": 4, "new_today": 5, "closed_today": 1, "warning": 1, "overdue": 0,
                            "escalated": 0, "suspended": 1}
    assert [t["code"] for t in fc["by_township"]] == ["FC"]
    assert [r["code"] for r in fc["by_department"]] == ["STHJ", "SCJG"]  # only units with figures on FC's cases
    assert (fc["rates"]["check_in"]["num"], fc["rates"]["check_in"]["den"]) == (1, 2)
    assert day["c3"] not in {e["case_id"] for e in fc["latest"]}

    lhl = figures_for(county, "liaison_lhl", clock)
    assert lhl["totals"] == {"open": 1, "new_today": 1, "closed_today": 0, "warning": 0, "overdue": 1,
                             "escalated": 0, "suspended": 0}
    assert [(t["code"], t["overdue"]) for t in lhl["by_township"]] == [("LHL", 1)]
    assert lhl["by_department"] == []
    # nothing finished in 刘胡兰镇 this month: no rate, and the denominator says why
    assert lhl["rates"]["check_in"] == {"label": "及时报到率", "num": 0, "den": 0, "rate": None}
    assert {e["case_id"] for e in lhl["latest"]} == {day["c3"]}


def test_a_department_sees_the_cases_whistled_to_it(county, clock, day):
    sthj = figures_for(county, "sthj_liaison", clock)
    assert sthj["scope"] == {"kind": "department", "code": "STHJ", "name": "生态环境分局"}
    assert (sthj["totals"]["open"], sthj["totals"]["warning"], sthj["totals"]["new_today"]) == (1, 0, 1)
    assert [(r["code"], r["awaiting_check_in"]) for r in sthj["by_department"]] == [("STHJ", 1)]
    assert [t["code"] for t in sthj["by_township"]] == ["FC"]
    scjg = figures_for(county, "scjg_liaison", clock)
    assert scjg["rates"]["check_in"] == {"label": "及时报到率", "num": 0, "den": 1, "rate": 0.0}  # its own, late


def test_grid_workers_have_no_dashboard(county, clock):
    with pytest.raises(Forbidden):
        figures_for(county, "gw_fc1", clock)
    as_page_user(county, "gw_fc1")
    r = county.client.get("/dashboard")
    assert r.status_code == 403 and "无权访问" in r.text


def test_today_is_the_shanghai_day(county, clock):
    """07:30 in Shanghai is 23:30 UTC the day before, and counts today; 23:50 the evening before does not."""
    clock.now = at("2026-11-15T23:50")
    county.report(title="昨晚的事件")
    clock.now = at("2026-11-16T07:30")
    county.report(title="今早的事件")
    d = figures_for(county, "supervisor", clock)
    assert (d["totals"]["new_today"], d["totals"]["open"]) == (1, 2)


def test_the_page_and_its_data_with_the_session_cookie(county, clock, day):
    api = county
    as_page_user(api, "disp_fc")
    r = api.client.get("/dashboard/data.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["totals"]["new_today"] == 5 and data["latest"][0]["when"] == "今天 14:30"
    page = api.client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert "凤城镇实时看板" in html
    kpi = re.search(r'data-kpi="new_today".*?<div class="n">(\d+)</div>.*?<div class="l">([^<]+)</div>', html, re.S)
    assert kpi.groups() == ("5", "今日新增")
    assert "及时报到率" in html and "1/2" in html  # the rate with its numerator and denominator, as text
    assert "echarts.min.js" in html and "/static/dashboard.js" in html
    api.client.cookies.clear()
    assert api.client.get("/dashboard", follow_redirects=False).status_code == 303  # no session: to login


# ---- the reports pages -------------------------------------------------------------------------------
def test_reports_pages_follow_the_checkpoint_scope(county, clock, day):
    from chuishao.flows.jobs import run_checkpoint

    api = county
    clock.now = at("2026-11-23T09:00")
    asyncio.run(run_checkpoint("2026-W47", clock(), api.settings))

    as_page_user(api, "disp_fc")
    listing = api.client.get("/reports")
    assert listing.status_code == 200 and "/reports/checkpoints/2026-W47" in listing.text
    assert "2026年第47周检点" in listing.text and "11月16日—11月22日" in listing.text
    page = api.client.get("/reports/checkpoints/2026-W47")
    assert page.status_code == 200
    assert "乡镇：凤城镇" in page.text and "刘胡兰镇" not in page.text  # its own section only
    assert f'href="/cases/{day["c4"]}"' in page.text  # each line a case to open

    as_page_user(api, "supervisor")
    whole = api.client.get("/reports/checkpoints/2026-W47").text
    assert "乡镇：刘胡兰镇" in whole and "部门：生态环境分局" in whole and "乡镇一览" in whole

    as_page_user(api, "sthj_liaison")
    own = api.client.get("/reports/checkpoints/2026-W47").text
    assert "部门：生态环境分局" in own and "乡镇：凤城镇" not in own

    as_page_user(api, "gw_fc1")
    for url in ("/reports", "/reports/checkpoints/2026-W47", "/reports/bulletins/2026-11.pdf"):
        assert api.client.get(url).status_code == 403, url
    as_page_user(api, "disp_fc")
    assert api.client.get("/reports/checkpoints/2026-W46").status_code == 404  # not generated
    assert api.client.get("/reports/checkpoints/2026-W99").status_code == 422  # no such week (tests/test_weeks.py)
    assert api.client.get("/reports/bulletins/2026-13").status_code == 422


def test_bulletin_opens_and_downloads_with_the_session(county, clock, day):
    from chuishao.flows.jobs import run_bulletin

    api = county
    clock.now = at("2026-12-01T09:00")
    asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    as_page_user(api, "zrzy_liaison")  # a department reads the whole county bulletin
    listing = api.client.get("/reports")
    assert "2026年11月工作通报" in listing.text and "/reports/bulletins/2026-11.pdf" in listing.text
    page = api.client.get("/reports/bulletins/2026-11")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "工作月度通报（2026年11月）" in page.text and 'href="/reports"' in page.text  # a way back
    pdf = api.client.get("/reports/bulletins/2026-11.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "chuishao-bulletin-2026-11.pdf" in pdf.headers["content-disposition"]
    xlsx = api.client.get("/reports/bulletins/2026-11.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert api.client.get("/reports/bulletins/2026-10.pdf").status_code == 404
