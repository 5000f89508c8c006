"""Login (`/`), logout, and where each role lands."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from chuishao.api.deps import sign_in
from chuishao.api.live import sessions_ended
from chuishao.api.security import Unauthorized
from chuishao.api.web.render import home_of, page
from chuishao.api.web.session import end_session, safe_next, session_actor, session_token, start_session
from chuishao.flows.demo.county import DEMO_LOGINS_KEY
from chuishao.flows.login_throttle import Throttled
from chuishao.flows.sessions import revoke_session
from chuishao.flows.settings import read_setting
from chuishao.models.vocabulary import ROLE_LABELS

router = APIRouter(include_in_schema=False)


async def _demo(request: Request) -> dict | None:
    """The demo county's logins, shown on the login page so a new user can try every role."""
    value = await read_setting(request.app.state.services.db, DEMO_LOGINS_KEY)
    if not value:
        return None
    return {"password": value.get("password"),
            "logins": [(ROLE_LABELS.get(role, role), names) for role, names in value.get("logins", [])]}


@router.get("/")
async def login_page(request: Request, next: str | None = None):
    who = await session_actor(request)
    if who is not None:
        return RedirectResponse(safe_next(next) or home_of(who), status_code=303)
    return page(request, "auth/login.html", next=safe_next(next), errors={}, demo=await _demo(request))


@router.post("/")
async def login(request: Request, username: Annotated[str, Form(max_length=200)] = "",
                password: Annotated[str, Form(max_length=200)] = "", next: Annotated[str, Form(max_length=500)] = ""):
    svc = request.app.state.services
    errors = {}
    status, headers = 422, None
    if not username.strip():
        errors["username"] = "请输入用户名"
    if not password:
        errors["password"] = "请输入密码"
    if not errors:
        try:
            _, _, who, token = await sign_in(svc, request, username.strip(), password)
        except Unauthorized:
            errors["_"] = "用户名或密码错误，请重新输入"
        except Throttled as err:
            errors["_"] = f"{err.zh}。为保护账号，暂时不能登录。"
            status, headers = 429, {"Retry-After": str(err.retry_after)}
    if errors:
        response = page(request, "auth/login.html", status_code=status, errors=errors, username=username,
                        next=safe_next(next), demo=await _demo(request))
        response.headers.update(headers or {})
        return response
    response = RedirectResponse(safe_next(next) or home_of(who), status_code=303)
    return start_session(response, request, token, svc.tokens.minutes * 60)


@router.post("/logout")
async def logout(request: Request):
    """Sign out: the session ends at once (its cookie, and the same token anywhere else, no longer works)."""
    token = await session_token(request)
    if token is not None:
        svc = request.app.state.services
        await revoke_session(svc.db, token.session_id, svc.clock())
        sessions_ended(request.app)
    return end_session(RedirectResponse("/", status_code=303))
