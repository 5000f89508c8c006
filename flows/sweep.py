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
import contextlib
import gc
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, select, text, update

from chuishao.flows import clocks as clk
from chuishao.flows.access import REVIEWS_COUNTY
from chuishao.flows.audience import alert_event
from chuishao.flows.calendar import WorkingCalendar
from chuishao.flows.cases import case_code
from chuishao.flows.clock import Clock, local
from chuishao.models.cases import Case, Whistle
from chuishao.models.clocks import Alert, StepClock
from chuishao.models.db import Database
from chuishao.models.notifications import Event
from chuishao.models.org import Unit

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


# ---- PostgreSQL: three statements per batch, sent as they stand (no SQL compiled per batch, rows read as the driver
# returns them: naive UTC, as the columns store it). The claim brings each clock's case columns and the units
# whistled to the case, so the events need no other read (the county-level units of `_reviewer_units` are read once
# a sweep, before its batches). It starts after the (next_alert_at, id) where the sweep's previous claim ended
# (`_Keyset`), so a claim never walks over the clocks another batch of the same sweep holds locked.
_PG_CLAIM = """
SELECT k.id, k.case_id, k.kind, k.unit_id, k.drives_case, k.level, k.warning_at, k.deadline, k.escalate_at,
       k.paused_at, k.stopped_at, k.next_alert_at,
       c.township_id, c.reporter_id, c.title, c.created_at, c.lead_unit_id,
       ARRAY(SELECT DISTINCT w.unit_id FROM whistles w WHERE w.case_id = k.case_id ORDER BY 1)
  FROM clocks k JOIN cases c ON c.id = k.case_id
 WHERE k.next_alert_at <= $1::timestamp AND (k.next_alert_at, k.id) > ($3::timestamp, $4::integer)
 ORDER BY k.next_alert_at, k.id
 LIMIT $2
   FOR UPDATE OF k SKIP LOCKED"""
# The events (one JSON document per batch, encoded once; the audiences, which few (clock kind, level, township,
# lead, whistled units) share, apart as a JSON array) and the alert rows (arrays). They go in before the
# clocks' update: their foreign-key checks then find the clocks already locked by the claim, where after the
# update each new row version would have to be locked again.
_PG_INSERT = """
WITH ev AS (
    INSERT INTO events (kind, action, case_id, township_id, unit_ids, reporter_id, audience, payload, at, fanned_out_at)
    SELECT e.kind, e.action, e.case_id, e.township_id, e.unit_ids, e.reporter_id, ($7::JSON[])[e.audience + 1],
           e.payload, $1::timestamp, NULL
      FROM json_to_recordset($2::json) AS e(kind VARCHAR, action VARCHAR, case_id INTEGER, township_id INTEGER,
           unit_ids JSON, reporter_id INTEGER, audience INTEGER, payload JSON)
    RETURNING 1)
INSERT INTO alerts (clock_id, case_id, level, fired_at, due_at)
SELECT a.clock_id, a.case_id, a.level, $1::timestamp, a.due_at
  FROM unnest($3::INTEGER[], $4::INTEGER[], $5::VARCHAR[], $6::TIMESTAMP[]) AS a(clock_id, case_id, level, due_at)"""
# The clocks' new level and next alert time, and the cases' colour
_PG_UPDATE = """
WITH kc AS (
    UPDATE clocks SET level = v.level, next_alert_at = v.next_alert_at
      FROM unnest($1::INTEGER[], $2::VARCHAR[], $3::TIMESTAMP[]) AS v(id, level, next_alert_at)
     WHERE clocks.id = v.id
    RETURNING 1)
UPDATE cases SET alert = v.alert
  FROM unnest($4::INTEGER[], $5::VARCHAR[]) AS v(id, alert)
 WHERE cases.id = v.id"""

# ---- SQLite: Core statements (no socket to cross), the same three steps plus the whistles' read
_CLOCKS = StepClock.__table__
_CASES = Case.__table__
_CLAIM_COLUMNS = [_CLOCKS.c[name] for name in ("id", "case_id", "kind", "unit_id", "drives_case", "level", "warning_at",
                                                 "deadline", "escalate_at", "paused_at", "stopped_at", "next_alert_at")]
_CLAIM = select(*_CLAIM_COLUMNS, *[_CASES.c[name] for name in ("township_id", "reporter_id", "title", "created_at",
                                                               "lead_unit_id")]
                ).join_from(_CLOCKS, _CASES, _CASES.c.id == _CLOCKS.c.case_id)
_UPDATE_CLOCKS = (update(_CLOCKS).where(_CLOCKS.c.id == bindparam("b_id"))
                  .values(level=bindparam("b_level"), next_alert_at=bindparam("b_next_alert_at")))


