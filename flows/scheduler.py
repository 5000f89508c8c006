"""Who runs the schedules (sweep, checkpoint, bulletin, redelivery) for a database: the scheduler mode of an
API process (`CHUISHAO_SCHEDULER`) and the lease that keeps it to one scheduler per database.

The lease is one row of the key/value `settings` table (key `scheduler_lease`), no table of its own:

    {"mode": "embedded" | "worker", "prefect": <Prefect API URL> | None, "since": <ISO UTC>,
     "holders": {<token>: {"host": str, "pid": int, "since": <ISO UTC>, "heartbeat": <ISO UTC>}}}

A scheduler claims it at start and refreshes it every LEASE_REFRESH_SECONDS. A holder is live while its
heartbeat is younger than LEASE_STALE_SECONDS and, when it ran on this host, its process still exists (a
crashed holder on the same host is taken over at once). Several `chuishao worker`s of the same Prefect
server share the lease (Prefect hands each run to one worker); anything else is refused while a live holder
remains. Each claim is one short transaction on that one row: no human action ever waits on it beyond a
single SQLite write."""

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from chuishao.flows.clock import LOCAL_TZ, Clock
from chuishao.flows.errors import Invalid
from chuishao.models.db import Database
from chuishao.models.settings_table import Setting

# The one place the modes are defined; the CLI's help and refusals list them from here.
MODES = {
    "embedded": ("本进程（chuishao serve，仅 --workers 1）在进程内运行定时任务",
                 "this `chuishao serve` (one process, --workers 1) runs the schedules in-process"),
    "worker": ("本 API 进程不运行定时任务，由 Prefect 服务和 chuishao worker 运行",
               "this API process runs no schedules; a Prefect server and `chuishao worker` do"),
}
DEFAULT_MODE = "embedded"
MODE_ENV = "CHUISHAO_SCHEDULER"

LEASE_KEY = "scheduler_lease"
LEASE_REFRESH_SECONDS = 30.0
LEASE_STALE_SECONDS = 90.0

log = logging.getLogger(__name__)


def scheduler_mode(value: str | None) -> str:
    """`CHUISHAO_SCHEDULER`'s value checked: unset or empty means DEFAULT_MODE. Raises Invalid (one line,
    naming the allowed values) for anything not in MODES — a typo must not quietly change who schedules."""
    if value is None or value.strip() == "":
        return DEFAULT_MODE
    if value in MODES:
        return value
    zh = "；".join(f"{k}：{v[0]}" for k, v in MODES.items())
    en = "; ".join(f"{k}: {v[1]}" for k, v in MODES.items())
    raise Invalid(f"{MODE_ENV} 的值 {value!r} 无效，可选 {'、'.join(MODES)}（{zh}）",
                  f"{MODE_ENV}={value!r} is not a scheduler mode; allowed: {', '.join(MODES)} ({en})", code="usage")


@dataclass(frozen=True)
class Holder:
    """One scheduler process: `mode` embedded or worker, `prefect` the Prefect API URL a worker takes its
    runs from (None when embedded), where it runs, and a token unique to this process's claim."""

    mode: str
    prefect: str | None = None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def shares_with(self, lease: dict) -> bool:
        """Workers of one Prefect server are one scheduler; anything else is a second one."""
        return self.mode == lease.get("mode") == "worker" and self.prefect == lease.get("prefect")


class SchedulerTaken(Invalid):
    """Another live scheduler holds the schedules of this database (refusal at start, or lost later)."""

    code = "scheduler_taken"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _live(holder: dict, token: str, me: Holder | None, now: datetime) -> bool:
    if me is not None and token == me.token:
        return True
    if now - _at(holder["heartbeat"]) > timedelta(seconds=LEASE_STALE_SECONDS):
        return False
    if me is not None and (holder["host"], holder["pid"]) == (me.host, me.pid):  # an earlier process with our pid
        return False
    if holder["host"] == socket.gethostname():  # this host: a holder whose process is gone crashed
        return _pid_alive(holder["pid"])
    return True


def live_holders(lease: dict | None, now: datetime, me: Holder | None = None) -> dict:
    """The lease's holders that still count at `now` (UTC), by token, as seen by `me` (a claimer; None: a
    reader); {} when the lease is free."""
    if not lease:
        return {}
    return {t: h for t, h in lease.get("holders", {}).items() if _live(h, t, me, now)}


def describe(lease: dict, holders: dict) -> tuple[str, str]:
    """Who holds the schedules, in Chinese and English: the kind of scheduler, host, pid, since (Asia/Shanghai)."""
    latest = max(holders.values(), key=lambda h: h["heartbeat"])
    since = f"{_at(lease['since']).astimezone(LOCAL_TZ):%Y-%m-%d %H:%M:%S %z}"
    if lease["mode"] == "worker":
        zh_who = f"chuishao worker（Prefect {lease['prefect']}）"
        en_who = f"`chuishao worker` (Prefect {lease['prefect']})"
    else:
        zh_who, en_who = "内置调度的 chuishao serve", "an embedded `chuishao serve`"
    more = len(holders) - 1
    return (f"{zh_who}，主机 {latest['host']} 进程 {latest['pid']}{f' 等 {more + 1} 个进程' if more else ''}，"
            f"自 {since} 起",
            f"{en_who} on {latest['host']} pid {latest['pid']}{f' and {more} more' if more else ''}, since {since}")


