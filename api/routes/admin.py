"""Admin endpoints: units, users, catalog, township overrides (管理员)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Services, actor, admin, now, services
from api.limits import GuardedRoute
from flows.admin import CatalogIn, OverrideIn, UnitIn, UserIn
from flows.commands import Code

router = APIRouter(tags=["admin"], route_class=GuardedRoute)
CODE_PATTERN = r"^[A-Za-z0-9_.\-]+$"


@router.post("/units", status_code=201, summary="新建单位", dependencies=[Depends(admin)])
async def create_unit(body: UnitIn, svc: Services = Depends(services), at=Depends(now)):
    return await svc.admin.create_unit(body, at)


@router.get("/units", summary="单位列表", dependencies=[Depends(actor)])
async def list_units(svc: Services = Depends(services)):
    return await svc.admin.list_units()


@router.post("/users", status_code=201, summary="新建用户", dependencies=[Depends(admin)])
async def create_user(body: UserIn, svc: Services = Depends(services), at=Depends(now)):
    return await svc.admin.create_user(body, at)


@router.get("/users", summary="用户列表", dependencies=[Depends(admin)])
async def list_users(unit: Code | None = Query(None), svc: Services = Depends(services)):
    return await svc.admin.list_users(unit)


@router.post("/catalog", status_code=201, summary="新增清单事项", dependencies=[Depends(admin)])
async def create_item(body: CatalogIn, svc: Services = Depends(services)):
    return await svc.admin.create_item(body)


@router.get("/catalog", summary="事项清单", dependencies=[Depends(actor)])
async def list_items(svc: Services = Depends(services)):
    return await svc.admin.list_items()


@router.put("/catalog/{code}/townships/{township_code}", summary="一乡镇一清单：乡镇覆盖",
            dependencies=[Depends(admin)])
async def set_override(body: OverrideIn,
                       code: str = Path(min_length=1, max_length=64, pattern=CODE_PATTERN),
                       township_code: str = Path(min_length=1, max_length=64, pattern=CODE_PATTERN),
                       svc: Services = Depends(services)):
    return await svc.admin.set_override(code, township_code, body)


class ScorecardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    weights: dict[Literal["check_in", "on_time", "closure", "returns", "rework", "satisfaction", "rating"],
                  Annotated[int, Field(ge=0, le=100)]] = Field(default_factory=dict)
    list_min_whistles: Annotated[int, Field(ge=0, le=10000)] = 5


@router.put("/settings/scorecard", summary="部门考核权重与红黑榜门槛", dependencies=[Depends(admin)])
async def set_scorecard(body: ScorecardIn, svc: Services = Depends(services)):
    from flows.bulletin import set_scorecard

    return await set_scorecard(svc.db, body.weights, body.list_min_whistles)
