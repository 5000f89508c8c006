"""Account safety: the sessions issued at sign-in (so they can be ended) and the login throttle's counters."""

from datetime import datetime

from sqlalchemy import Column, Float
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime


class UserSession(SQLModel, table=True):
    """One row per issued token (REST bearer token or the web session cookie, which holds the same token).
    A token is honoured only while its row exists, is not revoked and its user is active; ending a session
    (logout) or any account change (deactivation, role or unit change, password reset) sets `revoked_at`."""

    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=32)  # the token's `jti`: 32 lowercase hex digits
    user_id: int = Field(foreign_key="users.id", index=True)
    issued_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    user_agent: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=64)  # the client address at sign-in


class ThrottleCounter(SQLModel, table=True):
    """A fixed-window counter of the login throttle (the `limits` library's keys, e.g. failed sign-ins of
    one account), kept in the database so every API process shares it."""

    __tablename__ = "throttle_counters"

    key: str = Field(primary_key=True, max_length=255)
    hits: int = 0
    # when the window ends, in seconds since the epoch (the `limits` library's clock, time.time())
    expires_at: float = Field(sa_column=Column(Float, nullable=False, index=True))
