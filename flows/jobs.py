"""The time-driven jobs as plain functions: each takes its logical `now`, is idempotent, and opens and
closes its own database connections. The CLI and the tests call these; the Prefect flows wrap them."""

from datetime import datetime

from flows.calendar_store import CalendarStore
from flows.sweep import SweepResult, sweep
from models.config import Settings, get_settings
from models.db import Database
from notifications.channels import channels_from
from notifications.dispatcher import deliver_due
from notifications.fanout import fan_out


async def run_sweep(now: datetime, settings: Settings | None = None) -> SweepResult:
    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        store = CalendarStore(db)
        await store.load(now)
        return await sweep(db, store.current, now)
    finally:
        await db.dispose()



async def run_redelivery(now: datetime, settings: Settings | None = None) -> dict:
    """Fan out any event not yet fanned out and send every delivery that is due: whatever a process that
    died left behind. Idempotent, like the in-process deliverer it backs up."""
    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        fanned = await fan_out(db, now)
        sent = await deliver_due(db, channels_from(settings), now)
        return {"fanned_out": fanned, **sent}
    finally:
        await db.dispose()
