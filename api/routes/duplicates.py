"""Possible duplicates (疑似重复, flows/duplicates.py): of a case before acceptance, of a report being written, and
the admin's radius and title-similarity threshold. Thin: the rules live in flows/."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from chuishao.api.deps import ActorDep, NowDep, admin
from chuishao.api.limits import GuardedRoute
from chuishao.api.schemas import Out, Status
from chuishao.flows import duplicates as dup

router = APIRouter(tags=["possible duplicates"], route_class=GuardedRoute)
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1, description="case id")]


class DuplicateCandidate(Out):
    """An open case the caller may see that may be the same problem."""

    id: int
    code: str
    title: str
    status: Status
    status_label: str
    category: str | None
    township: str | None = Field(description="the township's code")
    same_item: bool = Field(description="the same catalog item (事项)")
    distance_m: int | None = Field(description="great-circle distance in metres, when both carry a point")
    similarity: float = Field(ge=0, le=1, description="Jaccard similarity of the titles' character bigrams")
    near: bool = Field(description="same item within radius_m")
    similar: bool = Field(description="similarity at or above min_similarity")


class DuplicateRules(BaseModel):
    """Same item within `radius_m` metres, or title similarity ≥ `min_similarity` (settings table)."""

    model_config = ConfigDict(extra="forbid")
    radius_m: float = Field(ge=dup.RADIUS_BOUNDS[0], le=dup.RADIUS_BOUNDS[1], examples=[200])
    min_similarity: float = Field(ge=dup.SIMILARITY_BOUNDS[0], le=dup.SIMILARITY_BOUNDS[1], examples=[0.4])


class DuplicateList(Out):
    radius_m: float
    min_similarity: float
    items: list[DuplicateCandidate] = Field(description="best first: same item nearby by distance, then by "
                                                        "title similarity; at most 8")


def finder_for(request: Request) -> dup.DuplicateFinder:
    """The app's finder (one per services; the web partials share it)."""
    svc = request.app.state.services
    found = getattr(request.app.state, "duplicates", None)
    if found is None or found.cases is not svc.cases:
        found = request.app.state.duplicates = dup.DuplicateFinder(svc.cases)
    return found


Finder = Annotated[dup.DuplicateFinder, Depends(finder_for)]


@router.get("/cases/{case_id}/possible-duplicates", summary="案件的疑似重复（受理前）", response_model=DuplicateList)
async def of_case(case_id: CaseId, who: ActorDep, finder: Finder, at: NowDep):
    _, rules, found = await finder.for_case(case_id, who, at)
    return finder.answer(rules, found)


@router.get("/possible-duplicates", summary="上报前查重", response_model=DuplicateList)
async def of_report(who: ActorDep, finder: Finder,
                    title: Annotated[str, Query(max_length=200)] = "",
                    category: Annotated[str | None, Query(max_length=64, description="catalog item code")] = None,
                    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
                    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
                    township: Annotated[str | None, Query(max_length=64, description="township code")] = None):
    rules, found = await finder.for_report(who, title=title, category=category, lat=lat, lon=lon,
                                           township=township)
    return finder.answer(rules, found)


@router.get("/possible-duplicates/settings", summary="查重设置", response_model=DuplicateRules)
async def get_rules(finder: Finder, _=Depends(admin)):
    rules = await finder.rules()
    return {"radius_m": rules.radius_m, "min_similarity": rules.min_similarity}


@router.put("/possible-duplicates/settings", summary="修改查重半径和标题相似度阈值", response_model=DuplicateRules)
async def set_rules(body: DuplicateRules, finder: Finder, _=Depends(admin)):
    rules = await finder.set_rules(body.radius_m, body.min_similarity)
    return {"radius_m": rules.radius_m, "min_similarity": rules.min_similarity}
