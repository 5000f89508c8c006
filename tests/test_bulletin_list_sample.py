"""Red/black-list eligibility is decided on a three-month sample, not on one month's volume (issue 11): a unit
is eligible when it received at least `list_min_whistles` (here the default 5) whistles over the bulletin's
month and the two before; ranking and scores stay the month's.

November 2026 bulletin; the sample window is 1 September – 30 November (Beijing time).
  STHJ    2 whistles in November (never checked in), 2 in September, 2 in October: 6 → eligible, and being the
          slowest, black-listed (under a this-month rule it escaped with 2)
  SCJG    5 in November, checked in on time: 5 → eligible
  ZRZY    5 in November (LAND01), checked in on time: 5 → eligible; ZJJ assists each: 5 → eligible
  FC-ZFD  4 in November (never checked in) and 2 on 31 August, outside the window: 4 → not eligible, so as
          slow as STHJ yet on no list (a four-month window would have counted 6)
"""

import asyncio
import io

from openpyxl import load_workbook

from chuishao.flows.jobs import run_bulletin
from tests.test_bulletin import at, bulletin, card

LIAISON = {"LAND01": ["zrzy_liaison", "zjj_liaison"], "MKT01": ["scjg_liaison"]}


def whistle(api, clock, when, category, check_in=False):
    clock.now = at(when)
    case = api.report(title=f"{category} {when}")
    api.act("disp_fc", case["id"], "accept", {"category": category})
    api.act("disp_fc", case["id"], "dispatch")
    for who in LIAISON.get(category, []) if check_in else []:
        clock.now = at(when.replace("T09:00", "T10:00"))
        api.act(who, case["id"], "check_in")


def test_eligibility_counts_whistles_over_three_months(county, clock):
    api = county
    r = api.as_("admin").put("/api/v1/settings/scorecard", json={"list_min_whistles": 5})
    assert r.status_code == 200, r.text
    for day in ("2026-08-31", "2026-08-31"):
        whistle(api, clock, f"{day}T09:00", "STALL01")
    for day in ("2026-09-14", "2026-09-15", "2026-10-12", "2026-10-13", "2026-11-02", "2026-11-03"):
        whistle(api, clock, f"{day}T09:00", "ENV01")
    for day in ("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"):
        whistle(api, clock, f"{day}T09:00", "MKT01", check_in=True)
        whistle(api, clock, f"{day}T09:00", "LAND01", check_in=True)
    for day in ("2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12"):
        whistle(api, clock, f"{day}T09:00", "STALL01")

    clock.now = at("2026-12-03T09:00")
    data = bulletin(api, "2026-11", clock)
    counts = {x["code"]: (x["whistles"], x["whistles_3m"], x["list_eligible"]) for x in data["scorecard"]}
    assert counts == {"STHJ": (2, 6, True), "SCJG": (5, 5, True), "ZRZY": (5, 5, True), "ZJJ": (5, 5, True),
                      "FC-ZFD": (4, 4, False)}
    # scores stay November's: the two slow units are equally bad, only the eligible one is black-listed
    assert card(data, "STHJ")["score"] == card(data, "FC-ZFD")["score"] < card(data, "SCJG")["score"]
    assert [x["code"] for x in data["black_list"]] == ["STHJ"]
    assert data["black_list"][0]["whistles_3m"] == 6
    assert {x["code"] for x in data["red_list"]} == {"SCJG", "ZRZY", "ZJJ"}
    assert card(data, "FC-ZFD")["rank"] is not None  # ranked, just not listed
    rule = next(d["definition"] for d in data["definitions"] if d["term"] == "红榜、黑榜")
    assert "近三个月" in rule and "近三月接哨数" in rule

    asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    book = load_workbook(io.BytesIO(api.as_("supervisor").get("/api/v1/bulletins/2026-11.xlsx").content))
    rows = list(book["部门考核"].iter_rows(values_only=True))
    col = rows[0].index("近三月接哨数")
    by_code = {row[rows[0].index("部门编码")]: row[col] for row in rows[1:]}
    assert by_code == {"STHJ": 6, "SCJG": 5, "ZRZY": 5, "ZJJ": 5, "FC-ZFD": 4}
    lists = list(book["红黑榜"].iter_rows(values_only=True))
    black = next(row for row in lists if row[0] == "黑榜")
    assert black[lists[0].index("近三月接哨数")] == 6
    # the printed bulletin shows the sample beside each unit and says who is ranked but kept off the lists
    html = api.as_("supervisor").get("/api/v1/bulletins/2026-11.html").text
    assert "近三月接哨数" in html.split("附：口径说明")[0]
    assert "不列入红黑榜：凤城镇综合行政执法队（第" in html and "近三月接哨 4 个" in html
