"""The time-driven jobs as plain functions: each takes its logical `now`, is idempotent, and opens and
closes its own database connections. The CLI and the tests call these; the Prefect flows wrap them."""

import asyncio
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from chuishao.flows.audience import report_event
from chuishao.flows.bulletin import BulletinBuilder
from chuishao.flows.calendar_store import CalendarStore
from chuishao.flows.checkpoint import CheckpointBuilder
from chuishao.flows.clock import Clock
from chuishao.flows.errors import Conflict
from chuishao.flows.metrics import record_sweep
from chuishao.flows.periods import parse_month, parse_week
from chuishao.flows.sweep import SCHEDULED_WORKERS, SweepResult, clock_of, sweep
from chuishao.models.config import Settings, get_settings
from chuishao.models.db import Database
from chuishao.models.org import Unit
from chuishao.models.reports import BulletinRecord, CheckpointRecord
from chuishao.notifications.channels import channels_from
from chuishao.notifications.dispatcher import deliver_due
from chuishao.notifications.fanout import fan_out


async def run_sweep(now: datetime | Clock, settings: Settings | None = None) -> SweepResult:
    """`now`: the clock the sweep reads for each batch (flows.clock.system_clock when scheduled), or a fixed
    time (see flows.sweep.sweep). On PostgreSQL two batches run at once (flows.sweep.SCHEDULED_WORKERS), so
    the alerts' ids are not in a repeatable order; each level still fires exactly once."""
    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        store = CalendarStore(db)
        await store.load(clock_of(now)())
        started = time.perf_counter()
        result = await sweep(db, store.current, now, workers=SCHEDULED_WORKERS)
        await record_sweep(db, time.perf_counter() - started, len(result), clock_of(now)())  # for /metrics
        return result
    finally:
        await db.dispose()



async def run_redelivery(now: datetime | Clock, settings: Settings | None = None) -> dict:
    """Fan out any event not yet fanned out and send every delivery that is due: whatever a process that
    died left behind. Idempotent, like the in-process deliverer it backs up. `now`: a clock (each attempt is
    recorded when it was made) or a fixed time."""
    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        fanned = await fan_out(db, clock_of(now)())
        sent = await deliver_due(db, channels_from(settings), now)
        return {"fanned_out": fanned, **sent}
    finally:
        await db.dispose()


def _summary(section: dict) -> str:
    return (f"逾期 {section['overdue']['count']} 件，预警 {section['warnings']['count']} 件，"
            f"停滞 {section['stalled']['count']} 件，待核查 {section['awaiting_verification']['count']} 件")


def _refuse_preview_over(existing, preview: bool, what: str) -> None:
    """A preview never replaces a published record (the month or week was announced): Conflict (409)."""
    if preview and existing is not None and not existing.preview:
        raise Conflict(f"{what}已正式发布，不能再用预览替换", f"{what} is published; a preview cannot replace it",
                       code="already_published")


REGENERATED = "已重新生成，未再次通知 regenerated; nobody notified again"


def _store(s, record, key: dict, existing, now: datetime, data: dict, what: str) -> bool:
    """Insert or replace a report record (`key`: its primary key column and value). Returns whether to announce
    it: only a record published now for the first time is. A preview is announced to nobody, and a period
    already published was announced then, so its re-generation (by hand, or a retried run) replaces the record
    quietly rather than telling every reader a second time (issue 10)."""
    _refuse_preview_over(existing, data["preview"], what)
    if existing is None:
        s.add(record(generated_at=now, preview=data["preview"], data=data, **key))
        return not data["preview"]
    announce = existing.preview and not data["preview"]
    existing.generated_at, existing.preview, existing.data = now, data["preview"], data
    return announce


def _notice(data: dict, announced: bool, preview: str, published: str) -> str:
    """What a run did about its readers, for the CLI and the logs: one of a preview, a re-generation or the
    `published` line."""
    return preview if data["preview"] else published if announced else REGENERATED


