"""The deadline sweep (docs/clocks.md#the-sweep): fire each alert level exactly once per clock instance.

A plain function first (`sweep(db, calendar, now)`, called by the CLI, the tests and the Prefect flow),
a flow second (see flows/deployments.py). Due clocks are claimed in batches with FOR UPDATE SKIP LOCKED
on PostgreSQL, so two sweepers never take the same clock; the alert row (unique per clock and level)
and the clock's new level commit together, so a sweeper killed before its commit leaves nothing behind
and the next run fires the alert once.

An alert keeps two times: `due_at`, the level's point on the clock, and `fired_at`, when the sweep raised
it (the clock read for that batch). A sweep that catches up after an outage raises late alerts at its own
time, so the audit trail shows the delay instead of pretending the alert went out on time.
"""

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, select, text, update

from chuishao.flows import clocks as clk
from chuishao.flows.audience import alert_event
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.cases import case_code
from chuishao.flows.clock import Clock, local
from chuishao.models.cases import Case, Whistle
from chuishao.models.clocks import Alert, StepClock
from chuishao.models.db import Database
from chuishao.models.notifications import Event
from chuishao.models.types import UTCDateTime

LEVEL_ORDER = {"none": 0, "warning": 1, "overdue": 2, "escalated": 3}


@dataclass
class SweepResult:
    fired: list[tuple[int, int, str]] = field(default_factory=list)  # (case_id, clock_id, level)

    def __len__(self) -> int:
        return len(self.fired)

    def __iter__(self):
        return iter(self.fired)


def _pause_for_fault_tests() -> None:
    """Fault injection for the crash test: stop between claiming and committing."""
    delay = float(os.environ.get("CHUISHAO_SWEEP_PAUSE_AFTER_CLAIM", "0") or 0)
    if delay:
        print("claimed; pausing before commit", flush=True, file=sys.stderr)
        time.sleep(delay)


# Only what the levels and the events need, in one read: the due clocks with their case's columns (a join, not a
# second query). The claimed rows are plain rows, not ORM objects (10,000 of those cost more than the statements).
_CLOCKS = StepClock.__table__
_CASES = Case.__table__
_CLAIM_COLUMNS = [_CLOCKS.c[name] for name in ("id", "case_id", "kind", "unit_id", "drives_case", "level", "warning_at",
                                                 "deadline", "escalate_at", "paused_at", "stopped_at", "next_alert_at")]
_CASE_COLUMNS = [_CASES.c[name] for name in ("township_id", "reporter_id", "title", "created_at", "lead_unit_id")]
_CLAIM = select(*_CLAIM_COLUMNS, *[c.label(f"case_{c.name}") for c in _CASE_COLUMNS]).join_from(
    _CLOCKS, _CASES, _CASES.c.id == _CLOCKS.c.case_id)
_TS = UTCDateTime()
# PostgreSQL: a batch's writes are two statements over arrays and one JSON document (data-modifying CTEs), so a
# batch costs three round trips (claim, insert, update) plus its commit, and the events' JSON is encoded once per
# batch, not per column. The alert rows go in first: their foreign-key checks then find the clocks already locked
# by the claim; after the clocks' update they would have to lock each new row version again.
_PG_INSERT = text("""
WITH ev AS (
    INSERT INTO events (kind, action, case_id, township_id, unit_ids, reporter_id, audience, payload, at, fanned_out_at)
    SELECT e.kind, e.action, e.case_id, e.township_id, e.unit_ids, e.reporter_id, e.audience, e.payload,
           CAST(:fired_at AS TIMESTAMP), NULL
      FROM json_to_recordset(CAST(:events AS JSON)) AS e(kind VARCHAR, action VARCHAR, case_id INTEGER,
           township_id INTEGER, unit_ids JSON, reporter_id INTEGER, audience JSON, payload JSON)
    RETURNING 1)
INSERT INTO alerts (clock_id, case_id, level, fired_at, due_at)
SELECT a.clock_id, a.case_id, a.level, CAST(:fired_at AS TIMESTAMP), a.due_at
  FROM unnest(CAST(:a_clock AS INTEGER[]), CAST(:a_case AS INTEGER[]), CAST(:a_level AS VARCHAR[]),
              CAST(:a_due AS TIMESTAMP[])) AS a(clock_id, case_id, level, due_at)""")
