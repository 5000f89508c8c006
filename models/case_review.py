"""案卷评查 (case-file review, issue 15): the county supervisor's recorded sample draws of closed cases, the review
of each sampled case (its reviewer, its finalisation) and the reviewer's pass/fail on each of the six points.

A draw keeps everything needed to draw it again (period window, as-of time, seed, size or share, units) and the case
ids it produced; flows/case_review.py draws and checks that the same seed over the same closed cases gives them."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime


class ReviewDraw(SQLModel, table=True):
    """抽样记录: one seeded draw of closed cases, per lead unit, over one period."""

    __tablename__ = "review_draws"

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=10)  # 2026-10 (month), 2026-Q3 (quarter) or 2026 (year)
    start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))  # the period [start, end), UTC
    end: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    as_of: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))  # cases closed before this count
    seed: int = Field(sa_column=Column(BigInteger, nullable=False))
    size: int | None = None  # cases per lead unit …
    share: int | None = None  # … or this percentage of each unit's closed cases (rounded up, at least one)
    units: list[str] | None = Field(default=None, sa_column=Column(JSON))  # unit codes; None: every lead unit
    candidates: int  # closed cases the draw chose from
    case_ids: list[int] = Field(sa_column=Column(JSON, nullable=False))  # the sample, in draw order
    note: str = Field(default="", max_length=500)
    drawn_by_id: int = Field(foreign_key="users.id")
    drawn_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ReviewCase(SQLModel, table=True):
    """评查案卷: one sampled case under review; its reviewer, and when the supervisor finalised it (then `passed`,
    合格 = all six points passed, is frozen)."""

    __tablename__ = "review_cases"
    __table_args__ = (UniqueConstraint("draw_id", "case_id"),
                      Index("ix_review_cases_finalised_at", "finalised_at"))

    id: int | None = Field(default=None, primary_key=True)
    draw_id: int = Field(foreign_key="review_draws.id")  # indexed first by its unique (draw_id, case_id)
    case_id: int = Field(foreign_key="cases.id", index=True)
    unit_id: int = Field(foreign_key="units.id")  # the case's lead unit when drawn (the department reviewed)
    reviewer_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    assigned_by_id: int | None = Field(default=None, foreign_key="users.id")
    assigned_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    passed: bool | None = None  # set at finalisation
    finalised_by_id: int | None = Field(default=None, foreign_key="users.id")
    finalised_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ReviewScore(SQLModel, table=True):
    """评查评分: the reviewer's pass/fail on one of the six points, with a note (required for a fail). Revised in
    place until the review case is finalised."""

    __tablename__ = "review_scores"
    __table_args__ = (UniqueConstraint("review_case_id", "point"),)

    id: int | None = Field(default=None, primary_key=True)
    review_case_id: int = Field(foreign_key="review_cases.id")  # indexed first by its unique key
    point: str = Field(max_length=16)  # flows/case_review.POINTS
    passed: bool
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    scored_by_id: int = Field(foreign_key="users.id")
    scored_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
