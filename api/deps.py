"""What every route needs: the services, the clock, and the caller."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from chuishao.api.security import Token, Tokens, Unauthorized
from chuishao.flows.access import ADMIN, Actor
from chuishao.flows.admin import AdminService
from chuishao.flows.cases import CaseService
from chuishao.flows.clock import Clock
from chuishao.flows.errors import Forbidden
from chuishao.flows.login_throttle import LoginThrottle
from chuishao.flows.sessions import ENDED, new_session_id, open_session, session_alive
from chuishao.models.config import Settings
from chuishao.models.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    cases: CaseService
    admin: AdminService
    tokens: Tokens
    clock: Clock
    throttle: LoginThrottle = field(init=False)

    def __post_init__(self):
        s = self.settings
        self.throttle = LoginThrottle.for_database(self.db, s.login_limit_account, s.login_limit_address,
                                                   s.login_limit_account_total, s.login_throttle_storage)


oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def services(request: Request) -> Services:
    return request.app.state.services


async def _services(request: Request) -> Services:
    # dependencies are `async def` on the request path: a plain `def` one costs a hop to the thread pool each
    return request.app.state.services


async def now(request: Request) -> datetime:
    return request.app.state.services.clock()


async def check_token(svc: Services, token: str) -> Token:
    """A token's checked claims, if its session is still alive (one primary-key lookup). Raises Unauthorized."""
    claims = svc.tokens.decode(token, svc.clock())
    if not await session_alive(svc.db, claims.session_id, claims.actor.id):
        raise Unauthorized(*ENDED)
    return claims


async def bearer(request: Request, token: str | None = Depends(oauth2)) -> Token:
    if not token:
        raise Unauthorized("请先登录", "authentication required")
    return await check_token(request.app.state.services, token)


async def actor(claims: Token = Depends(bearer)) -> Actor:
    return claims.actor


async def signed(request: Request, token: str | None = Depends(oauth2)) -> Token:
    """A token's checked claims with its session NOT yet checked: for a route that hands `session_id` to a
    service which checks it inside its own transaction (flows.sessions.ensure_alive). Raises Unauthorized."""
    return claims_of(request.app.state.services, token)


def claims_of(svc: Services, token: str | None) -> Token:
    """`signed` for a bearer token already read (`await oauth2(request)`): api/lean.py's routes. Raises
    Unauthorized."""
    if not token:
        raise Unauthorized("请先登录", "authentication required")
    return svc.tokens.decode(token, svc.clock())


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def sign_in(svc: Services, request: Request, username: str, password: str):
    """Check a username (whatever its letter case: usernames are unique that way) and password, and open a
    session (REST login and the web login alike). Returns (user, unit, actor, token). Raises Throttled (429)
    after too many failures for the account from the client's address, for the account from everywhere, or
    from the client's address (flows/login_throttle.py), else Unauthorized with one message for every failure."""
    address = client_address(request)
    await svc.throttle.check(username, address)
    user = None
    if len(username) <= 64 and len(password) <= 128:
        user = await svc.admin.authenticate(username, password)
    if user is None:
        await svc.throttle.failed(username, address)
        raise Unauthorized("用户名或密码错误", "wrong username or password")
    await svc.throttle.succeeded(username, address)
    async with svc.db.read() as s:
        unit = await svc.cases.units.get(s, user.unit_id)
    who = Actor(user.id, user.username, user.role, unit.id, unit.code, svc.cases.units.township_of(unit))
    at, session_id = svc.clock(), new_session_id()
    await open_session(svc.db, session_id=session_id, user_id=user.id, issued_at=at, expires_at=svc.tokens.expiry(at),
                       user_agent=request.headers.get("user-agent"), address=address)
    return user, unit, who, svc.tokens.issue(who, at, session_id)


async def admin(who: Actor = Depends(actor)) -> Actor:
    if who.role != ADMIN:
        raise Forbidden("仅管理员可执行此操作", "admin only")
    return who


# What a route takes, one parameter each (`who: ActorDep`); the dependencies above are what they run.
ServicesDep = Annotated[Services, Depends(_services)]
NowDep = Annotated[datetime, Depends(now)]  # the injected clock's now, UTC
ActorDep = Annotated[Actor, Depends(actor)]  # signed in, session alive (401 otherwise)
AdminDep = Annotated[Actor, Depends(admin)]  # signed in as an admin (403 otherwise)
BearerDep = Annotated[Token, Depends(bearer)]  # the checked claims themselves (the session id, for sign-out)
# signed, session NOT yet checked: for a route that hands `claims.session_id` to a service that checks it inside
# its own transaction (the action and report routes)
ClaimsDep = Annotated[Token, Depends(signed)]