def _refusal(me: Holder, lease: dict, holders: dict, *, lost: bool) -> SchedulerTaken:
    zh, en = describe(lease, holders)
    if me.mode == "embedded":
        hint = ("若本进程只需提供 API，请设 CHUISHAO_SCHEDULER=worker", "if this process should only serve the API, "
                "set CHUISHAO_SCHEDULER=worker")
    elif lease["mode"] == "worker":
        hint = ("请让 PREFECT_API_URL 指向同一个 Prefect 服务", "point PREFECT_API_URL at that same Prefect server")
    else:
        hint = ("请先停止它，或为它设 CHUISHAO_SCHEDULER=worker",
                "stop it first, or run it with CHUISHAO_SCHEDULER=worker")
    if lost:
        return SchedulerTaken(f"本进程失去了调度权：{zh} 已接管本数据库的定时任务，本进程停止调度",
                              f"this process lost the schedules of this database to {en}; it stops scheduling")
    return SchedulerTaken(f"本数据库的定时任务已由 {zh} 运行，同一数据库只能有一个调度器；{hint[0]}",
                          f"the schedules of this database are already run by {en}; only one scheduler may run "
                          f"per database: {hint[1]}")


@dataclass
class Claim:
    """What a claim found: `taken_over` the lease of holders that had stopped (for a log line), or None."""

    taken_over: dict | None = None

    def line(self) -> str:
        zh, en = describe(self.taken_over, self.taken_over["holders"])
        return f"• 接管已停止的调度器 {zh} / took over the schedules from a scheduler that stopped: {en}"


async def _claim_once(db: Database, me: Holder, now: datetime, *, lost: bool) -> Claim:
    stamp = now.isoformat()
    async with db.transaction() as s:
        row = await s.get(Setting, LEASE_KEY, with_for_update=True)
        lease = row.value if row is not None else None
        holders = live_holders(lease, now, me)
        mine = {"host": me.host, "pid": me.pid, "heartbeat": stamp,
                "since": holders.get(me.token, {}).get("since", stamp)}
        if holders and not (me.token in holders or me.shares_with(lease)):
            raise _refusal(me, lease, holders, lost=lost)
        taken_over = lease if lease and lease.get("holders") and not holders else None
        value = ({**lease, "holders": {**holders, me.token: mine}} if holders
                 else {"mode": me.mode, "prefect": me.prefect, "since": stamp, "holders": {me.token: mine}})
        if row is None:
            s.add(Setting(key=LEASE_KEY, value=value))
        else:
            row.value = value  # a new dict: the JSON column sees the change
    return Claim(taken_over)


async def claim(db: Database, me: Holder, now: datetime, *, lost: bool = False) -> Claim:
    """Take or refresh `me`'s hold on the schedules of `db` at `now` (UTC), in one short transaction.
    Raises SchedulerTaken naming the live holder (`lost`: worded for a holder that was overtaken)."""
    try:
        return await _claim_once(db, me, now, lost=lost)
    except IntegrityError:  # PostgreSQL: another process inserted the row first; now it exists, judge it
        return await _claim_once(db, me, now, lost=lost)


async def release(db: Database, me: Holder) -> None:
    """Drop `me` from the lease (the row goes when no holder is left); others' holds are kept."""
    async with db.transaction() as s:
        row = await s.get(Setting, LEASE_KEY, with_for_update=True)
        if row is None or me.token not in row.value.get("holders", {}):
            return
        rest = {t: h for t, h in row.value["holders"].items() if t != me.token}
        if rest:
            row.value = {**row.value, "holders": rest}
        else:
            await s.delete(row)


async def current(db: Database, now: datetime) -> tuple[dict, dict] | None:
    """The lease and its live holders at `now` (UTC), or None when no scheduler holds this database."""
    async with db.read() as s:
        row = await s.get(Setting, LEASE_KEY)
    holders = live_holders(row.value if row else None, now)
    return (row.value, holders) if holders else None


async def hold(db: Database, me: Holder, clock: Clock, say=print, every: float = LEASE_REFRESH_SECONDS) -> None:
    """Refresh `me`'s claim every `every` seconds until cancelled. A database that cannot be reached is said
    once and retried (the claim lives LEASE_STALE_SECONDS); raises SchedulerTaken when another scheduler has
    taken over meanwhile."""
    failing = False
    while True:
        await asyncio.sleep(every)
        try:
            await claim(db, me, clock(), lost=True)
        except (SQLAlchemyError, OSError) as err:
            if not failing:
                reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
                say(f"警告 warning: 无法刷新调度租约，稍后重试 / cannot refresh the scheduler lease, "
                    f"retrying: {reason}")
            failing = True
            continue
        if failing:
            say("• 调度租约已恢复 scheduler lease refreshed again")
        failing = False
