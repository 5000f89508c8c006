"""案卷评查 (case-file review, issue 15): draws, assignments, scores, finalisation, results and the yearly report.
Thin: every rule lives in flows/case_review.py (docs/case-review.md)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from chuishao.api.case_review_schemas import (
    ASSIGNED_ONLY,
    ASSIGNED_OR_READERS,
    READERS_ONLY,
    REVIEWERS_ONLY,
    SUPERVISOR_ONLY,
    DrawFinalised,
    DrawShown,
    DrawView,
    Results,
    ReviewerView,
    ReviewView,
    YearlyReport,
)
from chuishao.api.deps import ActorDep, NowDep, ServicesDep
from chuishao.api.limits import GuardedRoute
from chuishao.api.schemas import BINARY, TEXT, parsed_body
from chuishao.flows import case_review as cr
from chuishao.flows.periods import FIRST_YEAR, LAST_YEAR
from chuishao.flows.reports.case_review import YEARLY_FORMATS, render_yearly

router = APIRouter(prefix="/case-review", tags=["case-review"], route_class=GuardedRoute)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
JSONBody = Annotated[dict[str, Any] | None, Body()]


def service(svc: ServicesDep) -> cr.CaseReviewService:
    return cr.CaseReviewService(svc.db)


ReviewsDep = Annotated[cr.CaseReviewService, Depends(service)]  # the service over the request's database


@router.post("/draws", status_code=201, summary="抽取案卷（县级监督）", response_model=DrawView,
             openapi_extra=parsed_body(cr.DrawIn),
             responses=SUPERVISOR_ONLY)
async def draw(who: ActorDep, reviews: ReviewsDep, now: NowDep, body: JSONBody = None):
    """Body: `{"period": "2026-Q3", "seed": 20261001, "size": 2}` (or `"share": 10` percent per unit; `units`: unit
    codes to limit the draw to). The sample per lead unit is recorded with its seed and parameters."""
    return await reviews.draw(who, body, now)


@router.get("/draws", summary="抽样记录", response_model=list[DrawView], responses=READERS_ONLY)
async def draws(who: ActorDep, reviews: ReviewsDep):
    return await reviews.list_draws(who)


@router.get("/draws/{draw_id}", summary="一次抽样（参数、抽中的案卷、评查情况，及按同一种子重新抽取是否一致）",
            response_model=DrawShown, responses=READERS_ONLY)
async def get_draw(draw_id: Id, who: ActorDep, reviews: ReviewsDep):
    view = await reviews.get_draw(who, draw_id)
    again = await reviews.reproduce(draw_id)
    return {**view, "reproduced": again == view["case_ids"], "redrawn_case_ids": again}


@router.post("/draws/{draw_id}/finalise", summary="定稿本次抽样中六项均已评定的案卷", response_model=DrawFinalised,
             responses=SUPERVISOR_ONLY)
async def finalise_draw(draw_id: Id, who: ActorDep, reviews: ReviewsDep, now: NowDep):
    return {"finalised": await reviews.finalise_draw(who, draw_id, now)}


@router.get("/reviewers", summary="可指定的评查人员", response_model=list[ReviewerView], responses=READERS_ONLY)
async def reviewers(who: ActorDep, reviews: ReviewsDep):
    cr._readers_only(who)
    return await reviews.reviewers()


@router.get("/reviews/mine", summary="我的评查案卷", response_model=list[ReviewView], responses=REVIEWERS_ONLY)
async def mine(who: ActorDep, reviews: ReviewsDep):
    return await reviews.my_reviews(who)


@router.get("/reviews/{review_id}", summary="一件评查案卷（评查人员本人、县级监督、管理员）", response_model=ReviewView,
            responses=ASSIGNED_OR_READERS)
async def review(review_id: Id, who: ActorDep, reviews: ReviewsDep):
    return await reviews.get_review(who, review_id)


@router.put("/reviews/{review_id}/reviewer", summary="指定评查人员（县级监督）", response_model=ReviewView,
            openapi_extra=parsed_body(cr.AssignIn),
            responses=SUPERVISOR_ONLY)
async def assign(review_id: Id, who: ActorDep, reviews: ReviewsDep, now: NowDep, body: JSONBody = None):
    """Body: `{"reviewer": "sfj_reviewer1"}`: a legal reviewer or county supervisor outside the case's lead unit."""
    return await reviews.assign(who, review_id, body, now)


@router.put("/reviews/{review_id}/scores", summary="评分（指定的评查人员，定稿前可修改）", response_model=ReviewView,
            openapi_extra=parsed_body(cr.ScoresIn),
            responses=ASSIGNED_ONLY)
async def score(review_id: Id, who: ActorDep, reviews: ReviewsDep, now: NowDep, body: JSONBody = None):
    """Body: `{"scores": {"evidence": {"passed": false, "note": "询问笔录缺当事人签名"}, "law": {"passed": true}}}`;
    points: subject, evidence, procedure, law, decision, documents. A fail needs a note (422 otherwise)."""
    return await reviews.score(who, review_id, body, now)


@router.post("/reviews/{review_id}/finalise", summary="定稿（县级监督）", response_model=ReviewView,
             responses=SUPERVISOR_ONLY)
async def finalise(review_id: Id, who: ActorDep, reviews: ReviewsDep, now: NowDep):
    return await reviews.finalise(who, review_id, now)


@router.get("/results", summary="案卷合格率（按定稿时间统计）", response_model=Results, responses=READERS_ONLY)
async def results(who: ActorDep, svc: ServicesDep, period: Annotated[str, Query(max_length=10)]):
    """`period`: 2026, 2026-Q3 or 2026-10; the reviews finalised in it, per department, with the failed points."""
    cr._readers_only(who)
    name, start, end = cr.parse_period(period)
    async with svc.db.read() as s:
        return {"period": name, **await cr.results(s, start, end)}


@router.get("/reports/{year}", summary="年度案卷评查报告（JSON；加 ?format=html / pdf / xlsx 取文件）",
            response_model=YearlyReport,
            responses={200: {"content": {"text/html": TEXT, "application/pdf": BINARY,
                                         YEARLY_FORMATS["xlsx"]: BINARY}}, **READERS_ONLY})
async def yearly(year: Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR)], who: ActorDep, svc: ServicesDep,
                 now: NowDep, format: Annotated[str | None, Query(pattern="^(json|html|pdf|xlsx)$")] = None):
    data = await cr.yearly(svc.db, who, year, now)
    if format in (None, "json"):
        return data
    headers = {} if format == "html" else {
        "Content-Disposition": f'attachment; filename="case-review-{year}.{format}"'}
    return Response(render_yearly(data, format), media_type=YEARLY_FORMATS[format], headers=headers)