async def run_checkpoint(week: str, now: datetime, settings: Settings | None = None) -> dict:
    """每周一检点 of `week` ("2026-W47") as of `now`: build, store (re-running replaces the week), notify each
    liaison with their own list. Before the week has ended the record is a preview: stored and readable, marked
    so, nobody notified; the run after the week replaces it. A week already published is replaced and nobody
    is notified again. Returns the checkpoint's data with "notice" (what was announced, Chinese then English).
    Raises Invalid (422) for a week that does not exist, has not begun or ended before the county's first
    record (flows.periods.refuse_before_records), Conflict (409) for a preview of a week already published."""
    week = parse_week(week)
    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        store = CalendarStore(db)
        await store.load(now)
        data = await CheckpointBuilder(db, store.current).build(week, now)
        async with db.transaction() as s:
            announce = _store(s, CheckpointRecord, {"week": week}, await s.get(CheckpointRecord, week), now, data,
                              f"{week} 周检点")
            n_t, n_d = len(data["townships"]), len(data["departments"])
            out = {**data, "notice": _notice(data, announce, "预览，本周未结束，未通知 preview, week in progress, "
                                                             "nobody notified",
                                             f"{n_t} 个乡镇、{n_d} 个部门已通知 {n_t} townships and {n_d} "
                                             "departments notified")}
            if not announce:
                return out
            ids = {u.code: u.id for u in (await s.execute(select(Unit))).scalars()}
            for t in data["townships"]:
                s.add(report_event("checkpoint", at=now, township_id=ids[t["code"]], url=f"/checkpoints/{week}.html",
                                   headline=f"{week} 周检点（{t['name']}）：{_summary(t)}", extra={"week": week}))
            for d in data["departments"]:
                s.add(report_event("checkpoint", at=now, unit_id=ids[d["code"]], url=f"/checkpoints/{week}.html",
                                   headline=f"{week} 周检点（{d['name']}）：{_summary(d)}", extra={"week": week}))
        return out
    finally:
        await db.dispose()


def bulletin_headline(data: dict) -> str:
    """The announcement of a published bulletin: its title, and the top of the red list when there is one (a
    month without enough whistles for any list is announced without it, never with a bare dash)."""
    red = data["red_list"]
    return f"{data['title']}已发布" + (f"：红榜第一 {red[0]['name']}" if red else "，本月无单位进入红榜")


def bulletin_dir(settings: Settings, month: str) -> Path:
    return settings.data_dir / "bulletins" / month


async def run_bulletin(month: str, now: datetime, settings: Settings | None = None) -> dict:
    """每月一通报 of `month` ("2026-11") as of `now`: figures in the database, every format rendered, stored,
    and everyone notified. Before the month has ended it is a preview: rendered and stored, marked so on every
    format, nobody notified; the run after the month replaces it. A month already published is replaced and
    nobody is notified again. Returns the bulletin's data with "notice" (what was announced, Chinese then
    English). Raises Invalid (422) for a month that does not exist, has not begun or ended before the county's
    first record (flows.periods.refuse_before_records), Conflict (409) for a preview of a month already
    published."""
    from chuishao.flows.reports import render_all

    month = parse_month(month)
    settings = settings or get_settings()
    db = Database(settings.url, pool_size=2)
    try:
        data = await BulletinBuilder(db).build(month, now)
        if data["preview"]:  # refused before the seconds of rendering, and before the published files are touched
            async with db.read() as s:
                _refuse_preview_over(await s.get(BulletinRecord, month), True, f"{month} 通报")
        await asyncio.to_thread(render_all, data, bulletin_dir(settings, month))  # charts and PDF: CPU-bound
        async with db.transaction() as s:
            announce = _store(s, BulletinRecord, {"month": month}, await s.get(BulletinRecord, month), now, data,
                              f"{month} 通报")
            out = {**data, "notice": _notice(data, announce, "预览，未通知 preview, nobody notified",
                                             "已发布并通知 published and announced")}
            if announce:
                s.add(report_event("bulletin", at=now, everyone=True, url=f"/bulletins/{month}.html",
                                   headline=bulletin_headline(data), extra={"month": month}))
        return out
    finally:
        await db.dispose()
