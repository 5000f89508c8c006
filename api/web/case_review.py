"""Pages of 案卷评查 (case-file review, docs/case-review.md): the supervisor draws a sample, assigns reviewers,
finalises and reads the results and the yearly report; a reviewer sees their assigned cases and scores each one
on the six points with the case file (summary, timeline, evidence, feedback and verification) beside the form.

Every rule is flows/case_review.py's; a reviewer reaches the case file only through its assignment check."""

from datetime import date, datetime

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from chuishao.api.web import case as case_page
from chuishao.api.web.render import page
from chuishao.api.web.session import WebActor
from chuishao.flows import case_hints
from chuishao.flows import case_review as cr
from chuishao.flows.access import Actor
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.errors import Forbidden, Invalid, NotFound
from chuishao.flows.periods import FIRST_YEAR, LAST_YEAR
from chuishao.flows.reports.case_review import YEARLY_FORMATS, render_yearly

router = APIRouter(include_in_schema=False)
MAX_ID = 2**31 - 1


def _svc(request: Request) -> cr.CaseReviewService:
    return cr.CaseReviewService(request.app.state.services.db)


def _now(request: Request):
    return request.app.state.services.clock()


def _default_period(now) -> str:
    """The last quarter that has ended (Asia/Shanghai), e.g. '2026-Q3' in November 2026."""
    local = now.astimezone(LOCAL_TZ)
    q = (local.month - 1) // 3
    return f"{local.year}-Q{q}" if q else f"{local.year - 1}-Q4"


@router.get("/case-review")
async def home(request: Request, who: WebActor):
    """The supervisor's page (draws and the draw form, results); a reviewer goes to their own list."""
    return await _home(request, who)


async def _home(request: Request, who: Actor, error: str | None = None, values: dict | None = None,
                status: int = 200):
    if who.role not in cr.READERS:
        return RedirectResponse("/case-review/mine", status_code=303)
    draws = await _svc(request).list_draws(who)
    now = _now(request)
    return page(request, "case_review/index.html", status_code=status, draws=draws, error=error,
                values=values or {"period": _default_period(now), "seed": now.strftime("%Y%m%d"), "size": "2"},
                year=now.astimezone(LOCAL_TZ).year, can_draw=who.role == cr.SUPERVISOR,
                units=await _svc(request).lead_units())


@router.post("/case-review/draws")
async def draw(request: Request, who: WebActor):
    form = await request.form()
    values: dict = {k: str(form.get(k) or "").strip() for k in ("period", "seed", "size", "share", "note")}
    values["units"] = [str(u).strip() for u in form.getlist("units") if str(u).strip()]  # the multi-select
    raw: dict = {"period": values["period"], "note": values["note"]}
    try:
        for key in ("seed", "size", "share"):
            if values[key]:
                if not values[key].isdigit():
                    raise Invalid(f"{ {'seed': '随机种子', 'size': '每部门件数', 'share': '每部门比例'}[key]}须为整数",
                                  f"{key} must be a whole number")
                raw[key] = int(values[key])
        if values["units"]:
            raw["units"] = values["units"]
        view = await _svc(request).draw(who, raw, _now(request))
    except Invalid as exc:
        return await _home(request, who, error=exc.zh, values=values, status=exc.status)
    return RedirectResponse(f"/case-review/draws/{view['id']}", status_code=303)


async def _draw_page(request: Request, who: Actor, draw_id: int, *, status: int = 200, error: str | None = None,
                     done: str | None = None):
    svc = _svc(request)
    view = await svc.get_draw(who, draw_id)
    again = await svc.reproduce(draw_id)
    reviewers = await svc.reviewers()
    return page(request, "case_review/draw.html", status_code=status, d=view, reproduced=again == view["case_ids"],
                reviewers=reviewers, points=cr.POINTS, error=error, done=done,
                can_act=who.role == cr.SUPERVISOR)


@router.get("/case-review/draws/{draw_id}")
async def draw_page(request: Request, who: WebActor, draw_id: int = Path(ge=1, le=MAX_ID), done: str | None = None):
    done_text = {"assign": "已保存评查人员指定", "final": "已定稿六项均已评定的案卷"}.get(done or "")
    return await _draw_page(request, who, draw_id, done=done_text)


