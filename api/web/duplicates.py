"""Possible duplicates on the pages (flows/duplicates.py): htmx partials for the report form (candidates shown
before sending, refreshed as the fields change) and for the case page (before acceptance, beside the merge action,
with a button to merge into the candidate). Both answer a fragment, never a whole page."""

from fastapi import APIRouter, Path, Query, Request

from chuishao.api.routes.duplicates import finder_for
from chuishao.api.web.render import page
from chuishao.api.web.report import _number as number
from chuishao.api.web.session import WebActor
from chuishao.flows.errors import Invalid

router = APIRouter(include_in_schema=False)
CaseId = Path(ge=1, le=2**31 - 1)
Text = Query("", max_length=200)


def _number(text: str) -> float | None:
    try:
        return number(text)
    except ValueError:
        return None


@router.get("/report/duplicates")
async def report_candidates(request: Request, who: WebActor, title: str = Text,
                            category: str = Query("", max_length=64), lat: str = Query("", max_length=40),
                            lon: str = Query("", max_length=40),
                            township: str = Query("", max_length=64)):
    """The report form's candidates for what is typed so far; nothing to show (or not enough typed) → an empty
    fragment, never an error: the reporter is still writing."""
    finder = finder_for(request)
    la, lo = _number(lat), _number(lon)
    try:
        rules, found = await finder.for_report(who, title=title, category=category or None,
                                               lat=la if lo is not None else None,
                                               lon=lo if la is not None else None, township=township or None)
    except Invalid:
        rules, found = await finder.rules(), []
    return page(request, "duplicates/_report.html", dup=finder.answer(rules, found))


@router.get("/cases/{case_id}/possible-duplicates")
async def case_candidates(request: Request, who: WebActor, case_id: int = CaseId):
    """The case page's candidates (lazy-loaded), with a merge button when the caller may merge now."""
    finder = finder_for(request)
    case, rules, found = await finder.for_case(case_id, who, request.app.state.services.clock())
    return page(request, "duplicates/_case.html", case=case, dup=finder.answer(rules, found),
                may_merge="merge" in case["allowed_actions"])
