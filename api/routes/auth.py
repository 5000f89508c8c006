from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import Services, actor, now, services, sign_in
from api.limits import GuardedRoute
from flows.access import Actor

router = APIRouter(tags=["auth"], route_class=GuardedRoute)


@router.post("/auth/token", summary="登录：用户名密码换取访问令牌 (OAuth2 password)")
async def token(form: OAuth2PasswordRequestForm = Depends(), svc: Services = Depends(services), at=Depends(now)):
    user, unit, who = await sign_in(svc, form.username, form.password)
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
