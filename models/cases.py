"""Cases and the records that hang off them: whistles, extensions, feedback, verifications,
urge/supervise remarks and attachments."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime
from chuishao.models.vocabulary import EXTENSION_PENDING


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_township_status", "township_id", "status"),
        # the open-case lists and the dashboard's grouped figures, answered from the index (migration 0008)
        Index("ix_cases_status_scope", "status", "alert", "township_id", "lead_unit_id", "suspended_from"),
        Index("ix_cases_closed_at", "closed_at"),
        # a phone resending a report it kept offline sends the same key: one case, not two
        Index("ux_cases_reporter_client_key", "reporter_id", "client_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    category: str | None = Field(default=None, max_length=64)  # catalog item code
    township_id: int = Field(foreign_key="units.id")
    grid_id: int | None = Field(default=None, foreign_key="units.id")
    address: str | None = Field(default=None, max_length=300)
    lat: float | None = None
    lon: float | None = None
    urgency: str = Field(default="normal", max_length=16)
    source: str = Field(default="grid", max_length=32)
    status: str = Field(max_length=16)
    suspended_from: str | None = Field(default=None, max_length=16)  # state resume returns to
    version: int = 1
    lead_unit_id: int | None = Field(default=None, foreign_key="units.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="users.id")  # leads ux_cases_reporter_client_key
    outcome: str | None = Field(default=None, max_length=32)
    merged_into_id: int | None = Field(default=None, foreign_key="cases.id")
    return_count: int = 0
    rework_count: int = 0
    # 重大执法决定: set by the feedback that sent the case to legal review (法制审核); the legal reviewers' scope
    major: bool = False
    legal_return_count: int = 0  # legal reviews returned (法制审核退回), not verification reworks
    # the running step clock, kept on the row so lists can filter by alert colour without a join
    deadline: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    provisional: bool = False
    alert: str = Field(default="none", max_length=16)  # none / warning / overdue / escalated
    # head of the hash chain, so appending an entry needs no extra read
    timeline_seq: int = 0
    timeline_head: str = Field(default="", max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    client_key: str | None = Field(default=None, max_length=64)  # the reporter's idempotency key


class Whistle(SQLModel, table=True):
    """One dispatch to one unit (吹哨). Earlier rounds stay, with active=False."""

    __tablename__ = "whistles"
    __table_args__ = (Index("ix_whistles_dispatched_at", "dispatched_at"),
                      Index("ix_whistles_returned_at", "returned_at"),
                      # a department's scope (EXISTS … unit_id, case_id) and its whistles still to check in,
                      # from the index alone (migration 0008)
                      Index("ix_whistles_unit_case", "unit_id", "case_id"),
                      Index("ix_whistles_unit_state", "unit_id", "state", "active", "case_id"))

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    unit_id: int = Field(foreign_key="units.id")  # indexed with case_id, see __table_args__
    role: str = Field(max_length=8)  # lead 主办 / assist 协办
    state: str = Field(max_length=16)  # models/vocabulary.WHISTLE_*: sent / checked_in / returned
    active: bool = True
    arbitrated: bool = False  # named by arbitration: may not be returned again
    round: int = 1
    dispatched_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    checked_in_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    returned_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    return_reason: str | None = Field(default=None, max_length=2000)


class Extension(SQLModel, table=True):
    """延期申请: kept whatever the decision."""

    __tablename__ = "extensions"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    unit_id: int = Field(foreign_key="units.id")
    working_days: int
    reason: str = Field(max_length=2000)
    state: str = Field(default=EXTENSION_PENDING, max_length=16)  # models/vocabulary.EXTENSION_*
    requested_by_id: int = Field(foreign_key="users.id")
    requested_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_by_id: int | None = Field(default=None, foreign_key="users.id")
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    decision_note: str | None = Field(default=None, max_length=2000)


class Feedback(SQLModel, table=True):
    """结果反馈 from the lead department."""

    __tablename__ = "feedbacks"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    unit_id: int = Field(foreign_key="units.id", index=True)
    outcome: str = Field(max_length=32)
    result: str = Field(sa_column=Column(Text, nullable=False))
    officers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    major: bool = False  # a major decision (重大执法决定): this feedback went to legal review (法制审核)
    submitted_by_id: int = Field(foreign_key="users.id")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Verification(SQLModel, table=True):
    """核查: on-site check by the township, with satisfaction and the 一哨一考核 rating."""

    __tablename__ = "verifications"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    unit_id: int = Field(foreign_key="units.id", index=True)  # the lead unit being rated
    passed: bool
    note: str | None = Field(default=None, max_length=2000)
    satisfaction: str | None = Field(default=None, max_length=16)
    rating: int | None = None
    verified_by_id: int = Field(foreign_key="users.id")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


class LegalReview(SQLModel, table=True):
    """法制审核: the legal reviewer's decision on a major decision's feedback — approved (on to verification)
    or returned with a reason (back to handling). `round` is 1 for the case's first review, +1 after each
    return, so round 1 approved is 一次通过."""

    __tablename__ = "legal_reviews"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    unit_id: int = Field(foreign_key="units.id", index=True)  # the lead unit whose decision was reviewed
    approved: bool
    reason: str | None = Field(default=None, max_length=2000)
    round: int = 1
    reviewed_by_id: int = Field(foreign_key="users.id")
    reviewer_unit_id: int = Field(foreign_key="units.id")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


class Remark(SQLModel, table=True):
    """催办 (urge) and 督办 (supervise): records on the case that notify and do not move it."""

    __tablename__ = "remarks"
    __table_args__ = (Index("ix_remarks_kind_at", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=16)  # urge / supervise
    note: str = Field(max_length=2000)
    by_id: int = Field(foreign_key="users.id")
    unit_id: int = Field(foreign_key="units.id")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    sha256: str = Field(max_length=64)
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    uploaded_by_id: int = Field(foreign_key="users.id")
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
