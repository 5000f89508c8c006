"""The demo county's 重大执法决定法制审核 (legal review of major decisions): the county justice bureau (司法局) with its
legal reviewer, a township 司法所 reviewer in 凤城镇, three catalog items marked major (违法建设拆除, 大额罚款,
吊销许可证), and a handful of recent cases through legal review — waiting for the reviewer (one overdue), one
returned once and resubmitted, one approved and waiting for the township's verification, one closed, and one an
ordinary enforcement item the department itself marked major at feedback.

Called from flows/demo/builder.py: `build_org` after the organisation, `plan` after the history is planned. Every
choice comes from the demo's seeded `rng`, so the same seed and clock give the same cases.
"""

from datetime import datetime, time
from typing import TYPE_CHECKING

from chuishao.flows import lifecycle as lc
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.demo.county import ITEM_BY_CODE, TOWNSHIPS, I
from chuishao.flows.demo.plans import working_days_before

if TYPE_CHECKING:
    from chuishao.flows.demo.builder import Demo

JUSTICE_BUREAU = ("SFJ", "文水县司法局")  # a county department: its reviewer covers the whole county
COUNTY_REVIEWER = "sfj_reviewer"
TOWNSHIP_REVIEWER = "fc_sfs_reviewer"  # 凤城镇司法所: a legal reviewer of the township's own unit (docs/access.md)
LOGINS = ("legal_reviewer", [COUNTY_REVIEWER, TOWNSHIP_REVIEWER])

MAJOR_ITEMS = (  # not in the ordinary history (no weight there): only the cases planned below
    I("JS05", "违法建设强制拆除", "城乡建设/违法建设", "ZJJ", ["ZRZY"], "ZRZY", 0, [
        ("{place}违法建设拟强制拆除", "{addr}一处未取得规划许可的两层砖混建筑，经责令限期拆除逾期未拆，拟强制拆除。"),
        ("{place}违建厂房拟拆除", "{addr}在集体土地上违法搭建钢结构厂房约 600 平方米，当事人拒不自行拆除。"),
    ], "经依法催告后组织强制拆除，清运建筑垃圾并恢复原状", enforcement=True),
    I("HJ07", "超标排污大额罚款", "生态环境/废气废水", "STHJ", [], "ZJJ", 0, [
        ("{place}企业超标排放拟处大额罚款", "{addr}一家化工企业废水总排口化学需氧量超标 3.2 倍，拟处罚款 45 万元。"),
    ], "已现场取样并经监测确认超标，拟作出罚款 45 万元、责令停产整治的处罚决定", enforcement=True),
    I("SC04", "吊销食品经营许可证", "市场监管/食品安全", "SCJG", [], "CGJ", 0, [
        ("{place}餐馆拟吊销食品经营许可证", "{addr}一家餐馆一年内三次被查出使用过期原料，拟吊销其食品经营许可证。"),
    ], "已调查取证、告知听证权利，拟作出吊销食品经营许可证的处罚决定", enforcement=True),
)
ITEMS = {i.code: i for i in MAJOR_ITEMS}

APPROVE_NOTES = ("执法主体合法，事实清楚，证据充分，程序合法，适用依据准确，同意作出决定",
                 "经审核，处罚裁量适当，同意")
RETURN_REASONS = ("缺少当事人陈述申辩笔录，且未告知听证权利，请补正程序后重新报审",
                  "处罚依据引用条款有误，罚款数额超出裁量基准，请核实后重新报审")


def _item(item) -> dict:
    return {"code": item.code, "name": item.name, "category": item.category, "lead_unit": item.lead,
            "assist_units": list(item.assists), "enforcement": item.enforcement, "major": True}


