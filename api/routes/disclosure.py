"""行政执法公示: the public list of disclosed cases (JSON, no sign-in) and its Atom feed; the township's withhold /
release decisions; the admin's disclosure period and disclosed items. The rule is flows/disclosure.py's."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator
from pydantic import Field

from chuishao.api.deps import ActorDep, NowDep, ServicesDep, admin
from chuishao.api.limits import GuardedRoute
from chuishao.api.openapi_errors import ERROR
from chuishao.api.schemas import TEXT, LocalTime, Out
from chuishao.flows import disclosure as dis
from chuishao.flows.commands import Body, Code

router = APIRouter(tags=["disclosure"], route_class=GuardedRoute)
feed_router = APIRouter(tags=["disclosure"])
ATOM = "application/atom+xml; charset=utf-8"
FEED_SIZE = 50
TITLE = "行政执法公示"


class DisclosureRow(Out):
    code: str = Field(description="case code, e.g. CS20261116000042")
    item: str
    item_code: str
    township: str | None
    township_code: str | None
    place: str | None = Field(description="the address cut to the village (村/社区), masked")
    closed_at: LocalTime = Field(description="closure, ISO 8601 in Asia/Shanghai (+08:00)")
    closed_on: str = Field(description="closing day, Asia/Shanghai")
    published_on: str = Field(description="publication day: the N-th working day after the closing day")
    lead_unit: str | None
    outcome: str | None
    outcome_label: str | None
    result: str = Field(description="the lead unit's feedback result, personal data masked (flows/masking.py)")


class Choice(Out):
    code: str
    name: str


class FilterChoices(Out):
    townships: list[Choice]
    items: list[Choice]


class DisclosurePage(Out):
    items: list[DisclosureRow]
    total: int
    page: int
    page_size: int
    pages: int
    working_days: int = Field(description="published within this many working days after closure")
    county: str = Field(description="the county's name, for the page's title (文水县)")
    filters: FilterChoices


class DecisionView(Out):
    withheld: bool
    reason: str
    by: str
    by_name: str
    unit: str
    role: str
    role_label: str
    at: LocalTime


class DisclosureState(Out):
    case_id: int
    withheld: bool
    decisions: list[DecisionView]


class ReviewRow(DisclosureRow):
    case_id: int
    state: Literal["pending", "published", "withheld"]
    decisions: list[dict]


class ReviewPage(Out):
    items: list[ReviewRow]
    total: int
    page: int
    page_size: int
    pages: int
    working_days: int
    state: Literal["pending", "published", "withheld"] | None = None
    counts: dict[str, int] = {}


class PeriodView(Out):
    working_days: int


class DisclosedItems(Out):
    items: list[str]


class DisclosedItemsIn(Body):
    items: list[Code] = Field(max_length=1000)


Month = Annotated[str | None, Query(max_length=7, description="closing month, YYYY-MM")]
PageNo = Annotated[int, Query(ge=1, le=100_000)]


def filters(township: Annotated[Code | None, Query()] = None, item: Annotated[Code | None, Query()] = None,
            month: Month = None, page: PageNo = 1,
            page_size: Annotated[int, Query(ge=1, le=dis.MAX_PAGE_SIZE)] = 20) -> dis.Filters:
    return dis.Filters(township=township, item=item, month=month, page=page, page_size=page_size)


FiltersDep = Annotated[dis.Filters, Depends(filters)]


@router.get("/disclosures", summary="行政执法公示（公开，无需登录）", response_model=DisclosurePage)
async def public_list(f: FiltersDep, svc: ServicesDep, now: NowDep):
    return await dis.public_list(svc.db, svc.cases.calendar.current, now, f)


ReviewState = Annotated[Literal["pending", "published", "withheld"] | None,
                        Query(description="pending 待公示 / published 已公示 / withheld 不予公示；不填为全部")]


@router.get("/disclosures/review", summary="本乡镇公示审核列表（乡镇受理员、执法联络员）", response_model=ReviewPage,
            responses={403: {"description": "不是乡镇受理员或执法联络员 / not a township dispatcher or liaison",
                             "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}}})
async def review(who: ActorDep, svc: ServicesDep, now: NowDep, page: PageNo = 1, state: ReviewState = None):
    return await dis.township_list(svc.db, svc.cases.calendar.current, now, who, page, state=state)


@router.get("/cases/{case_id}/disclosure", summary="案件公示状态与决定记录", response_model=DisclosureState)
async def state(case_id: int, who: ActorDep, svc: ServicesDep):
    return await dis.state_of(svc.db, case_id, who)


@router.post("/cases/{case_id}/disclosure/withhold", summary="不予公示（须写明理由）", response_model=DisclosureState)
async def withhold(case_id: int, body: dis.DecisionIn, who: ActorDep, svc: ServicesDep, now: NowDep):
    return await dis.decide(svc.db, case_id, who, True, body.model_dump(), now)


@router.post("/cases/{case_id}/disclosure/release", summary="恢复公示（须写明理由）", response_model=DisclosureState)
async def release(case_id: int, body: dis.DecisionIn, who: ActorDep, svc: ServicesDep, now: NowDep):
    return await dis.decide(svc.db, case_id, who, False, body.model_dump(), now)


@router.get("/settings/disclosure", summary="公示期限（工作日）", response_model=PeriodView,
            dependencies=[Depends(admin)])
async def get_period(svc: ServicesDep):
    return {"working_days": (await dis.period(svc.db))["working_days"]}


@router.put("/settings/disclosure", summary="设置公示期限（工作日，0–30）", response_model=PeriodView,
            dependencies=[Depends(admin)])
async def set_period(body: dis.SettingsIn, svc: ServicesDep):
    return await dis.set_period(svc.db, body.model_dump())


@router.put("/settings/disclosure/items", summary="设置公示事项（列出的事项公示，其余不公示）",
            response_model=DisclosedItems, dependencies=[Depends(admin)])
async def set_items(body: DisclosedItemsIn, svc: ServicesDep):
    return {"items": await dis.set_disclosed_items(svc.db, body.items)}


def atom(data: dict, base: str, query: str) -> bytes:
    """The list as an Atom 1.0 feed (feedgen): one entry per case, titled item · township · outcome, its content the
    masked result; `base` the site's root URL, `query` the filters the page was asked with."""
    fg = FeedGenerator()
    page_url = f"{base}/gongshi" + (f"?{query}" if query else "")
    fg.id(page_url)
    title = f"{data.get('county') or ''}{TITLE}"
    fg.title(title)
    when = f"结案后 {data['working_days']} 个工作日内公示" if data["working_days"] else "结案后即公示"
    fg.subtitle(f"已结案行政执法案件，{when}；个人信息已按规则脱敏。")
    fg.link(href=page_url, rel="alternate", type="text/html")
    fg.link(href=f"{base}/disclosures.atom" + (f"?{query}" if query else ""), rel="self")
    fg.language("zh-CN")
    fg.author({"name": title})
    newest = None
    for row in reversed(data["items"]):  # feedgen prepends each entry: add the oldest first
        at = datetime.fromisoformat(row["closed_at"])
        newest = max(newest or at, at)
        e = fg.add_entry()
        e.id(f"{base}/gongshi#{row['code']}")
        e.title(f"{row['item']} · {row['township'] or ''} · {row['outcome_label'] or ''}")
        e.link(href=f"{base}/gongshi?item={row['item_code']}#{row['code']}")
        e.updated(at)
        e.published(at)
        e.author({"name": row["lead_unit"] or title})
        e.content(f"{row['place'] or ''}｜结案 {row['closed_on']}｜{row['lead_unit'] or ''}：{row['result']}",
                  type="text")
    fg.updated(newest or datetime.fromisoformat("2000-01-01T00:00:00+00:00"))
    return fg.atom_str(pretty=True)


@feed_router.get("/disclosures.atom", summary="行政执法公示 Atom 订阅（公开）", response_class=Response,
                 responses={200: {"description": "Atom 1.0 (RFC 4287): the latest 50 disclosed cases",
                                  "content": {"application/atom+xml": TEXT}}})
async def atom_feed(request: Request, f: FiltersDep, svc: ServicesDep, now: NowDep):
    data = await dis.public_list(svc.db, svc.cases.calendar.current, now,
                                 dis.Filters(f.township, f.item, f.month, f.page, FEED_SIZE))
    return Response(atom(data, str(request.base_url).rstrip("/"), request.url.query), media_type=ATOM)
