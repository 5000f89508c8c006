"""What the 案卷评查 API (api/routes/case_review.py, /api/v1/case-review) answers, as /openapi.json shows it.

Each model follows the dict flows/case_review.py builds (`_reviews`, `CaseReviewService._draw_view`, `reviewers`,
`results`, `yearly`) key for key, like the models of api/schemas.py (`Out`: `extra="forbid"`, so a key the service
adds without adding it here fails the route's tests instead of silently leaving the answer). The rates are
api/schemas.Rate, as the bulletin writes them (flows/bulletin.ratio).
"""

from typing import Literal

from pydantic import Field

from chuishao.api.openapi_errors import ERROR
from chuishao.api.schemas import LocalTime, Out, Period, Rate
from chuishao.flows.case_review import REVIEWER_ROLES, PointKey

ReviewerRole = Literal[tuple(sorted(REVIEWER_ROLES))]


def refused(why: str) -> dict:
    """A route's `responses` entry for a 403 its dependencies and parameters do not tell (api/openapi_errors.py
    derives the rest): `why` the refusal, Chinese first, then English, in the error shape."""
    return {403: {"description": why,
                  "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}}}}


SUPERVISOR_ONLY = refused("只有县级监督人员可以抽取案卷、指定评查人员和定稿 / the county supervisor only")
READERS_ONLY = refused("只对县级监督人员和管理员开放 / the county supervisor and admin only")
REVIEWERS_ONLY = refused("只对法制审核员和县级监督人员开放 / legal reviewers and the county supervisor only")
ASSIGNED_ONLY = refused("该案卷未指定由您评查 / not assigned to the caller for review")
ASSIGNED_OR_READERS = refused("只对该案卷的评查人员、县级监督人员和管理员开放 / its assigned reviewer, the county "
                              "supervisor and admin only")


class PersonRef(Out):
    username: str
    name: str


class PointScore(Out):
    passed: bool
    note: str = Field(description="the reviewer's note; required for a fail")
    at: LocalTime = Field(description="last scored")


class FailedPoint(Out):
    point: PointKey
    label: str = Field(examples=["证据是否充分"])
    note: str


class ReviewView(Out):
    """One review case (评查案卷): the sampled case, the department reviewed, the reviewer, the six points scored so
    far, and once finalised (定稿) the frozen verdict."""

    id: int
    draw_id: int
    case_id: int
    code: str = Field(description="the case's code", examples=["CS20261116000042"])
    title: str
    closed_at: LocalTime | None
    unit: str = Field(description="the case's lead unit when drawn (code)")
    unit_name: str
    reviewer: PersonRef | None = Field(description="null: not assigned yet")
    assigned_at: LocalTime | None
    scores: dict[PointKey, PointScore] = Field(description="the points scored so far (subject, evidence, procedure, "
                                                           "law, decision, documents)")
    complete: bool = Field(description="all six points scored")
    failed: list[FailedPoint] = Field(description="the failed points, in the order of the six")
    finalised_at: LocalTime | None
    passed: bool | None = Field(description="合格 (all six pass), set when finalised; null before")


class DrawCounts(Out):
    reviews: int
    assigned: int
    scored: int = Field(description="all six points scored")
    finalised: int
    passed: int


class DrawView(Out):
    """One draw (抽样记录): its parameters (enough to draw it again), the sample and each review case."""

    id: int
    period: str = Field(examples=["2026-Q3"])
    period_label: str = Field(examples=["2026年第三季度"])
    start: LocalTime
    end: LocalTime = Field(description="the period is [start, end)")
    as_of: LocalTime = Field(description="only cases closed by then were drawn")
    seed: int
    size: int | None = Field(description="cases per lead unit (or `share`)")
    share: int | None = Field(description="percent of each lead unit's cases, rounded up (or `size`)")
    units: list[str] | None = Field(description="the lead units the draw was limited to; null: all")
    candidates: int = Field(description="closed cases drawn from")
    case_ids: list[int] = Field(description="the sample, in draw order")
    note: str
    drawn_by: PersonRef | None
    drawn_at: LocalTime
    reviews: list[ReviewView]
    counts: DrawCounts


class DrawShown(DrawView):
    """A draw with the check that drawing it again from its recorded seed and parameters gives the same sample."""

    reproduced: bool = Field(description="the re-draw equals `case_ids`")
    redrawn_case_ids: list[int]


class DrawFinalised(Out):
    finalised: int = Field(description="review cases finalised now (all six points scored, not final before)")


class ReviewerView(Out):
    username: str
    name: str
    role: ReviewerRole
    unit: str = Field(description="the unit's name")
    unit_code: str


class DepartmentResult(Out):
    code: str
    name: str
    reviewed: int = Field(description="finalised reviews")
    passed: int
    failed: int
    rate: Rate = Field(description="案卷合格率: passed ÷ reviewed")


class PointResult(Out):
    point: PointKey
    label: str
    failed: int = Field(description="finalised reviews failing the point")
    rate: Rate = Field(description="the point's pass rate")


class FailedCase(Out):
    id: int = Field(description="the case id")
    code: str
    title: str
    unit: str
    unit_name: str
    failed: list[FailedPoint]
    finalised_at: LocalTime | None
    problems: str = Field(description="the failed points and notes in one line (label：note；…)")


class Results(Out):
    """案卷合格率 over the reviews finalised in the period (docs/case-review.md, Results)."""

    period: str = Field(examples=["2026-Q3"])
    total: Rate
    by_department: list[DepartmentResult]
    by_point: list[PointResult]
    failed_cases: list[FailedCase]


class YearlyDraw(Out):
    id: int
    period: str = Field(description="the period's label", examples=["2026年第三季度"])
    seed: int
    size: int | None
    share: int | None
    candidates: int
    sampled: int
    drawn_at: LocalTime


class Definition(Out):
    term: str
    definition: str


class YearlyReport(Out):
    """年度案卷评查报告 (JSON; ?format=html, pdf or xlsx gives the file): the year's results and draws."""

    year: int
    county: str
    title: str
    generated_at: LocalTime
    period: Period
    total: Rate
    by_department: list[DepartmentResult]
    by_point: list[PointResult]
    failed_cases: list[FailedCase]
    draws: list[YearlyDraw]
    definitions: list[Definition] = Field(description="口径说明")
