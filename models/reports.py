"""Stored weekly checkpoints (每周一检点) and monthly bulletins (每月一通报). Re-running replaces the record."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, false
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime


class CheckpointRecord(SQLModel, table=True):
    __tablename__ = "checkpoints"

    week: str = Field(primary_key=True, max_length=8)  # ISO week, e.g. 2026-W47
    generated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # generated before its period ended: not published, nobody notified; the run after the period replaces it
    preview: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    data: dict = Field(sa_column=Column(JSON, nullable=False))


class BulletinRecord(SQLModel, table=True):
    __tablename__ = "bulletins"

    month: str = Field(primary_key=True, max_length=7)  # e.g. 2026-11
    generated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # generated before its period ended: not published, nobody notified; the run after the period replaces it
    preview: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    data: dict = Field(sa_column=Column(JSON, nullable=False))
