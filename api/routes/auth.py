from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from chuishao.api.deps import ActorDep, BearerDep, ServicesDep, sign_in
from chuishao.api.errors import error_response
from chuishao.api.limits import GuardedRoute
from chuishao.api.live import sessions_ended
from chuishao.api.schemas import AccessToken, Me
from chuishao.flows.login_throttle import Throttled
from chuishao.flows.sessions import revoke_session

router = APIRouter(tags=["auth"], route_class=GuardedRoute)


def throttled(err: Throttled):
    """429 in the error shape, with Retry-After (seconds)."""
    return error_response(429, err.code, err.message, err.extra, headers={"Retry-After": str(err.retry_after)})


@router.post("/auth/token", summary="登录：用户名密码换取访问令牌 (OAuth2 password)", response_model=AccessToken,
             description="用户名区分大小写（与创建时一致）。同一账号或同一地址连续登录失败过多时返回 429，"
                         "`Retry-After` 给出需等待的秒数。 Usernames are matched exactly; too many failures "
                         "for an account or from an address give 429 with Retry-After.")
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], svc: ServicesDep):
    try:
        user, unit, _, access_token = await sign_in(svc, request, form.username, form.password)
    except Throttled as err:
        return throttled(err)
    return {
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": svc.tokens.minutes * 60,
        "user": {"username": user.username, "name": user.name, "role": user.role, "unit": unit.code,
                 "unit_name": unit.name},
    }


@router.post("/auth/logout", status_code=204, summary="退出登录：令牌立即失效",
             description="结束此令牌的会话：此后它和用它打开的实时连接都不再有效。 Ends this token's session at "
                         "once, with its live sockets.")
async def logout(request: Request, claims: BearerDep, svc: ServicesDep):
    await revoke_session(svc.db, claims.session_id, svc.clock())
    sessions_ended(request.app)
    return Response(status_code=204)


@router.get("/me", summary="当前用户", response_model=Me)
async def me(who: ActorDep):
    return {"username": who.username, "role": who.role, "unit": who.unit_code}
