"""The monthly bulletin on a hand-built month with known answers (docs/bulletin-definitions.md), and the weekly
checkpoint.

November 2026 (no holidays; Monday the 2nd). Limits: check-in 1 working day, handling 5 working days.
  A  生态环境分局: checked in on time, fed back on time, passed — satisfied, rated 5
  B  生态环境分局: checked in late; suspended 5 working days (not counted), fed back on time only because
     of that; failed (unsatisfied, 2); reworked on time; passed (basic, 3)
  C  生态环境分局 returned it; re-dispatched to 住建局: on time throughout, passed with no answer or rating
  D  自然资源局 (住建局 assisting): 3-day extension approved, fed back after the original deadline but within
     the extended one; passed — satisfied, rated 4
  E  自然资源局 (住建局 assisting): dispatched 25 Nov, handling deadline 2 Dec: closes in December
  F  市场监管局: never checked in
"""

import asyncio
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from chuishao.flows.bulletin import BulletinBuilder
from chuishao.flows.jobs import bulletin_dir, run_bulletin, run_checkpoint
from chuishao.models.db import Database
from tests.report_month import at, stepper


@pytest.fixture
def november(county, clock):
    api = county

    step = stepper(api, clock)

    def new_case(when, category, title):
        clock.now = at(when)
        case = api.report(title=title)
        step(when, "disp_fc", case["id"], "accept", {"category": category})
        return case["id"]

    a = new_case("2026-11-02T08:30", "ENV01", "A 东街秸秆焚烧")
    step("2026-11-02T09:00", "disp_fc", a, "dispatch")
    step("2026-11-02T10:00", "sthj_liaison", a, "check_in")
    step("2026-11-04T10:00", "sthj_off", a, "feedback", {"outcome": "resolved", "result": "已扑灭"})
    step("2026-11-05T10:00", "liaison_fc", a, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})

    b = new_case("2026-11-02T08:31", "ENV01", "B 西街焚烧垃圾")
    step("2026-11-02T09:00", "disp_fc", b, "dispatch")
    step("2026-11-04T10:00", "sthj_liaison", b, "check_in")  # check-in deadline was 3 Nov 17:30
    step("2026-11-05T09:00", "liaison_fc", b, "suspend", {"reason": "等待环评监测"})
    step("2026-11-12T09:00", "liaison_fc", b, "resume")
    assert api.get("liaison_fc", b)["deadline"] == "2026-11-18T17:30:00+08:00"  # was 11 Nov 17:30
    step("2026-11-16T10:00", "sthj_off", b, "feedback", {"outcome": "resolved", "result": "已清理"})
    step("2026-11-17T10:00", "liaison_fc", b, "verify",
         {"passed": False, "note": "整改不到位", "satisfaction": "unsatisfied", "rating": 2})
    step("2026-11-20T10:00", "sthj_off", b, "feedback", {"outcome": "resolved", "result": "已彻底清理"})
    step("2026-11-23T10:00", "liaison_fc", b, "verify", {"passed": True, "satisfaction": "basic", "rating": 3})

    c = new_case("2026-11-02T08:32", "ENV01", "C 工地扬尘")
    step("2026-11-02T09:00", "disp_fc", c, "dispatch")
    step("2026-11-02T11:00", "sthj_liaison", c, "return", {"reason": "属住建局职责"})
    step("2026-11-02T11:30", "disp_fc", c, "dispatch", {"lead_unit": "ZJJ"})
    step("2026-11-03T09:00", "zjj_liaison", c, "check_in")
    step("2026-11-06T10:00", "zjj_liaison", c, "feedback", {"outcome": "resolved", "result": "已覆盖防尘网"})
    step("2026-11-09T10:00", "liaison_fc", c, "verify", {"passed": True})

    officers = {"outcome": "resolved", "result": "已拆除", "officers": ["zrzy_off1", "zrzy_off2"]}
    d = new_case("2026-11-02T08:33", "LAND01", "D 南街违法占地")
    step("2026-11-02T09:00", "disp_fc", d, "dispatch")
    step("2026-11-02T09:30", "zrzy_liaison", d, "check_in")
    step("2026-11-02T09:40", "zjj_liaison", d, "check_in")
    step("2026-11-05T10:00", "zrzy_liaison", d, "request_extension", {"working_days": 3, "reason": "待测绘"})
    step("2026-11-05T11:00", "liaison_fc", d, "approve_extension")
    assert api.get("liaison_fc", d)["deadline"] == "2026-11-12T17:30:00+08:00"  # was 9 Nov 17:30
    step("2026-11-11T10:00", "zrzy_off1", d, "feedback", officers)
    step("2026-11-12T10:00", "liaison_fc", d, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 4})

    e = new_case("2026-11-25T08:30", "LAND01", "E 北街违建")
    step("2026-11-25T09:00", "disp_fc", e, "dispatch")
    step("2026-11-25T10:00", "zrzy_liaison", e, "check_in")
    step("2026-11-25T10:10", "zjj_liaison", e, "check_in")
    step("2026-12-01T10:00", "zrzy_off1", e, "feedback", officers)
    step("2026-12-02T10:00", "liaison_fc", e, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})

    f = new_case("2026-11-16T08:30", "MKT01", "F 早市无证摊贩")
    step("2026-11-16T09:00", "disp_fc", f, "dispatch")

    r = api.as_("admin").put("/api/v1/settings/scorecard", json={"list_min_whistles": 1})
    assert r.status_code == 200, r.text
    clock.now = at("2026-12-03T09:00")
    return api


