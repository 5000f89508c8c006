"""Operations figures read from the database at scrape time (api/metrics.py exposes them as /metrics), and the
sweep's run record. These must be exact whichever process asks — several API processes, the worker's flow runs,
an embedded scheduler — so they live in the database, not in any one process's memory (docs/operations.md#metrics).

Kept cheap for a scrape every 15 s: the outbox counts use the pending indexes (events.fanned_out_at,
deliveries.state), the alert counts one grouped scan of `alerts`.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from chuishao.models.clocks import Alert
from chuishao.models.db import Database
from chuishao.models.notifications import Delivery, Event, Notification
from chuishao.models.settings_table import Setting
from chuishao.models.vocabulary import DELIVERY_FAILED, DELIVERY_PENDING

log = logging.getLogger("chuishao.metrics")
SWEEP_KEY = "metrics.sweep"  # the `settings` row the sweep's runs are counted in
# always reported, 0 when none: a dashboard's series never vanish
CHANNELS = ("webhook", "email", "sms")
ALERT_LEVELS = ("warning", "overdue", "escalated")  # 黄灯预警, 红灯超时, 升级督办 (models/vocabulary.ALERT_LABELS)


@dataclass
class Figures:
    """What /metrics reads from the database. Ages in seconds (wall clock, UTC), 0 when nothing waits."""

    events_pending: int = 0  # events not yet fanned out into inboxes and deliveries
    events_oldest_age: float = 0.0
    deliveries_pending: int = 0  # external deliveries not yet sent (first try or waiting to retry)
    deliveries_oldest_age: float = 0.0  # since its notification was made
    retrying: dict[str, int] = field(default_factory=dict)  # channel → pending deliveries that failed at least once
    failed: dict[str, int] = field(default_factory=dict)  # channel → deliveries given up
    alerts: dict[str, int] = field(default_factory=dict)  # level → alerts ever fired (warning/overdue/escalated)
    sweep: dict = field(default_factory=dict)  # the SWEEP_KEY row: runs, seconds_total, last_seconds, last_at


def _age(now: datetime, oldest: datetime | None) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


async def read_figures(db: Database, now: datetime) -> Figures:
    """The outbox backlog and its oldest age, failing deliveries by channel, alerts fired by level and the
    sweep's run record, in one short read. `now`: aware UTC (the ages are measured to it)."""
    f = Figures(retrying=dict.fromkeys(CHANNELS, 0), failed=dict.fromkeys(CHANNELS, 0))
    async with db.read() as s:
        f.events_pending, oldest = (await s.execute(
            select(func.count(), func.min(Event.at)).where(Event.fanned_out_at.is_(None)))).one()
        f.events_oldest_age = _age(now, oldest)
        f.deliveries_pending, oldest = (await s.execute(
            select(func.count(), func.min(Notification.at)).select_from(Delivery)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Delivery.state == DELIVERY_PENDING))).one()
        f.deliveries_oldest_age = _age(now, oldest)
        for state, channel, n in (await s.execute(
                select(Delivery.state, Delivery.channel, func.count())
                .where((Delivery.state == DELIVERY_FAILED) | ((Delivery.state == DELIVERY_PENDING)
                                                               & (Delivery.attempts > 0)))
                .group_by(Delivery.state, Delivery.channel))).all():
            (f.failed if state == DELIVERY_FAILED else f.retrying)[channel] = n
        f.alerts = {level: n for level, n in (await s.execute(
            select(Alert.level, func.count()).group_by(Alert.level))).all()}
        row = await s.get(Setting, SWEEP_KEY)
        f.sweep = dict(row.value) if row is not None else {}
    return f


async def record_sweep(db: Database, seconds: float, fired: int, now: datetime) -> None:
    """Add one sweep run to its record (the `settings` row SWEEP_KEY): runs, seconds_total, last_seconds,
    last_fired, last_at (ISO UTC). `seconds`: the run's wall-clock duration. Row-locked on PostgreSQL, so two
    sweepers never lose a run. Never raises: a run whose record fails is logged, the sweep's own work stands."""
    for attempt in range(2):  # the first run ever may race another's insert of the row: then update it
        try:
            async with db.transaction() as s:
                row = await s.get(Setting, SWEEP_KEY, with_for_update=True)
                value = dict(row.value) if row is not None else {"runs": 0, "seconds_total": 0.0}
                value.update(runs=value["runs"] + 1, seconds_total=value["seconds_total"] + seconds,
                             last_seconds=seconds, last_fired=fired, last_at=now.isoformat())
                if row is None:
                    s.add(Setting(key=SWEEP_KEY, value=value))
                else:
                    row.value = value
            return
        except IntegrityError:
            if attempt:
                log.exception("recording the sweep's run failed")
        except Exception:  # noqa: BLE001 - the figures must never fail the sweep
            log.exception("recording the sweep's run failed")
            return
