"""Bearer tokens: signed (HS256), expiring, carrying who the caller is so an action needs no user lookup, and
the id (`jti`) of the session row that lets a sign-out or an account change end the token at once.

Every claim is checked before use (types, ranges, the role among the known roles, the session id's format):
a correctly signed but odd token is a 401 like a forged one, never a 500."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import jwt
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from chuishao.flows.access import Actor
from chuishao.flows.errors import Unauthorized
from chuishao.flows.sessions import JTI, new_session_id
from chuishao.models.org import ROLES

MAX_TOKEN_CHARS = 4096  # ours are about 400; anything far longer is not one of ours
ID = Annotated[int, Field(ge=1, le=2**31 - 1)]  # database ids (PostgreSQL integer)
EPOCH = Annotated[int, Field(ge=0, le=2**33)]  # seconds since 1970, up to the year 2242
Role = Literal[ROLES]  # type: ignore[valid-type]  # one of the known roles


class Claims(BaseModel):
    """What a token of ours carries. Strict: a string where a number belongs (or a bool, a float, a nested
    object) is refused rather than converted."""

    model_config = ConfigDict(strict=True, extra="ignore")

    sub: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    uid: ID
    role: Role
    unit: ID
    unit_code: Annotated[str, StringConstraints(max_length=64)] = ""
    township: ID | None = None
    iat: EPOCH | None = None
    exp: EPOCH
    jti: Annotated[str, StringConstraints(pattern=JTI.pattern)]


@dataclass(frozen=True)
class Token:
    actor: Actor
    session_id: str  # the `jti`: the key of the session's row
    expires: datetime  # UTC


VERIFIED_KEPT = 10_000  # checked tokens remembered per process (signature and claims; expiry is checked per use)
INVALID = ("登录凭证无效，请重新登录", "invalid token; sign in again")


class Tokens:
    def __init__(self, secret: str, minutes: int):
        self.secret, self.minutes = secret, minutes
        self._verified: dict[str, Token] = {}  # token → its checked claims (insertion order: least recent first)

    def issue(self, actor: Actor, now: datetime, session_id: str | None = None) -> str:
        """A signed token for `actor`, valid `minutes` from `now`; `session_id` is the row that keeps it alive
        (`flows.sessions.open_session`), a fresh id if none is given."""
        claims = {
            "sub": actor.username, "uid": actor.id, "role": actor.role, "unit": actor.unit_id,
            "unit_code": actor.unit_code, "township": actor.township_id,
            "iat": int(now.timestamp()), "exp": int(self.expiry(now).timestamp()),
            "jti": session_id or new_session_id(),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def expiry(self, now: datetime) -> datetime:
        return now + timedelta(minutes=self.minutes)

    def decode(self, token: str, now: datetime) -> Token:
        """The token's checked claims. Raises Unauthorized: not ours, malformed, any claim missing or of the
        wrong type or range, issued before sessions existed (no `jti`), or expired by the injectable clock.
        A token whose signature and claims were checked once is remembered (`VERIFIED_KEPT` of them, the
        least recently used forgotten first); its expiry is judged on every call."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized(*INVALID)
        known = self._verified.get(token)
        if known is None:
            known = self._verify(token)
            if len(self._verified) >= VERIFIED_KEPT:
                self._verified.pop(next(iter(self._verified)))
        else:
            del self._verified[token]  # moved to the end: most recently used
        self._verified[token] = known
        if known.expires.timestamp() <= now.timestamp():
            raise Unauthorized("登录已过期，请重新登录", "token expired")
        return known

    def _verify(self, token: str) -> Token:
        try:
            # time claims are judged against the injectable clock in decode(), not PyJWT's wall clock
            raw = jwt.decode(token, self.secret, algorithms=["HS256"], options={
                "verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_sub": False,
                "verify_jti": False, "require": ["sub", "uid", "role", "unit", "exp"]})
            if "jti" not in raw:  # from before sessions were kept (issue 10): the user signs in again
                raise Unauthorized("登录已失效，请重新登录", "this session has ended; sign in again")
            c = Claims.model_validate(raw)
        except (jwt.PyJWTError, ValidationError, ValueError, TypeError):
            raise Unauthorized(*INVALID) from None
        actor = Actor(c.uid, c.sub, c.role, c.unit, c.unit_code, c.township)
        return Token(actor, c.jti, datetime.fromtimestamp(c.exp, UTC))

    def read(self, token: str, now: datetime) -> Actor:
        """The caller a token names (claims only: whether its session is still alive is `api.deps`' check)."""
        return self.decode(token, now).actor