def bulletin(api, month, clock):
    """The figures alone (the formats are checked in test_every_format_reads_like_the_json)."""
    async def build():
        db = Database(api.settings.url)
        try:
            return await BulletinBuilder(db).build(month, clock())
        finally:
            await db.dispose()

    return asyncio.run(build())


def card(data, code):
    return next(r for r in data["scorecard"] if r["code"] == code)


def r(num, den):
    """A rate as the definition gives it: num ÷ den rounded half up (四舍五入) to 4 decimals."""
    rate = Decimal(num) / Decimal(den) if den else None
    return {"num": num, "den": den,
            "rate": None if rate is None else float(rate.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))}


def test_every_scorecard_figure_denominator_and_rank(november, clock):
    data = bulletin(november, "2026-11", clock)
    sthj, zrzy, zjj, scjg = (card(data, c) for c in ("STHJ", "ZRZY", "ZJJ", "SCJG"))
    # 生态环境分局: C's returned whistle is not a check-in due; B's suspension is excluded, so all three
    # handling rounds (A, B, B's rework) finished on time
    assert sthj["whistles"] == 3
    assert (sthj["check_in"], sthj["on_time"], sthj["closure"]) == (r(1, 2), r(3, 3), r(2, 2))
    # 退回率: C returned of the lead whistles A, B, C; 满意率: one answer per closed case, the closing one
    # (A satisfied, B basic after its rework — B's failed verification's "unsatisfied" does not count)
    assert (sthj["returns"], sthj["rework"], sthj["satisfaction"]) == (r(1, 3), r(1, 3), r(2, 2))
    assert sthj["rating"] == {"avg": 3.33, "count": 3}
    # 自然资源局: the extension is honoured (the superseded deadline counts for nothing); E's handling
    # deadline is in December, so it is not in November's closure denominator
    assert zrzy["whistles"] == 2
    assert (zrzy["check_in"], zrzy["on_time"], zrzy["closure"]) == (r(2, 2), r(1, 1), r(1, 1))
    assert (zrzy["returns"], zrzy["rework"], zrzy["satisfaction"]) == (r(0, 2), r(0, 1), r(1, 1))
    assert zrzy["rating"] == {"avg": 4.0, "count": 1}
    # 住建局: C as lead, D and E assisting
    assert zjj["whistles"] == 3
    assert (zjj["check_in"], zjj["on_time"], zjj["closure"]) == (r(3, 3), r(1, 1), r(1, 1))
    # only C's whistle could have been returned: an assisting unit cannot return (D, E)
    assert (zjj["returns"], zjj["rework"], zjj["satisfaction"]) == (r(0, 1), r(0, 1), r(0, 0))
    assert zjj["rating"] == {"avg": None, "count": 0}
    # 市场监管局: never checked in; the overdue check-in is in the denominator
    assert (scjg["whistles"], scjg["check_in"], scjg["on_time"], scjg["returns"]) == (1, r(0, 1), r(0, 0), r(0, 1))
    # composite scores (default weights 20/30/20/10/10/5/5, missing figures left out) and ranks
    assert [(x["code"], x["score"], x["rank"]) for x in data["scorecard"] if x["rank"]] == [
        ("ZJJ", 100.0, 1), ("ZRZY", 99.0, 2), ("STHJ", 81.7, 3), ("SCJG", 33.3, 4)]
    assert card(data, "FC-ZFD")["rank"] is None and card(data, "FC-ZFD")["score"] is None
    assert [x["code"] for x in data["red_list"]] == ["ZJJ", "ZRZY", "STHJ"]
    assert [x["code"] for x in data["black_list"]] == ["SCJG"]
    assert "及时报到率 0.0%（0/1，全县 75.0%）" in data["black_list"][0]["reason"]
    overview = {o["key"]: o for o in data["overview"]}
    assert {k: overview[k]["value"] for k in ("received", "dispatched", "closed", "returns")} == {
        "received": 6, "dispatched": 7, "closed": 4, "returns": 1}
    # 满意率: A satisfied, B basic (its closing answer), D satisfied; C closed with no answer
    assert overview["on_time_rate"]["value"] == r(5, 5) and overview["satisfaction_rate"]["value"] == r(3, 3)
    assert overview["received"]["previous"] == 0 and overview["received"]["change"] is None
    assert {h["code"]: h["count"] for h in data["hotspots"]} == {"ENV01": 3, "LAND01": 2, "MKT01": 1}
    fc = next(t for t in data["by_township"] if t["code"] == "FC")
    assert (fc["received"], fc["closed"], fc["open"]) == (6, 4, 2)
    terms = {d["term"] for d in data["definitions"]}
    assert terms >= {"及时报到率", "按期办结率", "办结率", "退回率", "返工率", "满意率"}


