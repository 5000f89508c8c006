"""Key/value settings the admin keeps (weights, working hours, ...)."""

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class Setting(SQLModel, table=True):
    __tablename__ = "settings"

    key: str = Field(primary_key=True, max_length=100)
    value: dict = Field(sa_column=Column(JSON, nullable=False))
