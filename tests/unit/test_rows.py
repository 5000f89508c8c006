"""The action path makes its rows with models/rows.new instead of the SQLModel constructor (issue 13): a row made
either way must write the same values, or a case, clock or outbox event would be stored with a wrong default."""

from datetime import UTC, datetime

import pytest

from chuishao.models.cases import Case, Extension, Feedback, LegalReview, Remark, Verification, Whistle
from chuishao.models.clocks import StepClock
from chuishao.models.notifications import Event
from chuishao.models.rows import build, columns, new
from chuishao.models.timeline import TimelineEntry

AT = datetime(2026, 11, 16, 1, 30, tzinfo=UTC)
# per table the action path writes: the fields it always names (the rest are left to the defaults)
GIVEN = {
    Case: dict(title="东街私搭乱建", township_id=3, status="reported", created_at=AT, updated_at=AT),
    Whistle: dict(case_id=1, unit_id=5, role="lead", state="sent", dispatched_at=AT),
    Extension: dict(case_id=1, unit_id=5, working_days=3, reason="材料待补", requested_by_id=7, requested_at=AT),
    StepClock: dict(case_id=1, kind="handle", urgency="normal", limit_spec="5wd", started_at=AT, warning_at=AT,
                    deadline=AT, escalate_at=AT),
    Feedback: dict(case_id=1, unit_id=5, outcome="resolved", result="已拆除", submitted_by_id=7, at=AT),
    Verification: dict(case_id=1, unit_id=5, passed=True, verified_by_id=7, at=AT),
    LegalReview: dict(case_id=1, unit_id=5, approved=True, reviewed_by_id=7, reviewer_unit_id=9, at=AT),
    Remark: dict(case_id=1, kind="urge", note="请尽快", by_id=7, unit_id=5, at=AT),
    Event: dict(kind="transition", action="accept", case_id=1, at=AT),
    TimelineEntry: dict(case_id=1, seq=1, at=AT, actor="gw_fc1", role="grid_worker", action="report",
                        payload="{}", prev_hash="0" * 64, hash="f" * 64),
}


@pytest.mark.parametrize("cls", list(GIVEN), ids=lambda c: c.__name__)
def test_new_writes_what_the_constructor_would(cls):
    given = GIVEN[cls]
    assert set(given) <= set(cls.model_fields)
    assert columns(new(cls, **given)) == columns(cls(**given))


def test_new_gives_each_row_its_own_mutable_defaults():
    a, b = new(Event, **GIVEN[Event]), new(Event, **GIVEN[Event])
    a.unit_ids.append(5)
    a.payload["k"] = 1
    assert b.unit_ids == [] and b.payload == {}


def test_build_and_columns_read_back_what_was_given():
    values = {c.name: None for c in StepClock.__table__.columns} | {"id": 9, "deadline": AT, "case_id": 2}
    clock = build(StepClock, values)
    assert columns(clock) == values and clock.deadline == AT
    clock.level = "warning"  # an ordinary attribute afterwards
    assert columns(clock)["level"] == "warning"


def test_columns_of_a_plain_row_are_its_columns_only_and_a_copy():
    values = {c.name: None for c in StepClock.__table__.columns} | {"id": 9, "deadline": AT, "case_id": 2}
    clock = build(StepClock, values)
    got = columns(clock)
    got["level"] = "changed"
    assert clock.level is None  # the caller's dict is not the row
    clock.note = "not a column"  # an attribute that is no column is not one of the row's columns
    assert columns(clock) == values