def test_a_case_crossing_the_month_end_counts_in_the_month_it_finishes(november, clock):
    december = bulletin(november, "2026-12", clock)
    zrzy = card(december, "ZRZY")
    assert (zrzy["whistles"], zrzy["on_time"], zrzy["closure"]) == (0, r(1, 1), r(1, 1))
    received = next(o for o in december["overview"] if o["key"] == "received")
    assert (received["value"], received["previous"]) == (0, 6)


def test_rerunning_gives_the_same_figures_even_after_a_calendar_edit(november, clock):
    first = bulletin(november, "2026-11", clock)
    r1 = november.as_("admin").put("/api/v1/calendar/days/2026-11-10", json={"kind": "holiday", "name": "补记"})
    assert r1.status_code == 200
    clock.advance(days=1)
    second = bulletin(november, "2026-11", clock)
    first.pop("generated_at"), second.pop("generated_at")
    assert first == second


def test_every_format_reads_like_the_json(november, clock):
    api = november
    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    out = bulletin_dir(api.settings, "2026-11")
    pdf = api.as_("liaison_fc").get("/api/v1/bulletins/2026-11.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    for heading in ("部门考核排名", "红榜", "黑榜", "口径说明", "生态环境分局", "自然资源局", "住房和城乡建设局"):
        assert heading in text, heading
    xlsx = api.as_("zrzy_liaison").get("/api/v1/bulletins/2026-11.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content))["部门考核"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    by_code = {row[header.index("部门编码")]: row for row in rows[1:] if row[0] is not None}
    for code in ("STHJ", "ZRZY", "ZJJ", "SCJG"):
        row, want = by_code[code], card(data, code)
        heads = ("及时报到率分子", "及时报到率分母", "按期办结率分子", "按期办结率分母")
        assert [row[header.index(h)] for h in heads] \
            == [want["check_in"]["num"], want["check_in"]["den"], want["on_time"]["num"], want["on_time"]["den"]]
        assert (row[header.index("综合得分")], row[header.index("排名")]) == (want["score"], want["rank"])
    html = api.as_("disp_fc").get("/api/v1/bulletins/2026-11.html")
    assert html.status_code == 200 and "部门考核排名" in html.text and "生态环境分局" in html.text
    charts = sorted((out / "charts").glob("*.png"))
    assert charts and all(p.stat().st_size > 2000 for p in charts)
    assert api.as_("disp_fc").get("/api/v1/bulletins/2026-11").json()["scorecard"] == data["scorecard"]
    assert api.as_("disp_fc").get("/api/v1/bulletins/2026-10.pdf").status_code == 404


def test_the_weekly_checkpoint_lists_what_needs_a_push_and_notifies_each_liaison(november, clock):
    api = november
    from chuishao.flows.jobs import run_sweep

    asyncio.run(run_sweep(clock(), api.settings))  # Thursday 3 Dec: F's check-in is long overdue
    week = "2026-W48"  # 23–29 November
    data = asyncio.run(run_checkpoint(week, clock(), api.settings))
    fc = next(t for t in data["townships"] if t["code"] == "FC")
    titles = lambda listing: {c["title"][0] for c in listing["cases"]}  # noqa: E731
    assert (titles(fc["new"]), titles(fc["closed"])) == ({"E"}, {"B"})
    assert titles(fc["overdue"]) == {"F"} and titles(fc["stalled"]) == {"F"}  # untouched since 16 Nov
    assert fc["open_by_step"] == {"3": 1} and fc["awaiting_verification"]["count"] == 0
    scjg = next(d for d in data["departments"] if d["code"] == "SCJG")
    assert (titles(scjg["new"]), titles(scjg["overdue"])) == (set(), {"F"})
    zrzy = next(d for d in data["departments"] if d["code"] == "ZRZY")
    assert (titles(zrzy["new"]), zrzy["overdue"]["count"]) == ({"E"}, 0)
    again = asyncio.run(run_checkpoint(week, clock(), api.settings))  # re-running replaces the record
    assert again["townships"] == data["townships"]
    page = api.as_("liaison_fc").get(f"/api/v1/checkpoints/{week}")
    assert page.status_code == 200 and [t["code"] for t in page.json()["townships"]] == ["FC"]
    assert page.json()["departments"] == []  # a township sees its own section
    assert [d["code"] for d in api.as_("scjg_liaison").get(f"/api/v1/checkpoints/{week}").json()["departments"]] \
        == ["SCJG"]
    html = api.as_("supervisor").get(f"/api/v1/checkpoints/{week}.html")
    assert html.status_code == 200 and "每周一检点" in html.text and "凤城镇" in html.text
    from tests.test_notifications import eventually, inbox

    notes = eventually(lambda: [n for n in inbox(api, "scjg_liaison") if n["kind"] == "checkpoint"])
    assert notes and "市场监督管理局" in notes[0]["title"] and "逾期 1 件" in notes[0]["title"]
