"""The case timeline (全过程记录): append-only, each entry hash-chained to the case's previous one."""

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime


class TimelineEntry(SQLModel, table=True):
    __tablename__ = "timeline"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    seq: int
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(max_length=64)  # username
    unit: str | None = Field(default=None, max_length=64)  # unit code
    role: str = Field(max_length=32)
    action: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str | None = Field(default=None, max_length=16)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON, exactly as hashed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
