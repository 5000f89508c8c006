"""What every route needs: the services, the clock, and the caller."""

from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from api.security import Tokens, Unauthorized
from flows.access import ADMIN, Actor
from flows.admin import AdminService
from flows.cases import CaseService
from flows.clock import Clock
from flows.errors import Forbidden
from models.config import Settings
from models.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    cases: CaseService
    admin: AdminService
    tokens: Tokens
    clock: Clock


oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def services(request: Request) -> Services:
    return request.app.state.services


def now(request: Request) -> datetime:
    return request.app.state.services.clock()


def actor(request: Request, token: str | None = Depends(oauth2)) -> Actor:
    if not token:
        raise Unauthorized("请先登录", "authentication required")
    svc: Services = request.app.state.services
    return svc.tokens.read(token, svc.clock())


async def sign_in(svc: Services, username: str, password: str):
    """Check a username and password (REST login and the web login alike).
    Returns (user, unit, actor); raises Unauthorized with one message for every failure."""
    if len(username) > 64 or len(password) > 128:
        raise Unauthorized("用户名或密码错误", "wrong username or password")
    user = await svc.admin.authenticate(username, password)
    if user is None:
        raise Unauthorized("用户名或密码错误", "wrong username or password")
    async with svc.db.read() as s:
        unit = await svc.cases.units.get(s, user.unit_id)
    return user, unit, Actor(user.id, user.username, user.role, unit.id, unit.code, svc.cases.units.township_of(unit))


def admin(who: Actor = Depends(actor)) -> Actor:
    if who.role != ADMIN:
        raise Forbidden("仅管理员可执行此操作", "admin only")
    return who
