"""Pages of 行政执法公示 (flows/disclosure.py): the public list (/gongshi, no sign-in, phone first), the township's
review (/gongshi/review: withhold a case from disclosure or release it again, each with a reason, and every decision
shown), and the admin's setting (/admin/disclosure: the period in working days and the disclosed items)."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from chuishao.api.web.admin import SECTIONS, Form
from chuishao.api.web.render import page
from chuishao.api.web.session import WebActor, WebAdmin, session_actor
from chuishao.flows import disclosure as dis
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.errors import DomainError, Forbidden
from chuishao.flows.periods import parse_month

router = APIRouter(include_in_schema=False)
DONE = {"withheld": "已设为不予公示，公示页不再显示该案件。", "released": "已恢复公示。",
        "saved": "已保存公示设置。"}


def _months(now, back: int = 24) -> list[tuple[str, str]]:
    """The month filter's choices: this month and the `back` - 1 before it, newest first: ('2026-11', '2026年11月')."""
    local = now.astimezone(LOCAL_TZ)
    index = local.year * 12 + local.month - 1
    return [(f"{i // 12}-{i % 12 + 1:02d}", f"{i // 12}年{i % 12 + 1}月") for i in range(index, index - back, -1)]


def _int(value: str, low: int, high: int, default: int) -> int:
    return int(value) if value.isdigit() and low <= int(value) <= high else default


@router.get("/gongshi")
async def public_page(request: Request, township: str = "", item: str = "", month: str = "", page_no: str = "1"):
    """The public list: no sign-in; a signed-in user sees their navigation too."""
    request.state.actor = await session_actor(request)
    svc = request.app.state.services
    errors = {}
    filters = {"township": township.strip()[:64], "item": item.strip()[:64], "month": month.strip()[:7]}
    if filters["month"]:
        try:
            parse_month(filters["month"])
        except DomainError:
            errors["month"] = "月份格式应为 年-月，如 2026-11"
            filters["month"] = ""
    result = await dis.public_list(svc.db, svc.cases.calendar.current, svc.clock(), dis.Filters(
        township=filters["township"] or None, item=filters["item"] or None, month=filters["month"] or None,
        page=_int(page_no, 1, 100_000, 1)))
    query = {k: v for k, v in filters.items() if v}

    def url(n: int) -> str:
        return "/gongshi?" + urlencode({**query, "page_no": n})

    months = _months(svc.clock())
    if filters["month"] and filters["month"] not in dict(months):  # an older month asked by address stays chosen
        months.append((filters["month"], filters["month"].replace("-", "年", 1).replace("年0", "年") + "月"))
    return page(request, "disclosure/public.html", result=result, filters=filters, errors=errors, url=url,
                months=months, title=f"{result['county']}行政执法公示",
                feed="/disclosures.atom" + (f"?{urlencode(query)}" if query else ""),
                json_url="/api/v1/disclosures" + (f"?{urlencode(query)}" if query else ""),
                status_code=422 if errors else 200)


REVIEW_TABS = {"pending": "待公示", "published": "已公示", "withheld": "不予公示", "all": "全部"}


def _tab(value: str) -> str:
    """The review page's filter: 待公示 (closed, not yet public: the window to withhold) unless another is asked."""
    return value if value in REVIEW_TABS else "pending"


async def _review_page(request: Request, who, page_no: int, tab: str, status_code: int = 200, errors=None,
                       values=None):
    svc = request.app.state.services
    result = await dis.township_list(svc.db, svc.cases.calendar.current, svc.clock(), who, page_no,
                                     state=None if tab == "all" else tab)
    done = DONE.get(request.query_params.get("done", ""))
    return page(request, "disclosure/review.html", status_code=status_code, result=result, errors=errors or {},
                values=values or {}, notice=done, labels=dis.STATE_LABELS, tabs=REVIEW_TABS, tab=tab,
                url=lambda n: f"/gongshi/review?{urlencode({'state': tab, 'page_no': n})}")


@router.get("/gongshi/review")
async def review_page(request: Request, who: WebActor, page_no: str = "1", state: str = ""):
    return await _review_page(request, who, _int(page_no, 1, 100_000, 1), _tab(state))


@router.post("/gongshi/review/{case_id}/{decision}")
async def decide(request: Request, who: WebActor, case_id: int, decision: str):
    if decision not in ("withhold", "release"):
        raise Forbidden("不支持的操作", "unknown decision")
    svc = request.app.state.services
    form = await request.form()
    reason = str(form.get("reason", ""))[:2000]
    page_no = _int(str(form.get("page_no", "1")), 1, 100_000, 1)
    tab = _tab(str(form.get("state", "")))  # for the page shown again with the error
    try:
        await dis.decide(svc.db, case_id, who, decision == "withhold", {"reason": reason}, svc.clock())
    except DomainError as err:
        if err.status in (403, 404):
            raise
        message = "请写明理由" if err.code in ("validation_error", "reason_required") else err.zh
        return await _review_page(request, who, page_no, tab, 422, {case_id: message}, {case_id: reason})
    done = "withheld" if decision == "withhold" else "released"
    # the case moves to another filter: show the one it is in now
    query = urlencode({"state": "withheld" if decision == "withhold" else "all", "done": done})
    return RedirectResponse(f"/gongshi/review?{query}#case-{case_id}", status_code=303)


# ---- the admin's setting ------------------------------------------------------------------------------------
async def _settings_page(request: Request, status_code: int = 200, errors=None, values=None):
    svc = request.app.state.services
    kept = await dis.period(svc.db)
    items = await svc.admin.list_items()
    values = values or {"working_days": kept["working_days"], "items": {i["code"] for i in items if i["disclose"]}}
    return page(request, "disclosure/settings.html", status_code=status_code, sections=SECTIONS, kept=kept,
                items=items, values=values, errors=errors or {}, default=dis.DEFAULT_WORKING_DAYS,
                high=dis.MAX_WORKING_DAYS, notice=DONE.get(request.query_params.get("done", "")))


@router.get("/admin/disclosure")
async def settings_page(request: Request, who: WebAdmin):
    return await _settings_page(request)


@router.post("/admin/disclosure")
async def save_settings(request: Request, who: WebAdmin):
    svc = request.app.state.services
    f = Form(await request.form())
    days = f.text("working_days", "公示期限", max_len=3, required=True)
    codes = f.many("items")
    if "working_days" not in f.errors and not (days.isdigit() and 0 <= int(days) <= dis.MAX_WORKING_DAYS):
        f.errors["working_days"] = f"公示期限须为 0–{dis.MAX_WORKING_DAYS} 之间的整数（工作日）"
    if not f.errors:
        try:
            await dis.set_period(svc.db, {"working_days": int(days)})
            await dis.set_disclosed_items(svc.db, codes)
        except DomainError as err:
            f.errors["_"] = err.zh
    if f.errors:
        return await _settings_page(request, 422, f.errors, {"working_days": days, "items": set(codes)})
    return RedirectResponse("/admin/disclosure?done=saved", status_code=303)
