"""Pages: 待办 (`/inbox`, what waits for me, soonest deadline first) and 案件 (`/cases`, everything in my scope,
with filters). Both lists refresh themselves on the live feed, keeping their filters and page."""

import hashlib
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from chuishao.api.web.render import page
from chuishao.api.web.session import WebActor
from chuishao.flows.access import ADMIN, GRID_WORKER
from chuishao.flows.inbox import INBOX_PAGE_SIZE, Filters, InboxService

router = APIRouter(include_in_schema=False)


def _signature(result: dict | None) -> str:
    """What the list shows, in a few characters: a live refresh flashes "有新动态" only when it changed."""
    if not result:
        return ""
    seen = f"{result['total']}:{result['page']}:" + ",".join(f"{c['id']}.{c['version']}" for c in result["items"])
    return hashlib.blake2s(seen.encode(), digest_size=6).hexdigest()


def _changed(request: Request, sig: str) -> bool:
    """A live refresh (the region's own request carries the signature it showed) whose list differs."""
    seen = request.query_params.get("seen")
    return seen is not None and seen != sig


def _self_url(request: Request, query: dict) -> str:
    return request.url.path + ("?" + urlencode(query) if query else "")


@router.get("/inbox")
async def inbox(request: Request, who: WebActor):
    if who.role == GRID_WORKER:  # a grid worker's own list is 我的上报
        return RedirectResponse("/mine", status_code=303)
    svc = request.app.state.services
    raw = request.query_params.get("page", "1")
    number = int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 100000 else 1
    result = None
    if who.role != ADMIN:
        result = await InboxService(svc.cases).waiting(who, svc.clock(), page=number)
    sig = _signature(result)
    query = {"page": result["page"]} if result and result["page"] > 1 else {}
    return page(request, "inbox/inbox.html", result=result, page_size=INBOX_PAGE_SIZE, sig=sig,
                changed=_changed(request, sig), self_url=_self_url(request, query),
                page_url=lambda n: _self_url(request, {"page": n} if n > 1 else {}))


@router.get("/cases")
async def cases(request: Request, who: WebActor):
    if who.role == GRID_WORKER:
        return RedirectResponse("/mine", status_code=303)
    svc = request.app.state.services
    params = request.query_params
    f = Filters(**{k: params.get(k, "") for k in Filters.__dataclass_fields__})
    inbox = InboxService(svc.cases)
    options = await inbox.options(who)
    result, errors = await inbox.listing(who, svc.clock(), f, options)
    sig = _signature(result)
    shown = f.query(page=result["page"]) if result else f.query()
    return page(request, "inbox/cases.html", status_code=422 if errors else 200, result=result, filters=f,
                options=options, errors=errors, sig=sig, changed=_changed(request, sig),
                filtered=bool(f.query(page=1)), self_url=_self_url(request, shown),
                page_url=lambda n: _self_url(request, f.query(page=n)))
