"""案卷评查 (case-file review, issue 15): draws, assignments, scores, finalisation, results and the yearly report.
Thin: every rule lives in flows/case_review.py (docs/case-review.md)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from chuishao.api.deps import ActorDep, NowDep, ServicesDep
from chuishao.api.limits import GuardedRoute
from chuishao.api.schemas import BINARY, TEXT
from chuishao.flows import case_review as cr
from chuishao.flows.periods import FIRST_YEAR, LAST_YEAR
from chuishao.flows.reports.case_review import YEARLY_FORMATS, render_yearly

router = APIRouter(prefix="/case-review", tags=["case-review"], route_class=GuardedRoute)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
JSONBody = Annotated[dict[str, Any] | None, Body()]


def service(svc) -> cr.CaseReviewService:
    return cr.CaseReviewService(svc.db)


@router.post("/draws", status_code=201, summary="抽取案卷（县级监督）")
async def draw(who: ActorDep, svc: ServicesDep, now: NowDep, body: JSONBody = None):
    """Body: `{"period": "2026-Q3", "seed": 20261001, "size": 2}` (or `"share": 10` percent per unit; `units`: unit
    codes to limit the draw to). The sample per lead unit is recorded with its seed and parameters."""
    return await service(svc).draw(who, body, now)


@router.get("/draws", summary="抽样记录")
async def draws(who: ActorDep, svc: ServicesDep):
    return await service(svc).list_draws(who)


@router.get("/draws/{draw_id}", summary="一次抽样（参数、抽中的案卷、评查情况，及按同一种子重新抽取是否一致）")
async def get_draw(draw_id: Id, who: ActorDep, svc: ServicesDep):
    s = service(svc)
    view = await s.get_draw(who, draw_id)
    again = await s.reproduce(draw_id)
    return {**view, "reproduced": again == view["case_ids"], "redrawn_case_ids": again}


@router.post("/draws/{draw_id}/finalise", summary="定稿本次抽样中六项均已评定的案卷")
async def finalise_draw(draw_id: Id, who: ActorDep, svc: ServicesDep, now: NowDep):
    return {"finalised": await service(svc).finalise_draw(who, draw_id, now)}


@router.get("/reviewers", summary="可指定的评查人员")
async def reviewers(who: ActorDep, svc: ServicesDep):
    cr._readers_only(who)
    return await service(svc).reviewers()


@router.get("/reviews/mine", summary="我的评查案卷")
async def mine(who: ActorDep, svc: ServicesDep):
    return await service(svc).my_reviews(who)


@router.get("/reviews/{review_id}", summary="一件评查案卷（评查人员本人、县级监督、管理员）")
async def review(review_id: Id, who: ActorDep, svc: ServicesDep):
    return await service(svc).get_review(who, review_id)


@router.put("/reviews/{review_id}/reviewer", summary="指定评查人员（县级监督）")
async def assign(review_id: Id, who: ActorDep, svc: ServicesDep, now: NowDep, body: JSONBody = None):
    """Body: `{"reviewer": "sfj_reviewer1"}`: a legal reviewer or county supervisor outside the case's lead unit."""
    return await service(svc).assign(who, review_id, body, now)


@router.put("/reviews/{review_id}/scores", summary="评分（指定的评查人员，定稿前可修改）")
async def score(review_id: Id, who: ActorDep, svc: ServicesDep, now: NowDep, body: JSONBody = None):
    """Body: `{"scores": {"evidence": {"passed": false, "note": "询问笔录缺当事人签名"}, "law": {"passed": true}}}`;
    points: subject, evidence, procedure, law, decision, documents. A fail needs a note (422 otherwise)."""
    return await service(svc).score(who, review_id, body, now)


@router.post("/reviews/{review_id}/finalise", summary="定稿（县级监督）")
async def finalise(review_id: Id, who: ActorDep, svc: ServicesDep, now: NowDep):
    return await service(svc).finalise(who, review_id, now)


@router.get("/results", summary="案卷合格率（按定稿时间统计）")
async def results(who: ActorDep, svc: ServicesDep, period: Annotated[str, Query(max_length=10)]):
    """`period`: 2026, 2026-Q3 or 2026-10; the reviews finalised in it, per department, with the failed points."""
    cr._readers_only(who)
    name, start, end = cr.parse_period(period)
    async with svc.db.read() as s:
        return {"period": name, **await cr.results(s, start, end)}


@router.get("/reports/{year}", summary="年度案卷评查报告（JSON；加 ?format=html / pdf / xlsx 取文件）",
            responses={200: {"content": {"text/html": TEXT, "application/pdf": BINARY,
                                         YEARLY_FORMATS["xlsx"]: BINARY}}})
async def yearly(year: Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR)], who: ActorDep, svc: ServicesDep,
                 now: NowDep, format: Annotated[str | None, Query(pattern="^(html|pdf|xlsx)$")] = None):
    data = await cr.yearly(svc.db, who, year, now)
    if format is None:
        return data
    headers = {} if format == "html" else {
        "Content-Disposition": f'attachment; filename="case-review-{year}.{format}"'}
    return Response(render_yearly(data, format), media_type=YEARLY_FORMATS[format], headers=headers)
