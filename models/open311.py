"""Open311 GeoReport v2 (docs/open311.md): integrators' API keys, what came with each request they posted, and the
updates they sent us (mySociety's POST servicerequestupdates), each applied once."""

from datetime import datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime


class ApiKey(SQLModel, table=True):
    """An integrator's key (12345 热线, a city platform): bound to its intake unit and the townships it may
    report into. Only the SHA-256 of the secret is kept; the secret is shown once, when it is issued."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=48, unique=True, index=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)  # sha256 hex of the secret
    unit_id: int = Field(foreign_key="units.id")  # the intake unit (受理单位), e.g. the county hotline
    townships: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # township codes
    source: str = Field(default="open311", max_length=32)  # the cases' source (docs/access.md#integrator-keys)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Open311Request(SQLModel, table=True):
    """What an Open311 POST brought beyond the case itself: who sent it and the requester's contact
    details. Kept here, never in the case's description, so no Open311 read can leak them."""

    __tablename__ = "open311_requests"

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    api_key_id: int = Field(foreign_key="api_keys.id", index=True)
    email: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    device_id: str | None = Field(default=None, max_length=100)
    account_id: str | None = Field(default=None, max_length=100)
    address_id: str | None = Field(default=None, max_length=100)
    media_urls: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    attributes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class InboundUpdate(SQLModel, table=True):
    """An update an integrator POSTed about one of its townships' cases. Unique per (key, update_id):
    the same update sent twice is stored, and notified, once."""

    __tablename__ = "open311_updates"
    __table_args__ = (UniqueConstraint("api_key_id", "update_id"),)

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_keys.id")
    update_id: str = Field(max_length=64)  # the integrator's own id for the update
    case_id: int = Field(foreign_key="cases.id", index=True)
    status: str = Field(max_length=32)  # mySociety's extended status, as the integrator sent it
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_datetime: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    contact: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # never shown on Open311
    media_urls: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
