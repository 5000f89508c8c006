"""Pages: the live dashboard (实时看板) of a township or the whole county.

`/dashboard` renders today's figures (flows/dashboard.py) as big numbers, ECharts charts and tables;
`/dashboard/data.json` gives the same figures, which api/static/dashboard.js fetches again whenever a live
event in the caller's scope arrives, so the page stays current without a reload.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from chuishao.api.web.render import WEEKDAYS, page, when
from chuishao.api.web.session import WebActor
from chuishao.flows.clock import LOCAL_TZ
from chuishao.flows.dashboard import RatesCache, figures

router = APIRouter(include_in_schema=False)


async def _figures(request: Request, who) -> dict:
    """The figures plus what the page shows as text: each event's time as people say it, the update time."""
    svc = request.app.state.services
    now = svc.clock()
    cache = getattr(request.app.state, "dashboard_rates", None)
    if cache is None:  # one per app: the month's rates, recounted at most once a minute per scope
        cache = request.app.state.dashboard_rates = RatesCache()
    data = await figures(svc.db, svc.cases.units, who, now, rates_cache=cache)
    for e in data["latest"]:
        e["when"] = when(e["at"], now)
    here = now.astimezone(LOCAL_TZ)
    data["updated"] = here.strftime("%H:%M:%S")
    data["today_label"] = f"{here.month}月{here.day}日 周{WEEKDAYS[here.weekday()]}"
    return data


@router.get("/dashboard")
async def dashboard(request: Request, who: WebActor):
    data = await _figures(request, who)
    return page(request, "dashboard/index.html", d=data)


@router.get("/dashboard/data.json")
async def dashboard_data(request: Request, who: WebActor):
    return JSONResponse(await _figures(request, who), headers={"Cache-Control": "no-store"})
