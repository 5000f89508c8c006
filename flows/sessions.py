"""Sessions: every issued token has a row (`sessions`, keyed by the token's `jti`), so a sign-out or an account
change ends it at once instead of when it expires (issue 10).

Times are UTC datetimes from the injectable clock. A token is honoured while its row exists, is not revoked
and belongs to an active user; its expiry is read from the signed token itself.
"""

import re
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chuishao.flows.errors import Unauthorized
from chuishao.models.accounts import UserSession
from chuishao.models.db import Database
from chuishao.models.org import User

JTI = re.compile(r"^[0-9a-f]{32}$")  # what `new_session_id` makes
CHECK_CHUNK = 500  # session ids per query when re-checking open sockets


def new_session_id() -> str:
    """A fresh token id: 128 random bits as 32 lowercase hex digits."""
    return secrets.token_hex(16)


async def open_session(db: Database, *, session_id: str, user_id: int, issued_at: datetime, expires_at: datetime,
                       user_agent: str | None = None, address: str | None = None) -> None:
    """Record a session at sign-in, and forget this user's sessions that have expired (so the table holds
    roughly the sessions in force)."""
    async with db.transaction() as s:
        await s.execute(UserSession.__table__.delete().where(
            UserSession.user_id == user_id, UserSession.expires_at <= issued_at))
        s.add(UserSession(id=session_id, user_id=user_id, issued_at=issued_at, expires_at=expires_at,
                          user_agent=(user_agent or "")[:200] or None, address=(address or "")[:64] or None))


ENDED = ("登录已失效（已退出、账号已停用或已变更），请重新登录",
         "this session has ended (signed out, or the account was deactivated or changed); sign in again")
_ALIVE = (select(UserSession.id).join(User, User.id == UserSession.user_id)
          .where(UserSession.id == bindparam("session_id"), UserSession.user_id == bindparam("user_id"),
                 UserSession.revoked_at.is_(None), User.active.is_(True)))


def alive_clause():
    """EXISTS (the session `:session_id` of user `:user_id` may act), to read beside another row."""
    return _ALIVE.exists()


async def alive_in(s: AsyncSession, session_id: str, user_id: int) -> bool:
    """Whether the session may still act, read in the caller's transaction: one primary-key lookup joined to
    the user's row by its primary key."""
    return (await s.execute(_ALIVE, {"session_id": session_id, "user_id": user_id})).first() is not None


async def ensure_alive(s: AsyncSession, session_id: str | None, user_id: int | None) -> None:
    """Refuse (Unauthorized, 401) an ended session inside the action's own transaction, so a signed-in request
    costs no separate read; `session_id` None: the caller has checked already."""
    if session_id is not None and not await alive_in(s, session_id, user_id):
        raise Unauthorized(*ENDED)


async def session_alive(db: Database, session_id: str, user_id: int) -> bool:
    """Whether the session may still act (its own short read)."""
    async with db.read() as s:
        return await alive_in(s, session_id, user_id)


async def live_sessions(db: Database, session_ids: Iterable[str]) -> set[str]:
    """Which of `session_ids` are still alive (not revoked, user active); for re-checking open sockets."""
    ids = list(dict.fromkeys(session_ids))
    alive: set[str] = set()
    async with db.read() as s:
        for i in range(0, len(ids), CHECK_CHUNK):
            alive.update((await s.execute(
                select(UserSession.id).join(User, User.id == UserSession.user_id)
                .where(UserSession.id.in_(ids[i:i + CHECK_CHUNK]), UserSession.revoked_at.is_(None),
                       User.active.is_(True)))).scalars())
    return alive


async def revoke_session(db: Database, session_id: str, now: datetime) -> bool:
    """End one session (a sign-out). True if it was still in force."""
    async with db.transaction() as s:
        result = await s.execute(update(UserSession).where(UserSession.id == session_id,
                                                           UserSession.revoked_at.is_(None))
                                 .values(revoked_at=now))
    return result.rowcount > 0


async def revoke_user_sessions(s: AsyncSession, user_id: int, now: datetime) -> int:
    """End every session of a user, inside the caller's transaction (the account change that requires it).
    Returns how many were in force."""
    result = await s.execute(update(UserSession).where(UserSession.user_id == user_id,
                                                       UserSession.revoked_at.is_(None))
                             .values(revoked_at=now))
    return result.rowcount