@dataclass(slots=True)
class _Claimed:
    """One claimed clock: what flows.clocks.due_levels and next_due read, its case's columns and the units
    whistled to the case. Times as the rows hold them (PostgreSQL: naive UTC; SQLite: aware UTC)."""

    id: int
    case_id: int
    kind: str
    unit_id: int | None
    drives_case: bool
    level: str
    warning_at: datetime
    deadline: datetime
    escalate_at: datetime
    paused_at: datetime | None
    stopped_at: datetime | None
    next_alert_at: datetime | None
    case: SimpleNamespace
    whistled: list[int]

    @classmethod
    def of(cls, row, whistled: list[int] | None = None) -> "_Claimed":
        township_id, reporter_id, title, created_at, lead_unit_id = row[12:17]
        case = SimpleNamespace(id=row[1], township_id=township_id, reporter_id=reporter_id, title=title,
                               created_at=_aware(created_at), lead_unit_id=lead_unit_id)
        return cls(*row[:12], case, list(row[17]) if whistled is None else whistled)


def _aware(t: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (PostgreSQL's raw rows are naive UTC)."""
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


@dataclass
class _Fired:
    """What one batch fires: the alert rows (clock, case, level, due_at), the clocks that moved, the cases'
    new colour (in case id order) and the (case_id, clock_id, level) for the result."""

    alerts: list[tuple[_Claimed, str, datetime]] = field(default_factory=list)
    moved: list[_Claimed] = field(default_factory=list)
    colours: list[tuple[int, str]] = field(default_factory=list)
    fired: list[tuple[int, int, str]] = field(default_factory=list)


def _levels(claimed: list[_Claimed], now: datetime) -> _Fired:
    """Fire every level due by `now` (flows.clocks.due_levels; `now` naive or aware as the rows' times are) and
    advance each clock to its next point (flows.clocks.next_due). Changes the claimed clocks in place."""
    out, case_levels = _Fired(), {}
    for c in claimed:
        before = (c.level, c.next_alert_at)
        for level, due in clk.due_levels(c, now):
            out.alerts.append((c, level, due))
            c.level = level
            out.fired.append((c.case_id, c.id, level))
        c.next_alert_at = clk.next_due(c)
        if (c.level, c.next_alert_at) != before:
            out.moved.append(c)
        if c.drives_case:
            case_levels[c.case_id] = max(case_levels.get(c.case_id, "none"), c.level, key=LEVEL_ORDER.__getitem__)
    # in id order, as an index scan of `id IN (...)` would lock them: two sweepers that share a case take its row
    # in the same order
    out.colours = sorted((cid, lvl) for cid, lvl in case_levels.items() if lvl != "none")
    return out


def _alert_events(out: _Fired, now: datetime, reviewer_units: tuple[int, ...]) -> list[dict]:
    """The outbox rows for this batch's alerts: who hears of each, and the scope a live feed filters on. Each
    says when its level fell due and when it was raised (`now`, aware), both in Asia/Shanghai. Events with the
    same audience share its dict (flows.audience.alert_event's `audiences`). `reviewer_units`: see
    `_reviewer_units`."""
    events = []
    fired_at = local(now)
    audiences: dict = {}
    shown: dict[datetime, str] = {}  # a batch's points are few (every normal deadline falls at 17:30)

    def show(t: datetime) -> str:
        text = shown.get(t)
        if text is None:
            text = shown[t] = local(_aware(t))
        return text

    for clock, level, due in out.alerts:
        case = clock.case
        event = alert_event(level=level, clock_kind=clock.kind, unit_id=clock.unit_id, case=case,
                            whistled=clock.whistled, code=case_code(case), deadline=show(clock.deadline), at=now,
                            audiences=audiences, reviewer_units=reviewer_units)
        payload = event["payload"]
        payload["due_at"], payload["fired_at"] = show(due), fired_at
        events.append(event)
    return events


def _pg_events(events: list[dict]) -> tuple[str, list[str]]:
    """The batch's events as _PG_INSERT takes them: a JSON array of rows, each naming its audience by its place
    in the second value, the batch's distinct audiences, each encoded once."""
    index: dict[int, int] = {}  # id() of a shared audience dict -> its place (the dicts live as long as `events`)
    audiences: list[str] = []
    rows = []
    for e in events:
        aud = e["audience"]
        i = index.get(id(aud))
        if i is None:
            i = index[id(aud)] = len(audiences)
            audiences.append(json.dumps(aud))
        rows.append({"kind": e["kind"], "action": e["action"], "case_id": e["case_id"], "township_id": e["township_id"],
                     "unit_ids": e["unit_ids"], "reporter_id": e["reporter_id"], "audience": i,
                     "payload": e["payload"]})
    return json.dumps(rows), audiences


async def _reviewer_units(db: Database) -> tuple[int, ...]:
    """The county-level units (county, departments; flows.access.REVIEWS_COUNTY) whose legal reviewers cover every
    case, so that they hear of a legal review clock's alerts as they heard of the case entering review
    (docs/access.md#legal-review). One small read a sweep, before its batches."""
    async with db.read() as s:
        rows = await s.execute(select(Unit.id).where(Unit.kind.in_(REVIEWS_COUNTY)).order_by(Unit.id))
        return tuple(rows.scalars())


def clock_of(now: datetime | Clock) -> Clock:
    """A clock to read: `now` itself when it is one (flows.clock.system_clock, a FixedClock), else a clock
    stopped at the datetime given (a replay or a drill at a chosen time)."""
    return now if callable(now) else (lambda: now)


SCHEDULED_WORKERS = 2  # batches in flight for the scheduled sweep and `chuishao sweep` (PostgreSQL; see `sweep`)


@dataclass
class _Keyset:
    """Where a sweep's claims have reached in the due order (`next_alert_at`, id; naive UTC as stored), shared by
    its workers on PostgreSQL. Claims take turns (`turn`): each starts after the last clock the previous one
    took, so two batches of one sweep never walk over each other's locked clocks. `more` is set once a claim
    came back full (another batch may follow) or short (`done`): the second worker waits for it, so a sweep
    with one batch or none opens one connection."""

    after: tuple[datetime, int] = (datetime(1, 1, 1), 0)  # before every clock
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    more: asyncio.Event = field(default_factory=asyncio.Event)
    done: bool = False  # a claim came back short: nothing left past `after`


async def sweep(db: Database, calendar: WorkingCalendar, now: datetime | Clock, *,
                batch: int = 2000, workers: int = 1) -> SweepResult:
    """Fire every alert level due by now, each exactly once. `now`: the clock (flows.clock.system_clock for
    the scheduled sweep, a FixedClock in tests) or a fixed aware datetime. Each batch reads it once, claims
    the clocks due by that reading and stamps their alerts and events with it: `fired_at` is when the alert
    was raised, never before its `due_at` and never later than the clock. Returns the (case_id, clock_id,
    level) fired, batch by batch in the order the batches committed.

    A batch is one transaction: claim up to `batch` due clocks with their cases and the units whistled to them
    (PostgreSQL: FOR UPDATE OF the clocks, SKIP LOCKED, so another sweeper takes other clocks; SQLite: the
    write lock first), then write the events, the alert rows, the clocks' new level and next alert time and the
    cases' colour, and commit. Each claim on PostgreSQL starts where the one before ended in the due order
    (`_Keyset`), so a clock that is behind that point by the time it can be taken is left to the next sweep,
    as a sweep of one batch leaves it: one an action held locked as the claim passed, or one an action made due
    meanwhile with an earlier point (an extension approved after its warning point). Its alerts then say when
    they were raised.

    `workers` > 1 (PostgreSQL only; SQLite has one writer) runs that many batches at once on their own
    connections, their claims taking turns: one batch's Python and the next one's claim overlap another's
    writes. The alert and event rows' order (their ids) is then no longer repeatable, which the demo county's
    same-seed check needs, so the default is 1; the scheduled sweep and `chuishao sweep` use SCHEDULED_WORKERS
    (bench/RESULTS.md#sweep). Raises what a batch raised (the other batches are cancelled; each batch commits
    whole or not at all)."""
    read = clock_of(now)
    result = SweepResult()
    reviewer_units = await _reviewer_units(db)
    with _no_cycle_collection():
        if db.is_postgres:
            result.fired = await _sweep_pg(db, read, batch, max(1, workers), reviewer_units)
        else:
            while True:
                fired, claimed = await _batch_sqlite(db, read, batch, reviewer_units)
                result.fired.extend(fired)
                if claimed < batch:
                    break
    return result


async def _sweep_pg(db: Database, read: Clock, batch: int, workers: int, reviewer_units: tuple[int, ...]
                    ) -> list[tuple[int, int, str]]:
    """`workers` batch loops sharing one `_Keyset`; the first claims at once, the others once a claim came back
    full. Returns what they fired, batch by batch as they committed. Raises the first failure as itself, not as
    the task group's ExceptionGroup, so the logs name it."""
    keys = _Keyset()
    fired: list[tuple[int, int, str]] = []

    async def worker(first: bool) -> None:
        if not first:
            await keys.more.wait()
        while not keys.done:
            fired.extend(await _batch_pg(db, read, batch, reviewer_units, keys))

    try:
        async with asyncio.TaskGroup() as tasks:
            for n in range(workers):
                tasks.create_task(worker(n == 0))
    except ExceptionGroup as group:
        raise group.exceptions[0] from None
    return fired


@contextlib.contextmanager
def _no_cycle_collection():
    """The cycle collector off while the batches run. A batch builds tens of thousands of objects that live until
    it commits (the claimed rows, the events); each full collection they trigger walks the whole heap (measured
    in the sweep's process: 0.1–0.2 s of its 0.3–0.5 s of CPU, bench/RESULTS.md#sweep). Reference counting frees
    them, as they form no cycles; the collector, process-wide, is back on (if it was on) when the sweep ends and
    takes any cycle left meanwhile."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


async def _batch_pg(db: Database, read: Clock, batch: int, reviewer_units: tuple[int, ...], keys: _Keyset
                    ) -> list[tuple[int, int, str]]:
    """One batch in one transaction (see `sweep`): claims, in its turn, up to `batch` clocks past `keys.after`
    and moves `keys` on (marking it done when fewer came back); returns the (case_id, clock_id, level) it fired."""
    async with db.transaction() as s:
        conn = await s.connection()
        async with keys.turn:
            if keys.done:
                return []
            now = read()  # the time this batch is raised
            at = _naive(now)
            rows = (await conn.exec_driver_sql(_PG_CLAIM, (at, batch, *keys.after))).all()
            keys.done = len(rows) < batch
            keys.more.set()
            if rows:
                keys.after = (rows[-1].next_alert_at, rows[-1].id)
        if not rows:
            return []
        claimed = [_Claimed.of(row) for row in rows]  # outside the turn: the next claim need not wait for it
        # let a waiting worker send its claim before this batch's Python holds the loop: the database then works
        # on that claim meanwhile
        await asyncio.sleep(0)
        out = _levels(claimed, at)
        events = _alert_events(out, now, reviewer_units)
        _pause_for_fault_tests()
        # the events, the alert rows, the clocks' new level and next alert time, and the cases' colour commit
        # together
        rows, audiences = _pg_events(events)
        await conn.exec_driver_sql(_PG_INSERT, (
            at, rows, [c.id for c, _, _ in out.alerts], [c.case_id for c, _, _ in out.alerts],
            [level for _, level, _ in out.alerts], [due for _, _, due in out.alerts], audiences))
        await conn.exec_driver_sql(_PG_UPDATE, (
            [c.id for c in out.moved], [c.level for c in out.moved], [c.next_alert_at for c in out.moved],
            [cid for cid, _ in out.colours], [lvl for _, lvl in out.colours]))
    return out.fired


async def _batch_sqlite(db: Database, read: Clock, batch: int, reviewer_units: tuple[int, ...]
                        ) -> tuple[list[tuple[int, int, str]], int]:
    """As `_batch_pg`, with Core statements; the transaction starts with the database's write lock. Returns what it
    fired and how many clocks it claimed (fewer than `batch`: none were left)."""
    async with db.transaction() as s:
        # SQLite has no row locks: take the database's write lock before reading, so a sweeper in another
        # process waits for this one's commit and then sees the clocks already advanced
        await s.execute(text("UPDATE clocks SET id = id WHERE 1 = 0"))
        now = read()  # after any wait for the lock: the time this batch is raised
        rows = (await s.execute(_CLAIM.where(_CLOCKS.c.next_alert_at <= now)
                                .order_by(_CLOCKS.c.next_alert_at, _CLOCKS.c.id).limit(batch))).all()
        if not rows:
            return [], 0
        whistled: dict[int, set[int]] = {}
        for case_id, unit_id in await s.execute(select(Whistle.case_id, Whistle.unit_id)
                                                .where(Whistle.case_id.in_(sorted({row[1] for row in rows})))):
            whistled.setdefault(case_id, set()).add(unit_id)
        claimed = [_Claimed.of(row, sorted(whistled.get(row[1], ()))) for row in rows]
        out = _levels(claimed, now)
        events = _alert_events(out, now, reviewer_units)
        _pause_for_fault_tests()
        if events:
            await s.execute(Event.__table__.insert(), events)
        if out.alerts:
            await s.execute(Alert.__table__.insert(), [
                {"clock_id": c.id, "case_id": c.case_id, "level": level, "fired_at": now, "due_at": due}
                for c, level, due in out.alerts])
        if out.moved:
            await s.execute(_UPDATE_CLOCKS, [{"b_id": c.id, "b_level": c.level, "b_next_alert_at": c.next_alert_at}
                                             for c in out.moved])
        for level in ("warning", "overdue", "escalated"):
            ids = [cid for cid, lvl in out.colours if lvl == level]
            if ids:
                await s.execute(update(Case).where(Case.id.in_(ids)).values(alert=level)
                                .execution_options(synchronize_session=False))
    return out.fired, len(claimed)
