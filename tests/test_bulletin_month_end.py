"""A known-answer November, built through the API with the injectable clock, whose bulletin is generated as
scheduled just after the month ends, then again in December after the cases have moved on (issue 11): every
figure is worked out by hand from docs/bulletin-definitions.md in the comments below, and the second
generation must give exactly the first.

November 2026 has no holidays (Monday the 2nd); working hours 09:00–12:00 and 13:30–17:30. Limits: accept 2 h,
check-in 1 working day, handling 5 working days (both ending at 17:30 of the last day), verify 2 working days;
escalation one working day after the deadline. The sweep runs at the times given (as it would every minute).

凤城镇 (FC):
  P  秸秆焚烧 → 生态环境分局 (STHJ), never checked in (deadline 3 Nov 17:30): red light 4 Nov, escalated 5 Nov,
     returned 5 Nov after its deadline; re-dispatched to 住建局 (ZJJ), on time throughout; closed 12 Nov, 满意 5
  R  秸秆焚烧 → STHJ, checked in late (11 Nov; deadline 10 Nov 17:30): red light; fed back on time; failed
     verification 17 Nov (不满意, 2); reworked on time; closed 23 Nov (基本满意, 3) — two answers, one counts
  S  违法占地 → 自然资源局 (ZRZY), ZJJ assisting: both on time; handling deadline 23 Nov, but suspended 20 Nov and
     resumed only on 2 Dec (its time stopped before its deadline: never due in November)
  T  违法占地 → ZRZY, ZJJ assisting: handling deadline 24 Nov missed, red light 25 Nov, escalated 26 Nov; a 10-day
     extension granted on 2 Dec (next month) — the missed November deadline stays missed
  Q  食品摊贩 → 市场监督管理局 (SCJG), dispatched 27 Nov, never checked in (deadline 30 Nov 17:30): red light 30 Nov;
     escalated and returned in December — open at the month's end with SCJG leading
  U  秸秆焚烧 → STHJ, dispatched 30 Nov, checked in on time (deadline 1 Dec: a December check-in); closed 3 Dec
刘胡兰镇 (LHL):
  W  rejected (不予受理) on 4 Nov
  X  reported 30 Nov 16:00 as 秸秆焚烧; accepted on 1 Dec as 食品摊贩 (the item as it stood at the month's end counts)
October (the red/black-list sample and the month-on-month figures): SCJG twice (once checked in late, red light
21 Oct), ZRZY once with ZJJ assisting; all closed in October.
"""

import asyncio

import pytest

from chuishao.flows.jobs import run_bulletin, run_sweep
from tests.report_month import at, stepper
from tests.test_bulletin import bulletin, card, r

FIRST_RUN = "2026-12-01T00:10"  # the scheduled run, just after the month ends
LATER_RUN = "2026-12-10T09:00"  # after December has changed S, T, Q, U and X
OFFICERS = ["zrzy_off1", "zrzy_off2"]


