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


# Only what the levels need; the claimed rows are plain rows, not ORM objects (10,000 of those cost more
# than the statements), and the writes are one statement per table per batch.
_CLOCKS = StepClock.__table__
_CLAIM_COLUMNS = [_CLOCKS.c[name] for name in ("id", "case_id", "kind", "unit_id", "drives_case", "level", "warning_at",
                                                 "deadline", "escalate_at", "paused_at", "stopped_at", "next_alert_at")]
_TS = UTCDateTime()
# PostgreSQL: each batch's writes as one statement over arrays (a row per array element)
_PG_INSERT_ALERTS = text(
    "INSERT INTO alerts (clock_id, case_id, level, fired_at, due_at) "
    "SELECT * FROM unnest(CAST(:clock_id AS INTEGER[]), CAST(:case_id AS INTEGER[]), CAST(:level AS VARCHAR[]), "
    "CAST(:fired_at AS TIMESTAMP[]), CAST(:due_at AS TIMESTAMP[]))")
_PG_UPDATE_CLOCKS = text(
    "UPDATE clocks SET level = v.level, next_alert_at = v.next_alert_at "
    "FROM unnest(CAST(:id AS INTEGER[]), CAST(:level AS VARCHAR[]), CAST(:next_alert_at AS TIMESTAMP[])) "
    "AS v(id, level, next_alert_at) WHERE clocks.id = v.id")
_PG_UPDATE_CASES = text(
    "UPDATE cases SET alert = v.alert FROM unnest(CAST(:id AS INTEGER[]), CAST(:alert AS VARCHAR[])) "
    "AS v(id, alert) WHERE cases.id = v.id")
# SQLite: executemany
_UPDATE_CLOCKS = (update(_CLOCKS).where(_CLOCKS.c.id == bindparam("b_id"))
                  .values(level=bindparam("b_level"), next_alert_at=bindparam("b_next_alert_at")))


async def _alert_events(s, claimed, alerts: list[dict], now: datetime) -> list[dict]:
    """The outbox rows for this batch's alerts: who hears of each, and the scope a live feed filters on. Each
    says when its level fell due and when it was raised (`now`), both in Asia/Shanghai."""
    if not alerts:
        return []
    case_ids = sorted({a["case_id"] for a in alerts})
    cases = {row.id: row for row in await s.execute(
        select(Case.id, Case.township_id, Case.reporter_id, Case.title, Case.created_at, Case.lead_unit_id)
        .where(Case.id.in_(case_ids)))}
    whistled: dict[int, list[int]] = {}
    for case_id, unit_id in await s.execute(select(Whistle.case_id, Whistle.unit_id)
                                            .where(Whistle.case_id.in_(case_ids))):
        whistled.setdefault(case_id, []).append(unit_id)
    clocks = {c.id: c for c in claimed}
    events = []
    for a in alerts:
        case, clock = cases[a["case_id"]], clocks[a["clock_id"]]
        event = alert_event(level=a["level"], clock_kind=clock.kind, unit_id=clock.unit_id, case=case,
                            whistled=sorted(set(whistled.get(case.id, []))), code=case_code(case),
                            deadline=local(clock.deadline), at=now)
        event["payload"] |= {"due_at": local(a["due_at"]), "fired_at": local(now)}
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
                batch: int = 2000) -> SweepResult:
    """Fire every alert level due by now, each exactly once. `now`: the clock (flows.clock.system_clock for
    the scheduled sweep, a FixedClock in tests) or a fixed aware datetime. Each batch reads it once, claims
    the clocks due by that reading and stamps their alerts and events with it: `fired_at` is when the alert
    was raised, never before its `due_at` and never later than the clock. Returns the (case_id, clock_id,
    level) fired, in the order raised."""
    read = clock_of(now)
    result = SweepResult()
    while True:
        async with db.transaction() as s:
            if not db.is_postgres:
                # SQLite has no row locks: take the database's write lock before reading, so a sweeper in
                # another process waits for this one's commit and then sees the clocks already advanced
                await s.execute(text("UPDATE clocks SET id = id WHERE 1 = 0"))
            now = read()  # after any wait for the lock: the time this batch is raised
            q = (select(*_CLAIM_COLUMNS).where(_CLOCKS.c.next_alert_at <= now)
                 .order_by(_CLOCKS.c.next_alert_at, _CLOCKS.c.id).limit(batch))
            if db.is_postgres:
                q = q.with_for_update(skip_locked=True)
            claimed = [SimpleNamespace(**row._asdict()) for row in await s.execute(q)]
            if not claimed:
                return result
            alerts, moved, case_levels = [], [], {}
            for c in claimed:
                before = (c.level, c.next_alert_at)
                for level, due in clk.due_levels(c, now):
                    alerts.append({"clock_id": c.id, "case_id": c.case_id, "level": level, "fired_at": now,
                                   "due_at": due})
                    c.level = level
                    result.fired.append((c.case_id, c.id, level))
                c.next_alert_at = clk.next_due(c)
                if (c.level, c.next_alert_at) != before:
                    moved.append(c)
                if c.drives_case:
                    case_levels[c.case_id] = max(case_levels.get(c.case_id, "none"), c.level,
                                                 key=LEVEL_ORDER.__getitem__)
            events = await _alert_events(s, claimed, alerts, now)
            _pause_for_fault_tests()
            # the alert rows, the clocks' new level and next alert time, and the cases' colour commit together
            if db.is_postgres:
                if events:
                    await s.execute(Event.__table__.insert(), events)
                if alerts:
                    await s.execute(_PG_INSERT_ALERTS, {
                        "clock_id": [a["clock_id"] for a in alerts], "case_id": [a["case_id"] for a in alerts],
                        "level": [a["level"] for a in alerts], "fired_at": [_naive(now)] * len(alerts),
                        "due_at": [_naive(a["due_at"]) for a in alerts]})
                if moved:
                    await s.execute(_PG_UPDATE_CLOCKS, {
                        "id": [c.id for c in moved], "level": [c.level for c in moved],
                        "next_alert_at": [_naive(c.next_alert_at) for c in moved]})
                # in id order, as an index scan of `id IN (...)` would lock them: two sweepers that share a case
                # take its row in the same order
                changed = sorted((cid, lvl) for cid, lvl in case_levels.items() if lvl != "none")
                if changed:
                    await s.execute(_PG_UPDATE_CASES, {"id": [cid for cid, _ in changed],
                                                       "alert": [lvl for _, lvl in changed]})
            else:
                if events:
                    await s.execute(Event.__table__.insert(), events)
                if alerts:
                    await s.execute(Alert.__table__.insert(), alerts)
                if moved:
                    await s.execute(_UPDATE_CLOCKS, [{"b_id": c.id, "b_level": c.level,
                                                      "b_next_alert_at": c.next_alert_at} for c in moved])
                for level in ("warning", "overdue", "escalated"):
                    ids = [cid for cid, lvl in case_levels.items() if lvl == level]
                    if ids:
                        await s.execute(update(Case).where(Case.id.in_(ids)).values(alert=level)
                                        .execution_options(synchronize_session=False))
        if len(claimed) < batch:
            return result
