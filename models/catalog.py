"""Catalog of whistle items (事项清单) and per-township overrides (一乡镇一清单)."""

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel


class CatalogItem(SQLModel, table=True):
    __tablename__ = "catalog_items"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    category: str = Field(max_length=200)  # 大类/小类
    lead_unit_id: int | None = Field(default=None, foreign_key="units.id")
    assist_unit_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    devolved: bool = False  # 乡镇赋权事项: the township's own team handles it
    enforcement: bool = False  # 行政执法: two certified officers at feedback
    major: bool = False  # 重大执法决定: feedback goes to legal review (法制审核) before verification
    disclose: bool = False  # 行政执法公示: closed cases of this item are published (masked) on the public page
    limits: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class CatalogOverride(SQLModel, table=True):
    __tablename__ = "catalog_overrides"
    __table_args__ = (UniqueConstraint("item_id", "township_id"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="catalog_items.id")  # indexed first by unique (item_id, township_id)
    township_id: int = Field(foreign_key="units.id")
    lead_unit_id: int | None = Field(default=None, foreign_key="units.id")
    assist_unit_ids: list[int] | None = Field(default=None, sa_column=Column(JSON))
    limits: dict | None = Field(default=None, sa_column=Column(JSON))