@pytest.fixture
def month(county, clock):
    api = county

    step = stepper(api, clock)

    def sweep(when):
        clock.now = at(when)
        asyncio.run(run_sweep(clock(), api.settings))

    def new_case(when, category, title, reporter="gw_fc1", dispatcher="disp_fc", dispatch=True):
        clock.now = at(when)
        case = api.report(who=reporter, title=title)
        step(when, dispatcher, case["id"], "accept", {"category": category})
        if dispatch:
            step(when, dispatcher, case["id"], "dispatch")
        return case["id"]

    # October
    o1 = new_case("2026-10-19T09:00", "MKT01", "O1 早市无证摊贩")
    o3 = new_case("2026-10-20T09:00", "LAND01", "O3 东村违法占地")
    step("2026-10-20T09:30", "zrzy_liaison", o3, "check_in")
    step("2026-10-20T09:40", "zjj_liaison", o3, "check_in")
    sweep("2026-10-21T09:00")  # O1's check-in (deadline 20 Oct 17:30): red light
    step("2026-10-21T10:00", "scjg_liaison", o1, "check_in")
    step("2026-10-22T10:00", "scjg_liaison", o1, "feedback", {"outcome": "resolved", "result": "已取缔"})
    step("2026-10-22T11:00", "zrzy_off1", o3, "feedback", {"outcome": "resolved", "result": "已拆除",
                                                           "officers": OFFICERS})
    o2 = new_case("2026-10-21T11:00", "MKT01", "O2 校门口无证摊贩")
    step("2026-10-21T11:30", "scjg_liaison", o2, "check_in")  # handling deadline 28 Oct: an October one
    step("2026-10-22T10:30", "scjg_liaison", o2, "feedback", {"outcome": "resolved", "result": "已劝离"})
    step("2026-10-23T10:00", "liaison_fc", o1, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 3})
    step("2026-10-23T11:00", "liaison_fc", o3, "verify", {"passed": True, "satisfaction": "basic", "rating": 4})
    step("2026-10-23T11:30", "liaison_fc", o2, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 4})

    # November
    p = new_case("2026-11-02T09:00", "ENV01", "P 东街秸秆焚烧")
    w = api.report(who="gw_lhl", title="W 村口垃圾（重复上报）")["id"]
    step("2026-11-04T09:10", "disp_lhl", w, "reject", {"reason": "重复上报，已在处理"})
    sweep("2026-11-04T10:00")  # P: red light (deadline 3 Nov 17:30)
    sweep("2026-11-05T10:00")  # P: escalated (4 Nov 17:30)
    step("2026-11-05T11:00", "sthj_liaison", p, "return", {"reason": "属住建局职责"})
    step("2026-11-05T11:30", "disp_fc", p, "dispatch", {"lead_unit": "ZJJ"})
    step("2026-11-06T09:00", "zjj_liaison", p, "check_in")  # deadline 6 Nov 17:30
    step("2026-11-11T08:00", "zjj_liaison", p, "feedback", {"outcome": "resolved", "result": "已扑灭"})
    step("2026-11-12T10:00", "liaison_fc", p, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})

    r_ = new_case("2026-11-09T09:00", "ENV01", "R 西街焚烧垃圾")
    sweep("2026-11-11T09:00")  # R's check-in (deadline 10 Nov 17:30): red light
    step("2026-11-11T10:00", "sthj_liaison", r_, "check_in")  # late; handling deadline 18 Nov 17:30
    step("2026-11-16T10:00", "sthj_off", r_, "feedback", {"outcome": "resolved", "result": "已清理"})
    step("2026-11-17T10:00", "liaison_fc", r_, "verify",
         {"passed": False, "note": "整改不到位", "satisfaction": "unsatisfied", "rating": 2})  # rework: 24 Nov
    step("2026-11-20T10:00", "sthj_off", r_, "feedback", {"outcome": "resolved", "result": "已彻底清理"})
    step("2026-11-23T10:00", "liaison_fc", r_, "verify", {"passed": True, "satisfaction": "basic", "rating": 3})

    s_ = new_case("2026-11-16T09:00", "LAND01", "S 南街违法占地")
    step("2026-11-16T10:00", "zrzy_liaison", s_, "check_in")  # handling deadline 23 Nov 17:30
    step("2026-11-16T10:30", "zjj_liaison", s_, "check_in")
    t = new_case("2026-11-17T09:00", "LAND01", "T 北街违法建设")
    step("2026-11-17T09:30", "zrzy_liaison", t, "check_in")  # handling deadline 24 Nov 17:30
    step("2026-11-17T09:40", "zjj_liaison", t, "check_in")
    step("2026-11-20T09:00", "liaison_fc", s_, "suspend", {"reason": "等待土地权属认定"})
    sweep("2026-11-25T09:00")  # T: red light
    sweep("2026-11-26T09:00")  # T: escalated (25 Nov 17:30)
    q = new_case("2026-11-27T09:00", "MKT01", "Q 夜市无证摊贩")
    u = new_case("2026-11-30T09:00", "ENV01", "U 河堤焚烧秸秆")
    step("2026-11-30T10:00", "sthj_liaison", u, "check_in")
    clock.now = at("2026-11-30T16:00")
    x = api.report(who="gw_lhl", title="X 村东头焚烧", category="ENV01")["id"]
    sweep("2026-11-30T18:00")  # Q's check-in (deadline 30 Nov 17:30): red light

    r = api.as_("admin").put("/api/v1/settings/scorecard", json={"list_min_whistles": 3})
    assert r.status_code == 200, r.text
    clock.now = at(FIRST_RUN)
    first = asyncio.run(run_bulletin("2026-11", clock(), api.settings))

    # December moves every case still open
    step("2026-12-01T08:45", "disp_lhl", x, "accept", {"category": "MKT01"})
    sweep("2026-12-02T08:55")  # Q: escalated (1 Dec 17:30)
    step("2026-12-02T09:00", "liaison_fc", s_, "resume")
    step("2026-12-02T10:00", "scjg_liaison", q, "return", {"reason": "不属本局职责"})
    step("2026-12-02T10:00", "zrzy_liaison", t, "request_extension", {"working_days": 10, "reason": "待测绘"})
    step("2026-12-02T11:00", "liaison_fc", t, "approve_extension")
    step("2026-12-02T14:00", "sthj_off", u, "feedback", {"outcome": "resolved", "result": "已扑灭"})
    step("2026-12-03T10:00", "liaison_fc", u, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 4})
    step("2026-12-04T10:00", "zrzy_off1", t, "feedback", {"outcome": "resolved", "result": "已拆除",
                                                          "officers": OFFICERS})
    step("2026-12-07T10:00", "liaison_fc", t, "verify", {"passed": True, "satisfaction": "satisfied", "rating": 5})
    clock.now = at(LATER_RUN)
    ids = {"P": p, "R": r_, "S": s_, "T": t, "Q": q, "U": u, "W": w, "X": x}
    return api, first, ids