_PG_UPDATE = text("""
WITH kc AS (
    UPDATE clocks SET level = v.level, next_alert_at = v.next_alert_at
      FROM unnest(CAST(:k_id AS INTEGER[]), CAST(:k_level AS VARCHAR[]), CAST(:k_next AS TIMESTAMP[]))
           AS v(id, level, next_alert_at)
     WHERE clocks.id = v.id
    RETURNING 1)
UPDATE cases SET alert = v.alert
  FROM unnest(CAST(:c_id AS INTEGER[]), CAST(:c_alert AS VARCHAR[])) AS v(id, alert)
 WHERE cases.id = v.id""")
_EVENT_KEYS = ("kind", "action", "case_id", "township_id", "unit_ids", "reporter_id", "audience", "payload")
# SQLite: executemany
_UPDATE_CLOCKS = (update(_CLOCKS).where(_CLOCKS.c.id == bindparam("b_id"))
                  .values(level=bindparam("b_level"), next_alert_at=bindparam("b_next_alert_at")))


class _Claimed:
    """One claimed clock (the attributes flows.clocks.due_levels and next_due read) and its case's columns."""

    __slots__ = (*(c.name for c in _CLAIM_COLUMNS), "case")

    def __init__(self, row):
        n = len(_CLAIM_COLUMNS)
        for name, value in zip(self.__slots__[:n], row[:n], strict=True):
            setattr(self, name, value)
        township_id, reporter_id, title, created_at, lead_unit_id = row[n:]
        self.case = SimpleNamespace(id=self.case_id, township_id=township_id, reporter_id=reporter_id, title=title,
                                    created_at=created_at, lead_unit_id=lead_unit_id)


async def _whistled(s, case_ids: list[int]) -> dict[int, list[int]]:
    """The units whistled to each case (every whistle, as an alert event's `unit_ids` lists them), sorted."""
    whistled: dict[int, set[int]] = {}
    for case_id, unit_id in await s.execute(select(Whistle.case_id, Whistle.unit_id)
                                            .where(Whistle.case_id.in_(case_ids))):
        whistled.setdefault(case_id, set()).add(unit_id)
    return {case_id: sorted(units) for case_id, units in whistled.items()}


def _alert_events(claimed: dict[int, "_Claimed"], alerts: list[dict], whistled: dict[int, list[int]],
                  now: datetime) -> list[dict]:
    """The outbox rows for this batch's alerts: who hears of each, and the scope a live feed filters on. Each
    says when its level fell due and when it was raised (`now`), both in Asia/Shanghai."""
    events = []
    fired_at = local(now)
    for a in alerts:
        clock = claimed[a["clock_id"]]
        case = clock.case
        event = alert_event(level=a["level"], clock_kind=clock.kind, unit_id=clock.unit_id, case=case,
                            whistled=whistled.get(case.id, []), code=case_code(case),
                            deadline=local(clock.deadline), at=now)
        event["payload"] |= {"due_at": local(a["due_at"]), "fired_at": fired_at}
        events.append(event)
    return events


def _naive(t: datetime | None) -> datetime | None:
    """As the column type stores it (naive UTC), for the array parameters, which bypass the column type."""
    return _TS.process_bind_param(t, None)


def clock_of(now: datetime | Clock) -> Clock:
    """A clock to read: `now` itself when it is one (flows.clock.system_clock, a FixedClock), else a clock
    stopped at the datetime given (a replay or a drill at a chosen time)."""
    return now if callable(now) else (lambda: now)


async def sweep(db: Database, calendar: WorkingCalendar, now: datetime | Clock, *,
                batch: int = 2000, workers: int | None = None) -> SweepResult:
    """Fire every alert level due by now, each exactly once. `now`: the clock (flows.clock.system_clock for
    the scheduled sweep, a FixedClock in tests) or a fixed aware datetime. Each batch reads it once, claims
    the clocks due by that reading and stamps their alerts and events with it: `fired_at` is when the alert
    was raised, never before its `due_at` and never later than the clock. Returns the (case_id, clock_id,
    level) fired, in the order raised.

    A batch is one transaction: claim up to `batch` due clocks with their cases (PostgreSQL: FOR UPDATE OF the
    clocks, SKIP LOCKED, so a second sweeper takes other clocks; SQLite: the write lock first), read the units
    whistled to them, then write the events, the alert rows, the clocks' new level and next alert time and the
    cases' colour, and commit. On PostgreSQL `workers` batches (default 2) run at once on their own connections,
    as two sweepers would (SKIP LOCKED gives each other clocks), so one batch's Python work overlaps the other's
    writes; SQLite has one writer, so one at a time there."""
    read = clock_of(now)
    result = SweepResult()

    async def worker() -> None:
        while True:
            fired, claimed = await _batch(db, read, batch)
            result.fired.extend(fired)
            if claimed < batch:
                return

    n = workers or (2 if db.is_postgres else 1)
    async with asyncio.TaskGroup() as tasks:
        for _ in range(n):
            tasks.create_task(worker())
    return result


