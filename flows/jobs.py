"""The time-driven jobs as plain functions: each takes its logical `now`, is idempotent, and opens and
closes its own database connections. The CLI and the tests call these; the Prefect flows wrap them."""

import asyncio
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from flows.audience import report_event
from flows.bulletin import BulletinBuilder
from flows.calendar_store import CalendarStore
from flows.checkpoint import CheckpointBuilder
from flows.sweep import SweepResult, sweep
from models.config import Settings, get_settings
from models.db import Database
from models.org import Unit
from models.reports import BulletinRecord, CheckpointRecord
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


def _summary(section: dict) -> str:
    return (f"逾期 {section['overdue']['count']} 件，预警 {section['warnings']['count']} 件，"
            f"停滞 {section['stalled']['count']} 件，待核查 {section['awaiting_verification']['count']} 件")


async def run_checkpoint(week: str, now: datetime, settings: Settings | None = None) -> dict:
    """每周一检点: build, store (re-running replaces the week), notify each liaison with their own list."""
    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        store = CalendarStore(db)
        await store.load(now)
        data = await CheckpointBuilder(db, store.current).build(week, now)
        async with db.transaction() as s:
            row = await s.get(CheckpointRecord, week)
            if row is None:
                s.add(CheckpointRecord(week=week, generated_at=now, data=data))
            else:
                row.generated_at, row.data = now, data
            ids = {u.code: u.id for u in (await s.execute(select(Unit))).scalars()}
            for t in data["townships"]:
                s.add(report_event("checkpoint", at=now, township_id=ids[t["code"]], url=f"/checkpoints/{week}.html",
                                   headline=f"{week} 周检点（{t['name']}）：{_summary(t)}", extra={"week": week}))
            for d in data["departments"]:
                s.add(report_event("checkpoint", at=now, unit_id=ids[d["code"]], url=f"/checkpoints/{week}.html",
                                   headline=f"{week} 周检点（{d['name']}）：{_summary(d)}", extra={"week": week}))
        return data
    finally:
        await db.dispose()


def bulletin_dir(settings: Settings, month: str) -> Path:
    return settings.data_dir / "bulletins" / month


async def run_bulletin(month: str, now: datetime, settings: Settings | None = None) -> dict:
    """每月一通报: figures in the database, every format rendered, stored, and every unit notified."""
    from flows.reports import render_all

    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        data = await BulletinBuilder(db).build(month, now)
        await asyncio.to_thread(render_all, data, bulletin_dir(settings, month))  # charts and PDF: CPU-bound
        async with db.transaction() as s:
            row = await s.get(BulletinRecord, month)
            if row is None:
                s.add(BulletinRecord(month=month, generated_at=now, data=data))
            else:
                row.generated_at, row.data = now, data
            top = data["red_list"][0]["name"] if data["red_list"] else "—"
            s.add(report_event("bulletin", at=now, everyone=True, url=f"/bulletins/{month}.html",
                               headline=f"{data['title']}已发布：红榜第一 {top}", extra={"month": month}))
        return data
    finally:
        await db.dispose()