def figures(data: dict) -> dict:
    """Everything but when it was generated (and what the run said about publishing it)."""
    return {k: v for k, v in data.items() if k not in ("generated_at", "notice")}


def test_every_figure_of_the_known_month_is_the_one_its_definition_gives(month, clock):
    api, data, ids = month
    ov = {o["key"]: o for o in data["overview"]}
    # 新增事件: reported in November: P R S T Q U W X; October: O1 O2 O3
    assert (ov["received"]["value"], ov["received"]["previous"]) == (8, 3)
    assert ov["received"]["change"] == 1.6667  # (8 − 3) ÷ 3
    # 吹哨派遣: lead whistles dispatched in November: P (STHJ), P again (ZJJ), R, S, T, Q, U; October 3
    assert (ov["dispatched"]["value"], ov["dispatched"]["previous"]) == (7, 3)
    # 核查结案: P (12 Nov), R (23 Nov); U closes in December; October 3
    assert (ov["closed"]["value"], ov["closed"]["previous"], ov["closed"]["change"]) == (2, 3, -0.3333)
    # 按期办结率: handling steps finished in November: P's, R's first and R's rework — all on time
    assert ov["on_time_rate"]["value"] == r(3, 3)
    # 超期（红灯）案件: P, R, T, Q (a step overdue in November) — once each; October: O1
    assert (ov["overdue"]["value"], ov["overdue"]["previous"], ov["overdue"]["change"]) == (4, 1, 3.0)
    # 升级督办案件: P (4 Nov 17:30), T (25 Nov 17:30); Q escalated on 1 Dec 17:30 is December's
    assert (ov["escalated"]["value"], ov["escalated"]["previous"], ov["escalated"]["change"]) == (2, 0, None)
    # 退回: P's first whistle (5 Nov); Q's return on 2 Dec is December's
    assert ov["returns"]["value"] == 1
    # 满意率: one answer per case closed in November: P 满意, R 基本满意 (R's 不满意 at the failed verification
    # does not count); October: 满意, 满意, 基本满意
    assert (ov["satisfaction_rate"]["value"], ov["satisfaction_rate"]["previous"]) == (r(2, 2), r(3, 3))

    towns = {t["code"]: t for t in data["by_township"]}
    # FC: P R S T Q U reported, P R closed, S T Q U open on 30 Nov at midnight, P R T Q overdue
    assert {k: towns["FC"][k] for k in ("received", "closed", "open", "overdue", "on_time")} == \
        {"received": 6, "closed": 2, "open": 4, "overdue": 4, "on_time": r(3, 3)}
    # LHL: W (rejected in November: not open) and X (reported, not yet accepted: open)
    assert {k: towns["LHL"][k] for k in ("received", "closed", "open", "overdue", "on_time")} == \
        {"received": 2, "closed": 0, "open": 1, "overdue": 0, "on_time": r(0, 0)}
    assert sum(t["overdue"] for t in data["by_township"]) == ov["overdue"]["value"]  # the townships add up

    # 及时报到率: check-ins due in November — STHJ: P (missed, returned after), R (late); ZJJ: P, S, T;
    # ZRZY: S, T; SCJG: Q (missed, returned in December). U's check-in was due on 1 Dec.
    # 按期办结率: STHJ R twice; ZJJ P. 办结率: handling deadlines that fell due in November — STHJ R (closed);
    # ZJJ P (closed); ZRZY T (missed before its December extension; open) — not S (suspended before its deadline).
    # 退回率: lead whistles dispatched or returned in November — STHJ P, R, U (P returned); ZJJ P; ZRZY S, T;
    # SCJG Q (returned only in December). 返工率: verifications in November — STHJ R failed, R passed; ZJJ P.
    # 满意率: closed in November — STHJ R (基本满意), ZJJ P (满意). 评分: STHJ (2 + 3) ÷ 2, ZJJ 5.
    expected = {
        "STHJ": dict(whistles=3, whistles_3m=3, check_in=r(0, 2), on_time=r(2, 2), closure=r(1, 1),
                     returns=r(1, 3), rework=r(1, 2), satisfaction=r(1, 1), rating={"avg": 2.5, "count": 2}),
        "ZJJ": dict(whistles=3, whistles_3m=4, check_in=r(3, 3), on_time=r(1, 1), closure=r(1, 1),
                    returns=r(0, 1), rework=r(0, 1), satisfaction=r(1, 1), rating={"avg": 5.0, "count": 1}),
        "ZRZY": dict(whistles=2, whistles_3m=3, check_in=r(2, 2), on_time=r(0, 0), closure=r(0, 1),
                     returns=r(0, 2), rework=r(0, 0), satisfaction=r(0, 0), rating={"avg": None, "count": 0}),
        "SCJG": dict(whistles=1, whistles_3m=3, check_in=r(0, 1), on_time=r(0, 0), closure=r(0, 0),
                     returns=r(0, 1), rework=r(0, 0), satisfaction=r(0, 0), rating={"avg": None, "count": 0}),
    }
    for code, want in expected.items():
        assert {k: card(data, code)[k] for k in want} == want, code
    # 综合得分 with the default weights (20 30 20 10 10 5 5), over the figures that have a denominator:
    # STHJ (20·0 + 30·1 + 20·1 + 10·⅔ + 10·½ + 5·1 + 5·2.5/5) ÷ 100 = 69.1667 → 69.2; ZJJ all full → 100;
    # ZRZY (20·1 + 20·0 + 10·1) ÷ 50 = 60; SCJG (20·0 + 10·1) ÷ 30 = 33.333… → 33.3
    assert [(c["code"], c["score"], c["rank"]) for c in data["scorecard"] if c["rank"]] == \
        [("ZJJ", 100.0, 1), ("STHJ", 69.2, 2), ("ZRZY", 60.0, 3), ("SCJG", 33.3, 4)]
    assert card(data, "FC-ZFD")["score"] is None and [u["code"] for u in data["unranked"]] == ["FC-ZFD"]
    # the lists sample three months (at least 3 whistles): SCJG's one November whistle and two October ones make
    # it eligible, so the slowest department is named however little it was whistled this month
    assert [x["code"] for x in data["red_list"]] == ["ZJJ", "STHJ", "ZRZY"]
    assert [(x["code"], x["whistles_3m"]) for x in data["black_list"]] == [("SCJG", 3)]

    depts = {d["code"]: d for d in data["by_department"]}
    # 结案 by the lead unit of the closed case; 未结 by the lead unit in force at the month's end (Q: SCJG, though
    # SCJG returned it in December); 超期 — cases with a red light on the unit's own step
    assert {c: (d["closed"], d["open"], d["overdue"]) for c, d in depts.items()} == {
        "STHJ": (1, 1, 2), "ZJJ": (1, 0, 0), "ZRZY": (0, 2, 1), "SCJG": (0, 1, 1), "FC-ZFD": (0, 0, 0)}

    # 超期案件: escalated first, by the step's deadline, then red lights
    listed = [(c["id"], c["level"], c["unit"]) for c in data["overdue_cases"]]
    assert listed == [(ids["P"], "escalated", "生态环境分局"), (ids["T"], "escalated", "自然资源局"),
                      (ids["R"], "overdue", "生态环境分局"), (ids["Q"], "overdue", "市场监督管理局")]
    # 热点事项: November's cases by the item they had at the month's end — X counts as 秸秆焚烧
    assert {h["code"]: h["count"] for h in data["hotspots"]} == {"ENV01": 4, "LAND01": 2, "MKT01": 1}


def test_generating_the_month_again_after_december_changed_its_cases_gives_the_same_figures(month, clock):
    api, first, ids = month
    # December really did move the cases: S resumed (its deadline now in December), T extended, Q returned
    # (no lead unit), U and T closed, X re-classified
    s, t, q, x = (api.get("supervisor", ids[k]) for k in ("S", "T", "Q", "X"))
    assert s["status"] == "handling" and s["deadline"].startswith("2026-12")
    assert t["status"] == "closed" and q["status"] == "returned" and x["category"] == "MKT01"
    again = bulletin(api, "2026-11", clock)
    assert figures(again) == figures(first)
    stored = asyncio.run(run_bulletin("2026-11", clock(), api.settings))
    assert figures(stored) == figures(first)
