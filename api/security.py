"""Bearer tokens: signed (HS256), expiring, carrying who the caller is so an action needs no user lookup."""

from datetime import datetime, timedelta

import jwt

from flows.access import Actor
from flows.errors import DomainError


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Tokens:
    def __init__(self, secret: str, minutes: int):
        self.secret, self.minutes = secret, minutes

    def issue(self, actor: Actor, now: datetime) -> str:
        claims = {
            "sub": actor.username, "uid": actor.id, "role": actor.role, "unit": actor.unit_id,
            "unit_code": actor.unit_code, "township": actor.township_id,
            "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=self.minutes)).timestamp()),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def read(self, token: str, now: datetime) -> Actor:
        try:
            # time claims are judged against the injectable clock below, not PyJWT's wall clock
            c = jwt.decode(token, self.secret, algorithms=["HS256"], options={
                "verify_exp": False, "verify_iat": False, "verify_nbf": False,
                "require": ["sub", "uid", "role", "unit", "exp"]})
        except jwt.PyJWTError:
            raise Unauthorized("登录凭证无效", "invalid token") from None
        if c["exp"] <= now.timestamp():  # checked against the injectable clock, not the wall clock
            raise Unauthorized("登录已过期，请重新登录", "token expired")
        return Actor(c["uid"], c["sub"], c["role"], c["unit"], c.get("unit_code", ""), c.get("township"))
