"""Working calendar days, step clocks and their alerts (docs/clocks.md)."""

from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from chuishao.models.types import UTCDateTime


class CalendarDay(SQLModel, table=True):
    """A day that differs from the weekday/weekend rule: a holiday, or a make-up working day (调休)."""

    __tablename__ = "calendar_days"

    day: date = Field(primary_key=True)
    kind: str = Field(max_length=8)  # holiday / workday
    name: str | None = Field(default=None, max_length=100)
    source: str = Field(max_length=16)  # package / import / admin


class CalendarYear(SQLModel, table=True):
    """A year whose official schedule we hold; deadlines in any other year are provisional."""

    __tablename__ = "calendar_years"

    year: int = Field(primary_key=True)
    source: str = Field(max_length=16)  # package / import
    loaded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class StepClock(SQLModel, table=True):
    """One running limit: a case step (accept, dispatch, handle, verify, arbitrate) or one whistle's
    check-in. An approved extension ends the instance and starts a new one, so alert levels start fresh."""

    __tablename__ = "clocks"
    __table_args__ = (
        # only the clocks with a level still to fire (migration 0016), in the order the sweep claims them
        # (`next_alert_at <= now ORDER BY next_alert_at, id LIMIT batch`, migration 0018)
        Index("ix_clocks_due", "next_alert_at", "id", postgresql_where=text("next_alert_at IS NOT NULL"),
              sqlite_where=text("next_alert_at IS NOT NULL")),
        Index("ix_clocks_case", "case_id", "stopped_at"),
        Index("ix_clocks_unit", "unit_id", "kind", "deadline"),
        Index("ix_clocks_kind_stopped", "kind", "stopped_at"),
        Index("ix_clocks_kind_deadline", "kind", "deadline"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")
    whistle_id: int | None = Field(default=None, foreign_key="whistles.id")
    unit_id: int | None = Field(default=None, foreign_key="units.id")  # the department on the clock, if any
    kind: str = Field(max_length=16)  # accept / dispatch / check_in / handle / verify / arbitrate
    drives_case: bool = True  # its deadline and alert are the ones the case shows
    urgency: str = Field(max_length=8)
    limit_spec: str = Field(max_length=8)  # e.g. "5d", "2h", "30m"
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    warning_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    deadline: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    escalate_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    provisional: bool = False
    level: str = Field(default="none", max_length=16)  # highest level fired: none/warning/overdue/escalated
    next_alert_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))  # null: nothing due
    paused_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    paused_minutes: float = 0  # suspended time, excluded from on-time figures
    extended_days: int = 0  # approved extensions (延期), in working days
    stopped_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    ended_by: str | None = Field(default=None, max_length=16)  # done / extension / returned / cancelled
    on_time: bool | None = None  # frozen when the step finishes; never recomputed


class Alert(SQLModel, table=True):
    """A fired alert level. Unique per (clock, level): each level fires exactly once per clock instance."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("clock_id", "level"), Index("ix_alerts_fired_at", "fired_at"))

    id: int | None = Field(default=None, primary_key=True)
    clock_id: int = Field(foreign_key="clocks.id")
    case_id: int = Field(foreign_key="cases.id", index=True)
    level: str = Field(max_length=16)
    fired_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
