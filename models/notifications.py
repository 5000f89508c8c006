"""The outbox (docs/architecture.md#notifications): events written in the same transaction as the change
they describe, their per-user notifications, channel preferences, and delivery attempts."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime
from chuishao.models.vocabulary import DELIVERY_PENDING


class Event(SQLModel, table=True):
    """One thing that happened to a case (or a checkpoint/bulletin). Carries its scope, so a live feed can
    filter without joins, and its audience, so notifications can be fanned out after the commit."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_pending", "fanned_out_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # transition / alert / urge / supervise / checkpoint / bulletin
    action: str | None = Field(default=None, max_length=32)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    township_id: int | None = None
    unit_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reporter_id: int | None = None
    audience: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    fanned_out_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class LiveWatcher(SQLModel, table=True):
    """An API process that has live sockets open, by its LISTEN connection's backend (PostgreSQL's
    `pg_backend_pid()`; notifications/listener.py). The events trigger sends its NOTIFY only while some row is
    here (migration 0020); a row whose backend is gone is removed by the next registration. Unused on SQLite."""

    __tablename__ = "live_watchers"

    pid: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    since: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Notification(SQLModel, table=True):
    """One event for one user: their inbox line, unread until marked read."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_id", "user_id"), Index("ix_notifications_user", "user_id", "read_at"))

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="events.id")
    user_id: int = Field(foreign_key="users.id")
    title: str = Field(max_length=300)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class UserChannel(SQLModel, table=True):
    """A user's external channel: a webhook URL, an e-mail address or a phone number for SMS."""

    __tablename__ = "user_channels"
    __table_args__ = (UniqueConstraint("user_id", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")  # indexed first by unique (user_id, channel)
    channel: str = Field(max_length=16)  # webhook / email / sms
    address: str = Field(max_length=500)
    secret: str | None = Field(default=None, max_length=200)  # webhook HMAC key
    enabled: bool = True


class Delivery(SQLModel, table=True):
    """One notification on one external channel, delivered at least once, with retries and backoff."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("notification_id", "channel"), Index("ix_deliveries_due", "state", "next_at"))

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notifications.id")
    channel: str = Field(max_length=16)
    address: str = Field(max_length=500)
    state: str = Field(default=DELIVERY_PENDING, max_length=16)  # models/vocabulary.DELIVERY_*
    attempts: int = 0
    next_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="deliveries.id", index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ok: bool
    error: str | None = Field(default=None, sa_column=Column(Text))
