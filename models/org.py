"""Organisation: the unit tree and its users."""

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, func
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime

UNIT_KINDS = ("county", "township", "grid", "department", "team")
ROLES = (
    "grid_worker",  # 网格员
    "township_dispatcher",  # 乡镇受理/指挥中心
    "township_liaison",  # 乡镇执法联络员
    "department_liaison",  # 部门联络员
    "department_officer",  # 部门执法人员
    "county_supervisor",  # 县级监督
    "legal_reviewer",  # 法制审核员 (司法局/司法所): legal review, case-file review (issue 15)
    "admin",  # 管理员
)


class Unit(SQLModel, table=True):
    __tablename__ = "units"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="units.id", index=True)
    polygon: dict | None = Field(default=None, sa_column=Column(JSON))  # GeoJSON, grids only
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    name: str = Field(max_length=100)
    role: str = Field(max_length=32)
    unit_id: int = Field(foreign_key="units.id", index=True)
    certificate_no: str | None = Field(default=None, max_length=64)  # 执法证号
    certificate_expires: date | None = None
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


# usernames are unique whatever their letter case: `Admin` cannot sit beside `admin` (issue 10); sign-in
# matches the stored name exactly, so this index is about uniqueness, not lookups
Index("ux_users_username_lower", func.lower(User.username), unique=True)
