"""The demo county's 案卷评查 (case-file review): the county 司法局 with two legal reviewers (made if absent), one
quarter's recorded draw (two closed cases per lead unit), reviewers assigned, most cases scored with a few failed
points and realistic notes, most of the scored ones finalised by the supervisor. Runs after the history's replay,
through flows/case_review.py; deterministic for a given demo (its seed and clock)."""

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from chuishao.flows.case_review import POINT_KEYS, CaseReviewService, parse_period
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.demo.county import COUNTY_CODE
from chuishao.flows.errors import Invalid
from chuishao.models.cases import Case
from chuishao.models.catalog import CatalogItem

JUSTICE = ("SFJ", "文水县司法局")  # 司法局: where the county's legal reviewers (法制审核员) sit
REVIEWERS = ("sfj_reviewer1", "sfj_reviewer2")
PER_UNIT = 2  # cases drawn per lead unit
MIN_CANDIDATES = 8  # a quarter with fewer closed cases is too thin to show: the current quarter is drawn instead
UNSCORED_SHARE, FAIL_SHARE, UNFINALISED = 0.15, 0.3, 2
# what a reviewer writes when a point fails, per point (评查常见问题)
FAIL_NOTES = {
    "subject": ("现场检查仅一名执法人员在场，另一人未出示执法证", "执法人员执法证已过有效期"),
    "evidence": ("询问笔录缺当事人签名", "现场照片未标注拍摄时间和地点", "缺少现场勘验笔录，违法面积无测量依据"),
    "procedure": ("未送达责令改正通知书即作出处理决定", "告知书送达回证缺失，无法证明已履行告知程序"),
    "law": ("处理决定书未载明法律依据条款", "引用《土地管理法》条款序号有误"),
    "decision": ("罚款数额未说明裁量理由", "处理结果与违法情节不相当，未责令恢复原状"),
    "documents": ("文书未加盖执法机关印章", "执法文书编号不连续，日期填写不全"),
}
PASS_NOTES = ("", "", "材料齐全", "符合规定")


def _quarter(d: datetime) -> str:
    local = d.astimezone(LOCAL_TZ)
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"


async def _closed_in(svc, start: datetime, end: datetime) -> int:
    """The closed enforcement cases in [start, end): the draw's candidates (flows/case_review.py)."""
    async with svc.db.read() as s:
        return (await s.execute(select(func.count()).select_from(Case)
                                .join(CatalogItem, CatalogItem.code == Case.category).where(
            CatalogItem.enforcement.is_(True), Case.status == "closed", Case.closed_at >= start,
            Case.closed_at < end))).scalar_one()


async def build_case_review(svc, demo) -> None:
    """Add the case-file review to a replayed demo (`demo`: flows/demo/builder.Demo, after `replay`)."""
    if JUSTICE[0] not in demo.units:
        await demo.unit(JUSTICE[0], JUSTICE[1], "department", COUNTY_CODE)
    reviewers = [name for name, a in demo.actors.items() if a.role == "legal_reviewer"]
    for name in REVIEWERS if not reviewers else ():
        await demo.user(name, "legal_reviewer", JUSTICE[0])
        reviewers.append(name)
    rng = random.Random(demo.rng.getrandbits(32))
    now = demo.now
    this_q = parse_period(_quarter(now))
    period, start, end = parse_period(_quarter(this_q[1] - timedelta(days=1)))  # the quarter before this one
    if await _closed_in(svc, start, end) < MIN_CANDIDATES:
        period, start, end = this_q
        if not await _closed_in(svc, start, now + timedelta(seconds=1)):
            demo.log("案卷评查 case-file review: 本季度尚无结案案件，未抽样 no closed case to draw from yet")
            return
    drawn_at = min(end + timedelta(days=3, hours=10), now - timedelta(days=2))
    drawn_at = min(max(drawn_at, start + timedelta(days=1)), now - timedelta(hours=1))
    service = CaseReviewService(svc.db)
    supervisor = demo.actors["supervisor"]
    seed = int(drawn_at.astimezone(LOCAL_TZ).strftime("%Y%m%d"))
    try:
        draw = await service.draw(supervisor, {"period": period, "seed": seed, "size": PER_UNIT,
                                               "note": "季度行政执法案卷评查"}, drawn_at)
    except Invalid as exc:  # nothing closed by the draw's time: a demo of a few days
        demo.log(f"案卷评查 case-file review: {exc.zh}")
        return
    span = now - drawn_at
    reviews = draw["reviews"]
    for i, r in enumerate(reviews):
        await service.assign(supervisor, r["id"], {"reviewer": reviewers[i % len(reviewers)]},
                             drawn_at + span * 0.05)
    scored = []
    for i, r in enumerate(reviews):
        if rng.random() < UNSCORED_SHARE:
            continue  # still waiting for its reviewer
        scores = {k: {"passed": True, "note": rng.choice(PASS_NOTES)} for k in POINT_KEYS}
        if rng.random() < FAIL_SHARE:
            for point in rng.sample(POINT_KEYS, 1 + (rng.random() < 0.3)):
                scores[point] = {"passed": False, "note": rng.choice(FAIL_NOTES[point])}
        reviewer = demo.actors[reviewers[i % len(reviewers)]]
        await service.score(reviewer, r["id"], {"scores": scores}, drawn_at + span * (0.1 + 0.6 * i / len(reviews)))
        scored.append(r["id"])
    for rid in scored[:max(0, len(scored) - UNFINALISED)]:
        await service.finalise(supervisor, rid, drawn_at + span * 0.8)
    demo.log(f"案卷评查 case-file review: {period} 抽取 {len(reviews)} 件，已评 {len(scored)} 件，"
             f"定稿 {max(0, len(scored) - UNFINALISED)} 件（评查人员 {', '.join(reviewers)}）")