async def _batch(db: Database, read: Clock, batch: int) -> tuple[list[tuple[int, int, str]], int]:
    """One batch in one transaction (see `sweep`): the (case_id, clock_id, level) it fired and how many clocks it
    claimed (fewer than `batch`: none were left to claim)."""
    async with db.transaction() as s:
        if not db.is_postgres:
            # SQLite has no row locks: take the database's write lock before reading, so a sweeper in
            # another process waits for this one's commit and then sees the clocks already advanced
            await s.execute(text("UPDATE clocks SET id = id WHERE 1 = 0"))
        now = read()  # after any wait for the lock: the time this batch is raised
        q = (_CLAIM.where(_CLOCKS.c.next_alert_at <= now)
             .order_by(_CLOCKS.c.next_alert_at, _CLOCKS.c.id).limit(batch))
        if db.is_postgres:
            q = q.with_for_update(skip_locked=True, of=_CLOCKS)
        claimed = {row[0]: _Claimed(row) for row in await s.execute(q)}
        if not claimed:
            return [], 0
        alerts, moved, case_levels, fired = [], [], {}, []
        for c in claimed.values():
            before = (c.level, c.next_alert_at)
            for level, due in clk.due_levels(c, now):
                alerts.append({"clock_id": c.id, "case_id": c.case_id, "level": level, "fired_at": now,
                               "due_at": due})
                c.level = level
                fired.append((c.case_id, c.id, level))
            c.next_alert_at = clk.next_due(c)
            if (c.level, c.next_alert_at) != before:
                moved.append(c)
            if c.drives_case:
                case_levels[c.case_id] = max(case_levels.get(c.case_id, "none"), c.level,
                                             key=LEVEL_ORDER.__getitem__)
        whistled = await _whistled(s, sorted({a["case_id"] for a in alerts})) if alerts else {}
        events = _alert_events(claimed, alerts, whistled, now)
        _pause_for_fault_tests()
        # the events, the alert rows, the clocks' new level and next alert time, and the cases' colour commit
        # together; cases in id order, as an index scan of `id IN (...)` would lock them: two sweepers that
        # share a case take its row in the same order
        changed = sorted((cid, lvl) for cid, lvl in case_levels.items() if lvl != "none")
        if db.is_postgres:
            await s.execute(_PG_INSERT, {
                "fired_at": _naive(now),
                "events": json.dumps([{k: e[k] for k in _EVENT_KEYS} for e in events]),
                "a_clock": [a["clock_id"] for a in alerts], "a_case": [a["case_id"] for a in alerts],
                "a_level": [a["level"] for a in alerts], "a_due": [_naive(a["due_at"]) for a in alerts]})
            await s.execute(_PG_UPDATE, {
                "k_id": [c.id for c in moved], "k_level": [c.level for c in moved],
                "k_next": [_naive(c.next_alert_at) for c in moved],
                "c_id": [cid for cid, _ in changed], "c_alert": [lvl for _, lvl in changed]})
        else:
            if events:
                await s.execute(Event.__table__.insert(), events)
            if alerts:
                await s.execute(Alert.__table__.insert(), alerts)
            if moved:
                await s.execute(_UPDATE_CLOCKS, [{"b_id": c.id, "b_level": c.level,
                                                  "b_next_alert_at": c.next_alert_at} for c in moved])
            for level in ("warning", "overdue", "escalated"):
                ids = [cid for cid, lvl in changed if lvl == level]
                if ids:
                    await s.execute(update(Case).where(Case.id.in_(ids)).values(alert=level)
                                    .execution_options(synchronize_session=False))
    return fired, len(claimed)