@router.post("/case-review/draws/{draw_id}/assign")
async def assign(request: Request, who: WebActor, draw_id: int = Path(ge=1, le=MAX_ID)):
    """The draw page's one form: `reviewer_<review id>` per row; each changed row is assigned in turn."""
    form = await request.form()
    svc = _svc(request)
    current = {r["id"]: (r["reviewer"] or {}).get("username") for r in (await svc.get_draw(who, draw_id))["reviews"]}
    try:
        for key, value in form.multi_items():
            if not key.startswith("reviewer_") or not isinstance(value, str) or not value:
                continue
            rid = int(key.removeprefix("reviewer_")) if key.removeprefix("reviewer_").isdigit() else 0
            if rid not in current:
                raise NotFound("评查案卷不属于本次抽样", "review case not in this draw")
            if current[rid] != value:
                await svc.assign(who, rid, {"reviewer": value}, _now(request))
    except (Invalid, Forbidden) as exc:
        return await _draw_page(request, who, draw_id, status=exc.status, error=exc.zh)
    return RedirectResponse(f"/case-review/draws/{draw_id}?done=assign", status_code=303)


@router.post("/case-review/draws/{draw_id}/finalise")
async def finalise_draw(request: Request, who: WebActor, draw_id: int = Path(ge=1, le=MAX_ID)):
    await _svc(request).finalise_draw(who, draw_id, _now(request))
    return RedirectResponse(f"/case-review/draws/{draw_id}?done=final", status_code=303)


@router.get("/case-review/mine")
async def mine(request: Request, who: WebActor):
    reviews = await _svc(request).my_reviews(who)
    return page(request, "case_review/mine.html", reviews=reviews, points=cr.POINTS)


def _local_date(at) -> date:
    """A timeline time (ISO 8601 string with offset, or an aware datetime) as its Asia/Shanghai date."""
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    return when.astimezone(LOCAL_TZ).date()


async def _case_file(request: Request, who: Actor, case_id: int, review_id: int) -> dict:
    """The case file for the review page, read with the reviewer's read-only stand-in (cr.reader)."""
    cases = request.app.state.services.cases
    now = _now(request)
    reader = cr.reader(who)
    case = await cases.get(case_id, reader, now)
    timeline = await cases.timeline(case_id, reader)
    hints = await case_hints.load(cases, case, [], now, timeline)
    entries = case_page._entries(timeline, hints)
    files = [{"id": a.id, "filename": a.filename, "size": case_page._size(a.size), "at": a.at,
              "image": case_page._media_type(a.content_type) in case_page.INLINE_TYPES,
              "url": f"/case-review/cases/{case_id}/attachments/{a.id}?review={review_id}"}
             for a in await cases.attachments(case_id, reader)]
    documents = [e for e in entries if e["action"] in ("feedback", "verify", "arbitrate", "approve_extension")]
    for e in documents:  # 执法主体资格: who acted, with their certificate as on the feedback's date
        names = (e.get("payload") or {}).get("officers")
        if e["action"] == "feedback" and isinstance(names, list) and names:
            e["officers"] = await _svc(request).officers([str(n) for n in names], _local_date(e["at"]))
    return {"case": case, "hints": hints, "timeline": entries, "files": files, "documents": documents}


async def _review_page(request: Request, who: Actor, review_id: int, *, status: int = 200,
                       errors: dict | None = None, values: dict | None = None, done: str | None = None):
    svc = _svc(request)
    review = await svc.get_review(who, review_id)  # 404 unknown, 403 not assigned
    file = await _case_file(request, who, review["case_id"], review_id)
    response = page(request, "case_review/review.html", status_code=status, r=review, points=cr.POINTS,
                errors=errors or {}, values=values, done=done, **file,
                can_score=review["reviewer"] is not None and review["reviewer"]["username"] == who.username
                and review["finalised_at"] is None,
                can_finalise=who.role == cr.SUPERVISOR and review["complete"] and review["finalised_at"] is None)
    if status != 200:  # a refused score or finalise: the address stays the review page's, not the POST's
        response.headers["HX-Push-Url"] = f"/case-review/reviews/{review_id}"
    return response


