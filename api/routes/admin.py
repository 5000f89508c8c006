"""Admin endpoints: units, users, catalog, township overrides (管理员)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from chuishao.api.deps import AdminDep, NowDep, ServicesDep, actor, admin
from chuishao.api.limits import GuardedRoute
from chuishao.api.live import sessions_ended
from chuishao.api.schemas import CatalogItemView, OverrideView, Scorecard, UnitView, UserDetail, UserView
from chuishao.flows import bulletin
from chuishao.flows.admin import CatalogIn, OverrideIn, PasswordIn, UnitIn, UserIn, UserUpdate
from chuishao.flows.commands import Code

router = APIRouter(tags=["admin"], route_class=GuardedRoute)
CODE_PATTERN = r"^[A-Za-z0-9_.\-]+$"


@router.post("/units", status_code=201, summary="新建单位", dependencies=[Depends(admin)], response_model=UnitView)
async def create_unit(body: UnitIn, svc: ServicesDep, at: NowDep):
    return await svc.admin.create_unit(body, at)


@router.get("/units", summary="单位列表", dependencies=[Depends(actor)], response_model=list[UnitView])
async def list_units(svc: ServicesDep):
    return await svc.admin.list_units()


@router.post("/users", status_code=201, summary="新建用户", dependencies=[Depends(admin)], response_model=UserView)
async def create_user(body: UserIn, svc: ServicesDep, at: NowDep):
    return await svc.admin.create_user(body, at)


@router.get("/users", summary="用户列表", dependencies=[Depends(admin)], response_model=list[UserView])
async def list_users(svc: ServicesDep, unit: Code | None = Query(None)):
    return await svc.admin.list_users(unit)


PathCode = Annotated[str, Path(min_length=1, max_length=64, pattern=CODE_PATTERN)]  # a username, item or unit code
Username = PathCode
ENDS_SESSIONS = ("此人已登录的会话（令牌、网页登录、实时连接）立即失效。 "
                 "The user's sessions (tokens, web sign-ins, live sockets) end at once.")


@router.get("/users/{username}", summary="用户详情", dependencies=[Depends(admin)], response_model=UserDetail)
async def get_user(username: Username, svc: ServicesDep):
    return await svc.admin.get_user(username)


@router.patch("/users/{username}", summary="修改用户（姓名、角色、单位、执法证、联系方式）",
              description="改角色或单位时：" + ENDS_SESSIONS, response_model=UserDetail)
async def update_user(request: Request, body: UserUpdate, username: Username, who: AdminDep, svc: ServicesDep,
                      at: NowDep):
    user = await svc.admin.update_user(username, body, at, by=who.username)
    sessions_ended(request.app)
    return user


@router.post("/users/{username}/deactivate", summary="停用账号", description=ENDS_SESSIONS, response_model=UserDetail)
async def deactivate_user(request: Request, username: Username, who: AdminDep, svc: ServicesDep, at: NowDep):
    user = await svc.admin.set_active(username, False, at, by=who.username)
    sessions_ended(request.app)
    return user


@router.post("/users/{username}/reactivate", summary="恢复账号", response_model=UserDetail)
async def reactivate_user(username: Username, who: AdminDep, svc: ServicesDep, at: NowDep):
    return await svc.admin.set_active(username, True, at, by=who.username)


@router.post("/users/{username}/password", summary="重置密码",
             description="新密码须符合密码规则（不能过短、常见、重复或包含用户名）。" + ENDS_SESSIONS,
             response_model=UserDetail)
async def reset_password(request: Request, body: PasswordIn, username: Username, who: AdminDep, svc: ServicesDep,
                         at: NowDep):
    user = await svc.admin.set_password(username, body, at)
    sessions_ended(request.app)
    return user


@router.post("/catalog", status_code=201, summary="新增清单事项", dependencies=[Depends(admin)],
             response_model=CatalogItemView)
async def create_item(body: CatalogIn, svc: ServicesDep):
    return await svc.admin.create_item(body)


@router.get("/catalog", summary="事项清单", dependencies=[Depends(actor)], response_model=list[CatalogItemView])
async def list_items(svc: ServicesDep):
    return await svc.admin.list_items()


@router.put("/catalog/{code}/townships/{township_code}", summary="一乡镇一清单：乡镇覆盖",
            dependencies=[Depends(admin)], response_model=OverrideView)
async def set_override(body: OverrideIn, code: PathCode, township_code: PathCode, svc: ServicesDep):
    return await svc.admin.set_override(code, township_code, body)


class ScorecardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    weights: dict[Literal["check_in", "on_time", "closure", "returns", "rework", "satisfaction", "rating"],
                  Annotated[int, Field(ge=0, le=100)]] = Field(default_factory=dict)
    list_min_whistles: Annotated[int, Field(ge=0, le=10000)] = 5


@router.put("/settings/scorecard", summary="部门考核权重与红黑榜门槛", dependencies=[Depends(admin)],
            response_model=Scorecard)
async def set_scorecard(body: ScorecardIn, svc: ServicesDep):
    return await bulletin.set_scorecard(svc.db, body.weights, body.list_min_whistles)
