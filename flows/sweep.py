"""The deadline sweep (SPEC §5): fire each alert level exactly once per clock instance.

A plain function first (`sweep(db, calendar, now)`, called by the CLI, the tests and the Prefect flow),
a flow second (see flows/deployments.py). Due clocks are claimed in batches with FOR UPDATE SKIP LOCKED
on PostgreSQL, so two sweepers never take the same clock; the alert row (unique per clock and level)
and the clock's new level commit together, so a sweeper killed before its commit leaves nothing behind
and the next run fires the alert once.
"""

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text, update

from flows import clocks as clk
from flows.calendar import WorkingCalendar
from flows.uow import unit_of_work
from models.cases import Case
from models.clocks import Alert, StepClock
from models.db import Database

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


async def sweep(db: Database, calendar: WorkingCalendar, now: datetime, *, batch: int = 2000) -> SweepResult:
    result = SweepResult()
    while True:
        async with unit_of_work(db) as s:
            q = (select(StepClock).where(StepClock.next_alert_at <= now)
                 .order_by(StepClock.next_alert_at).limit(batch))
            if db.is_postgres:
                q = q.with_for_update(skip_locked=True)
            else:
                # SQLite has no row locks: take the database's write lock before reading, so a sweeper in
                # another process waits for this one's commit and then sees the clocks already advanced
                await s.execute(text("UPDATE clocks SET id = id WHERE 1 = 0"))
            claimed = list((await s.execute(q)).scalars())
            if not claimed:
                return result
            alerts, case_levels = [], {}
            for c in claimed:
                for level, due in clk.due_levels(c, now):
                    alerts.append({"clock_id": c.id, "case_id": c.case_id, "level": level, "fired_at": now,
                                   "due_at": due})
                    c.level = level
                    result.fired.append((c.case_id, c.id, level))
                c.next_alert_at = clk.next_due(c)
                if c.drives_case:
                    case_levels[c.case_id] = max(case_levels.get(c.case_id, "none"), c.level,
                                                 key=LEVEL_ORDER.__getitem__)
            _pause_for_fault_tests()
            if alerts:
                await s.execute(Alert.__table__.insert(), alerts)
            for level in ("warning", "overdue", "escalated"):
                ids = [cid for cid, lvl in case_levels.items() if lvl == level]
                if ids:
                    await s.execute(update(Case).where(Case.id.in_(ids)).values(alert=level)
                                    .execution_options(synchronize_session=False))
            # the claimed clocks' new level and next alert time are flushed with the commit
        if len(claimed) < batch:
            return result