@router.get("/case-review/reviews/{review_id}")
async def review_page(request: Request, who: WebActor, review_id: int = Path(ge=1, le=MAX_ID), done: str | None = None):
    return await _review_page(request, who, review_id,
                              done={"scores": "评分已保存，定稿前可以修改", "final": "已定稿"}.get(done or ""))


@router.post("/case-review/reviews/{review_id}/scores")
async def score(request: Request, who: WebActor, review_id: int = Path(ge=1, le=MAX_ID)):
    """The scoring form: `<point>` = pass | fail and `<point>_note` per point; unanswered points are left out."""
    form = await request.form()
    scores, values = {}, {}
    for key, _, _ in cr.POINTS:
        verdict, note = str(form.get(key) or ""), str(form.get(f"{key}_note") or "")
        values[key] = {"verdict": verdict, "note": note}
        if verdict in ("pass", "fail"):
            scores[key] = {"passed": verdict == "pass", "note": note}
    if not scores:
        return await _review_page(request, who, review_id, status=422, values=values,
                                  errors={"_": "请至少评定一项（合格或不合格）"})
    try:
        await _svc(request).score(who, review_id, {"scores": scores}, _now(request))
    except Invalid as exc:
        point = exc.extra.get("point")
        return await _review_page(request, who, review_id, status=exc.status, values=values,
                                  errors={point or "_": exc.zh})
    return RedirectResponse(f"/case-review/reviews/{review_id}?done=scores", status_code=303)


@router.post("/case-review/reviews/{review_id}/finalise")
async def finalise(request: Request, who: WebActor, review_id: int = Path(ge=1, le=MAX_ID)):
    try:
        await _svc(request).finalise(who, review_id, _now(request))
    except Invalid as exc:
        return await _review_page(request, who, review_id, status=exc.status, errors={"_": exc.zh})
    return RedirectResponse(f"/case-review/reviews/{review_id}?done=final", status_code=303)


@router.get("/case-review/cases/{case_id}/attachments/{attachment_id}")
async def attachment(request: Request, who: WebActor, case_id: int = Path(ge=1, le=MAX_ID),
                     attachment_id: int = Path(ge=1, le=MAX_ID),
                     review: int = Query(ge=1, le=2**31 - 1)):
    """An attachment of a case under review, for its assigned reviewer (the review id says which assignment)."""
    if await _svc(request).ensure_reviewer(who, review) != case_id:
        raise Forbidden("该案卷未指定由您评查", "this case file is not assigned to you for review")
    return await case_page.download(request, cr.reader(who), case_id, attachment_id)


@router.get("/case-review/results")
async def results(request: Request, who: WebActor, period: str | None = Query(default=None, max_length=10)):
    if who.role not in cr.READERS:
        raise Forbidden("案卷评查结果只对县级监督人员和管理员开放", "results are for the county supervisor and admin")
    now = _now(request)
    name, start, end = cr.parse_period(period or str(now.astimezone(LOCAL_TZ).year))
    async with request.app.state.services.db.read() as s:
        res = await cr.results(s, start, end)
    return page(request, "case_review/results.html", res=res, period=name, period_label=cr.period_label(name),
                year=name[:4], definitions=cr.DEFINITIONS)


@router.get("/case-review/reports/{name}")
async def yearly(request: Request, who: WebActor, name: str = Path(max_length=10, pattern=r"^\d{4}\.(html|pdf|xlsx)$")):
    year, fmt = name.split(".")
    if not FIRST_YEAR <= int(year) <= LAST_YEAR:
        raise NotFound("没有这一年的报告", "no such year")
    data = await cr.yearly(request.app.state.services.db, who, int(year), _now(request))
    headers = {} if fmt == "html" else {"Content-Disposition": f'attachment; filename="case-review-{year}.{fmt}"'}
    return Response(render_yearly(data, fmt), media_type=YEARLY_FORMATS[fmt], headers=headers)
