"""行政执法公示: the township's decisions to withhold a closed case from public disclosure, or to release it again.

Append-only: each row is one decision (who, unit, role, when, why); a case's latest row says whether it is withheld
now. The rows are the full record of those decisions (全过程记录) and never change once written.
"""

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime


class DisclosureDecision(SQLModel, table=True):
    __tablename__ = "disclosure_decisions"
    __table_args__ = (Index("ix_disclosure_decisions_case_at", "case_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    withheld: bool  # True: 不予公示 (withhold); False: 恢复公示 (release again)
    reason: str = Field(max_length=2000)
    by_id: int = Field(foreign_key="users.id")
    unit_id: int = Field(foreign_key="units.id")
    role: str = Field(max_length=32)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
