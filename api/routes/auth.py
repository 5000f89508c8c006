from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import Services, actor, now, services
from api.limits import GuardedRoute
from api.security import Unauthorized
from flows.access import Actor

router = APIRouter(tags=["auth"], route_class=GuardedRoute)


@router.post("/auth/token", summary="登录：用户名密码换取访问令牌 (OAuth2 password)")
async def token(form: OAuth2PasswordRequestForm = Depends(), svc: Services = Depends(services), at=Depends(now)):
    if len(form.username) > 64 or len(form.password) > 128:
        raise Unauthorized("用户名或密码错误", "wrong username or password")
    user = await svc.admin.authenticate(form.username, form.password)
    if user is None:
        raise Unauthorized("用户名或密码错误", "wrong username or password")
    async with svc.db.read() as s:
        unit = await svc.cases.units.get(s, user.unit_id)
    who = Actor(user.id, user.username, user.role, unit.id, unit.code, svc.cases.units.township_of(unit))
    return {
        "access_token": svc.tokens.issue(who, at),
        "token_type": "bearer",
        "expires_in": svc.tokens.minutes * 60,
        "user": {"username": user.username, "name": user.name, "role": user.role, "unit": unit.code,
                 "unit_name": unit.name},
    }


@router.get("/me", summary="当前用户")
async def me(who: Actor = Depends(actor)):
    return {"username": who.username, "role": who.role, "unit": who.unit_code}
