"""The browser session: the same signed, expiring token the REST API issues, kept in an HttpOnly cookie, and
honoured only while its session row is alive (see `api.deps.check_token`): signing out or an account change
ends it at once.

Forms are protected against cross-site requests by asgi-csrf (double-submit cookie, see `api/web/__init__`);
the cookie itself is SameSite=Lax, so other sites' pages never send it on a POST.
"""

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from chuishao.api.deps import check_token
from chuishao.api.security import Token, Unauthorized
from chuishao.flows.access import ADMIN, Actor
from chuishao.flows.errors import Forbidden

SESSION_COOKIE = "chuishao_session"


class LoginRequired(Exception):
    """No valid session: the page answers with the login page (a redirect), not an error."""

    def __init__(self, next_path: str):
        self.next_path = next_path


def _next_of(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


async def session_token(request: Request) -> Token | None:
    """The session cookie's checked token, or None when there is none or it is invalid, expired or ended."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await check_token(request.app.state.services, token)
    except Unauthorized:
        return None


async def session_actor(request: Request) -> Actor | None:
    """The caller from the session cookie, or None when there is none or it is invalid, expired or ended."""
    token = await session_token(request)
    return token.actor if token else None


async def web_actor(request: Request) -> Actor:
    who = await session_actor(request)
    if who is None:
        raise LoginRequired(_next_of(request))
    request.state.actor = who  # the layout shows who is signed in, also on error pages
    return who


def web_admin(who: Annotated[Actor, Depends(web_actor)]) -> Actor:
    if who.role != ADMIN:
        raise Forbidden("仅管理员可访问此页面", "admin only")
    return who


WebActor = Annotated[Actor, Depends(web_actor)]
WebAdmin = Annotated[Actor, Depends(web_admin)]


def start_session(response: Response, request: Request, token: str, max_age: int) -> Response:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    return response


def end_session(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def login_redirect(request: Request, next_path: str) -> Response:
    target = "/?next=" + quote(next_path, safe="/")
    if request.headers.get("hx-request"):  # htmx: a full navigation, not a login form inside a list
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def safe_next(value: str | None) -> str | None:
    """Only a path on this site: never `//evil.example` or `https://…` (an open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None
