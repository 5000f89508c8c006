"""The bulletin's definitions as an auditor recomputes them (issue 11; docs/bulletin-definitions.md): rounding
half up, 退回率 over the whistles that could have been returned, 超期（红灯）and 升级督办 as cases, lists that say
they are cut, and an appendix that defines every overview figure. Each month is built through the API with the
injectable clock; every expected figure is worked out from the definition in the comment beside it.
(满意率 — one answer per closed case — is asserted on tests/test_bulletin.py's November, case B.)"""

import asyncio
import io
from decimal import ROUND_HALF_UP, Decimal

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from chuishao.flows.jobs import run_bulletin, run_sweep
from chuishao.flows.reports import common
from chuishao.models.clocks import Alert
from chuishao.models.db import Database
from tests.report_month import build_month, stepper
from tests.test_bulletin import at, bulletin, card, november, r  # noqa: F401 (the fixture)


def half_up(value: str, places: str) -> float:
    return float(Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def overview(data) -> dict:
    return {o["key"]: o["value"] for o in data["overview"]}


def test_scores_and_rates_round_half_up_where_they_are_stored_and_shown(november, clock):  # noqa: F811
    api = november
    # weights 及时报到率 3, 按期办结率 5, nothing else: 生态环境分局's score is
    # 100 × (3 × 1/2 + 5 × 3/3) ÷ 8 = 81.25 — a tie that half-even rounding would make 81.2
    weights = {"check_in": 3, "on_time": 5, "closure": 0, "returns": 0, "rework": 0, "satisfaction": 0, "rating": 0}
    put = api.as_("admin").put("/api/v1/settings/scorecard", json={"weights": weights, "list_min_whistles": 1})
    assert put.status_code == 200, put.text
    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    sthj = card(data, "STHJ")
    assert (sthj["check_in"], sthj["on_time"]) == (r(1, 2), r(3, 3))
    assert sthj["score"] == half_up("81.25", "0.1") == 81.3
    html = api.as_("supervisor").get("/api/v1/bulletins/2026-11.html").text
    assert "81.30" in html and "81.20" not in html
    pdf = api.as_("supervisor").get("/api/v1/bulletins/2026-11.pdf")
    assert "81.30" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    book = load_workbook(io.BytesIO(api.as_("supervisor").get("/api/v1/bulletins/2026-11.xlsx").content))
    rows = list(book["部门考核"].iter_rows(values_only=True))
    assert rows[1 + [row[1] for row in rows[1:]].index("STHJ")][rows[0].index("综合得分")] == 81.3
    # what every format shows: 1/16 is 6.25 % → "6.3%", an average of 4.125 → "4.13"
    assert common.rate_text({"num": 1, "den": 16, "rate": 0.0625}) == "6.3%（1/16）"
    assert common.pct(0.0625) == "6.3%" and common.score_text(4.125) == "4.13"
    assert common.rating_text({"avg": 4.125, "count": 8}) == "4.13分（8次）"


def test_returns_are_a_share_of_the_lead_whistles_that_could_be_returned(november, clock):  # noqa: F811
    api = november

    step = stepper(api, clock)

    # G: dispatched to 生态环境分局 on 31 December, returned on 4 January
    clock.now = at("2026-12-31T15:00")
    g = api.report(title="G 河道倾倒垃圾")["id"]
    step("2026-12-31T15:00", "disp_fc", g, "accept", {"category": "ENV01"})
    step("2026-12-31T15:10", "disp_fc", g, "dispatch")
    step("2027-01-04T09:00", "sthj_liaison", g, "return", {"reason": "属水利局职责"})
    clock.now = at("2027-02-01T09:00")

    nov = bulletin(api, "2026-11", clock)
    # November: 生态环境分局 led A, B, C and returned C → 1/3; 住建局 led C only (D, E it assisted and could
    # not return) → 0/1, though it received three whistles; 自然资源局 led D, E → 0/2
    assert (card(nov, "STHJ")["returns"], card(nov, "ZJJ")["returns"], card(nov, "ZRZY")["returns"]) \
        == (r(1, 3), r(0, 1), r(0, 2))
    assert card(nov, "ZJJ")["whistles"] == 3
    # December: G was dispatched and not yet returned → 0/1; January: G was returned, dispatched earlier → 1/1
    assert card(bulletin(api, "2026-12", clock), "STHJ")["returns"] == r(0, 1)
    january = bulletin(api, "2027-01", clock)
    assert card(january, "STHJ")["returns"] == r(1, 1) and overview(january)["returns"] == 1


def alerts(settings, level: str) -> int:
    async def count():
        db = Database(settings.url)
        try:
            async with db.read() as s:
                return (await s.execute(select(func.count()).select_from(Alert).where(Alert.level == level))
                        ).scalar_one()
        finally:
            await db.dispose()

    return asyncio.run(count())


def test_overdue_and_escalated_count_cases_and_the_township_table_adds_up(county, clock):
    api = county
    ids = build_month(api, clock)
    # ALPHA (凤城镇, 生态环境分局) and BRAVO (刘胡兰镇, 自然资源局 leading, 住建局 assisting) never checked in:
    # three check-in clocks went red and were escalated, on two cases
    assert (alerts(api.settings, "overdue"), alerts(api.settings, "escalated")) == (3, 3)
    data = bulletin(api, "2026-11", clock)
    figures = overview(data)
    assert (figures["overdue"], figures["escalated"]) == (2, 2)
    labels = {o["key"]: o["label"] for o in data["overview"]}
    assert (labels["overdue"], labels["escalated"]) == ("超期（红灯）案件", "升级督办案件")
    towns = {t["code"]: t["overdue"] for t in data["by_township"]}
    assert (towns["FC"], towns["LHL"]) == (1, 1) and sum(towns.values()) == figures["overdue"]
    departments = {d["code"]: d["overdue"] for d in data["by_department"]}
    assert (departments["STHJ"], departments["ZRZY"], departments["ZJJ"], departments["SCJG"]) == (1, 1, 1, 0)
    listed = data["overdue_cases"]
    assert sorted(c["id"] for c in listed) == sorted([ids["alpha"], ids["bravo"]]) == sorted({c["id"] for c in listed})
    assert {c["level_label"] for c in listed} == {"升级督办"}  # each case at its most severe level


def test_a_cut_case_list_says_so_and_the_workbook_has_every_case(county, clock):
    api = county
    # 51 reports on 2 November that nobody accepted: each township accept step (2 hours) goes red
    clock.now = at("2026-11-02T08:30")
    ids = [api.report(title=f"无人受理{i:02d}")["id"] for i in range(51)]
    clock.now = at("2026-11-03T09:00")
    asyncio.run(run_sweep(clock(), api.settings))
    clock.now = at("2026-12-01T09:00")
    data = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert overview(data)["overdue"] == 51 and len(data["overdue_cases"]) == 51
    assert {c["id"] for c in data["overdue_cases"]} == set(ids)
    assert next(t for t in data["by_township"] if t["code"] == "FC")["overdue"] == 51
    last = data["overdue_cases"][50]["code"]
    html = api.as_("supervisor").get("/api/v1/bulletins/2026-11.html").text
    assert "共 51 件，列出前 50 件" in html and last not in html
    pdf = api.as_("supervisor").get("/api/v1/bulletins/2026-11.pdf")
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "共51件，列出前50件" in text and last not in text
    book = load_workbook(io.BytesIO(api.as_("supervisor").get("/api/v1/bulletins/2026-11.xlsx").content))
    rows = list(book["超期督办"].iter_rows(values_only=True))
    assert sorted(row[1] for row in rows[1:] if row[0] == "超期") == sorted(ids)


def test_the_appendix_defines_every_overview_figure_and_each_changed_rule(november, clock):  # noqa: F811
    data = bulletin(november, "2026-11", clock)
    terms = {d["term"]: d["definition"] for d in data["definitions"]}
    assert {o["label"] for o in data["overview"]} <= set(terms)
    assert "主办哨令" in terms["退回率"] and "协办哨令不计入分母" in terms["退回率"]
    assert "每件案件只计一个答复" in terms["满意率"] and "结案" in terms["满意率"]
    assert "只计一次" in terms["超期（红灯）案件"] and "合计等于全县数" in terms["超期（红灯）案件"]
    assert "只计一次" in terms["升级督办案件"]
    assert "共 N 件，列出前 50 件" in terms["案件清单"]
    assert "四舍五入" in terms["数值修约"] and "4.125 记为 4.13" in terms["数值修约"]


def test_a_check_in_that_fell_due_and_never_happened_counts_though_the_whistle_was_returned(
        november, clock):  # noqa: F811
    api = november

    def dispatched(title, when="2026-12-07T09:00"):
        clock.now = at(when)
        case_id = api.report(title=title)["id"]
        api.act("disp_fc", case_id, "accept", {"category": "MKT01"})
        api.act("disp_fc", case_id, "dispatch")
        return case_id

    # three whistles to 市场监管局 on Monday 7 December, check-in due Tuesday 8 December 17:30
    h, i, j = dispatched("H 夜市占道"), dispatched("I 流动摊贩"), dispatched("J 无证小吃")
    clock.now = at("2026-12-07T11:00")
    api.act("scjg_liaison", j, "return", {"reason": "属综合执法职责"})  # returned before it fell due
    clock.now = at("2026-12-09T10:00")
    api.act("scjg_liaison", i, "check_in")  # checked in late
    clock.now = at("2026-12-10T10:00")
    api.act("scjg_liaison", h, "return", {"reason": "属综合执法职责"})  # never checked in, returned after
    clock.now = at("2027-01-04T09:00")
    december = bulletin(api, "2026-12", clock)
    # due in December: H (missed, then returned) and I (late); J was returned before its deadline
    assert card(december, "SCJG")["check_in"] == r(0, 2)
    # November is unchanged: F never checked in, due 17 November
    assert card(bulletin(api, "2026-11", clock), "SCJG")["check_in"] == r(0, 1)