async def build_org(demo: "Demo") -> None:
    """The justice bureau and its reviewer, 凤城镇's 司法所 reviewer, and the items marked major."""
    code, name = JUSTICE_BUREAU
    await demo.unit(code, name, "department", demo.county)
    await demo.user(COUNTY_REVIEWER, "legal_reviewer", code)
    await demo.user(TOWNSHIP_REVIEWER, "legal_reviewer", TOWNSHIPS[0].code)
    for item in MAJOR_ITEMS:
        await demo.svc.admin.create_item(_item(item))
    demo.log(f"法制审核 legal review: {name}、凤城镇司法所审核员，重大执法决定事项 {len(MAJOR_ITEMS)} 项")


# (item, township index, working days ago reported, how it goes)
CASES = (
    ("JS05", 0, 6, "waiting"),  # 凤城镇: the township's own 司法所 may review it
    ("HJ07", 2, 5, "waiting"),
    ("SC04", 1, 16, "overdue"),  # submitted long ago and still undecided: its legal review clock is red
    ("SC04", 0, 14, "returned_resubmitted"),
    ("JS05", 3, 12, "approved"),  # approved, now waiting for the township's verification
    ("HJ07", 0, 18, "closed"),
    ("GT01", 4, 6, "department_major"),  # an ordinary enforcement item, marked major by the department
)


def _submit(demo: "Demo", s, item, lead: str, mark_major: bool, note: str = "") -> None:
    """The lead unit's feedback, which goes to legal review (`mark_major`: the department ticks 重大执法决定)."""
    outcome, result = demo.result(item, "resolved")
    officers = demo.pick_officers(lead, s.t.date(), item.enforcement)
    body = {"outcome": outcome, "result": result + note, "officers": officers}
    if mark_major:
        body["major"] = True
    s.do("feedback", demo.actors[officers[0]], body, lc.LEGAL_REVIEW)


def plan(demo: "Demo") -> int:
    """Plan the legal-review cases (after the history); returns how many were planned."""
    made = 0
    for code, tw_index, back, how in CASES:
        item = ITEMS.get(code) or ITEM_BY_CODE[code]
        tw = TOWNSHIPS[tw_index]
        day = working_days_before(demo.cal, demo.now, back)
        t0 = max(datetime.combine(day, time(9 + demo.rng.randrange(6), demo.rng.randrange(60)), LOCAL_TZ),
                 demo.start)
        p, opening = demo.new_plan(tw, item, t0, "inspection")
        opening["urgent"] = False
        opening["body"].pop("urgency", None)
        s = demo.walk(p, opening, end=lc.HANDLING)
        if p.state != lc.HANDLING:
            demo.plans.pop()  # cut off by `now`
            continue
        lead, _ = demo.route(item, tw)
        reviewer = demo.actors[TOWNSHIP_REVIEWER if tw is TOWNSHIPS[0] and demo.rng.random() < 0.7
                               else COUNTY_REVIEWER]
        wd = demo.cal.day_minutes()
        s.spend(demo.rng.uniform(1.0, 2.5) * wd)
        _submit(demo, s, item, lead, how == "department_major")
        made += 1
        if how in ("waiting", "overdue", "department_major"):
            continue  # undecided ever since
        s.spend(demo.rng.uniform(1.0, 3.0) * wd)
        if how == "returned_resubmitted":
            s.do("return_legal_review", reviewer, {"reason": demo.rng.choice(RETURN_REASONS)}, lc.HANDLING)
            s.spend(demo.rng.uniform(1.0, 2.0) * wd)
            _submit(demo, s, item, lead, False, "（已补正程序，重新报审）")
            continue
        s.do("approve_legal_review", reviewer, {"note": demo.rng.choice(APPROVE_NOTES)}, lc.FEEDBACK)
        if how == "closed":
            s.spend(demo.rng.uniform(0.5, 1.5) * wd)
            s.do("verify", demo.actors[f"{tw.prefix}_liaison"],
                 {"passed": True, "note": "已核实，法制审核意见已落实", "satisfaction": "satisfied", "rating": 5},
                 lc.CLOSED)
    demo.log(f"法制审核案件 legal review cases planned: {made}")
    return made
