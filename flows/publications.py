"""Stored checkpoints (每周一检点) and bulletins (每月一通报) as their readers see them: the REST API
(api/routes/reports.py) and the web pages (api/web/reports.py) both read through here, so both scope alike.

Scope (SPEC §3): county staff see every checkpoint section; a township or a department sees its own section;
a grid worker sees no checkpoint. The bulletin is one county document: the REST API serves it to every signed-in
caller (unchanged); the web list refuses grid workers (`listing`), whose work is their own reports.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from flows.access import COUNTY_ROLES, DEPARTMENT_ROLES, GRID_WORKER, TOWNSHIP_ROLES, Actor
from flows.clock import local
from flows.errors import Forbidden, NotFound
from models.db import Database
from models.reports import BulletinRecord, CheckpointRecord

WEEK = r"(\d{4}-W(?:0[1-9]|[1-4]\d|5[0-3]))"  # ISO week, e.g. 2026-W47
MONTH = r"(\d{4}-(?:0[1-9]|1[0-2]))"  # e.g. 2026-11
BULLETIN_FILES = {"html": ("bulletin.html", "text/html; charset=utf-8"), "pdf": ("bulletin.pdf", "application/pdf"),
                  "xlsx": ("bulletin.xlsx",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}


def scoped(data: dict, who: Actor) -> dict:
    """A checkpoint's data as `who` may see it: county staff every section; a township or a department its own
    (`townships` / `departments` keep only the caller's unit). Raises Forbidden (403) for a grid worker."""
    if who.role in COUNTY_ROLES:
        return data
    if who.role == GRID_WORKER:
        raise Forbidden("检点清单面向乡镇和部门", "checkpoints are for townships and departments")
    own = who.unit_code
    townships = [t for t in data["townships"] if who.role in TOWNSHIP_ROLES and t["code"] == own]
    departments = [d for d in data["departments"] if who.role in DEPARTMENT_ROLES and d["code"] == own]
    return {**data, "townships": townships, "departments": departments}


def parse_week(name: str) -> str:
    """'2026-W47' or raise NotFound (the path names no week)."""
    if not re.fullmatch(WEEK, name):
        raise NotFound("周次格式应为 2026-W47", "week must look like 2026-W47")
    return name


def parse_month(name: str) -> str:
    """'2026-11' or raise NotFound (the path names no month)."""
    if not re.fullmatch(MONTH, name):
        raise NotFound("月份格式应为 2026-11", "month must look like 2026-11")
    return name


async def checkpoint(db: Database, week: str, who: Actor) -> dict:
    """The stored checkpoint of `week`, scoped for `who`. Raises NotFound (not generated) or Forbidden."""
    async with db.read() as s:
        row = await s.get(CheckpointRecord, week)
    if row is None:
        raise NotFound(f"{week} 周检点尚未生成", f"no checkpoint for {week} yet")
    return scoped(row.data, who)


async def bulletin(db: Database, month: str) -> dict:
    """The stored bulletin's data (flows/reports/SCHEMA.md). Raises NotFound when not generated."""
    async with db.read() as s:
        row = await s.get(BulletinRecord, month)
    if row is None:
        raise NotFound(f"{month} 通报尚未生成", f"no bulletin for {month} yet")
    return row.data


def bulletin_file(data_dir: Path, month: str, fmt: str) -> tuple[Path, str, str | None]:
    """The rendered bulletin file of `month` in `fmt` (html, pdf, xlsx) under `data_dir` (flows.jobs.bulletin_dir):
    (path, media type, download file name or None for html). Raises NotFound when it is not there."""
    filename, media = BULLETIN_FILES[fmt]
    path = data_dir / filename
    if not path.exists():
        raise NotFound(f"{month} 通报尚未生成", f"no bulletin for {month} yet")
    return path, media, (f"chuishao-bulletin-{month}.{fmt}" if fmt != "html" else None)


@dataclass(frozen=True)
class Published:
    name: str  # 2026-11 or 2026-W47
    generated_at: str  # ISO 8601, Asia/Shanghai


def ensure_staff(who: Actor) -> None:
    """The web's reports pages are for township, department and county staff: Forbidden (403) otherwise."""
    if who.role not in COUNTY_ROLES | TOWNSHIP_ROLES | DEPARTMENT_ROLES:
        raise Forbidden("通报和检点面向乡镇、部门和县级人员，网格员请查看“我的上报”",
                        "bulletins and checkpoints are for township, department and county staff")


async def listing(db: Database, who: Actor) -> dict:
    """Every stored bulletin and checkpoint, newest first: {"bulletins": [Published], "checkpoints": [Published]}.
    Reads only the names and times (not the stored data). Raises Forbidden (403) for a grid worker, and for
    any caller that is neither township, department nor county staff."""
    ensure_staff(who)
    async with db.read() as s:
        bulletins = (await s.execute(select(BulletinRecord.month, BulletinRecord.generated_at)
                                     .order_by(BulletinRecord.month.desc()))).all()
        checkpoints = (await s.execute(select(CheckpointRecord.week, CheckpointRecord.generated_at)
                                       .order_by(CheckpointRecord.week.desc()))).all()

    def items(rows) -> list[Published]:
        return [Published(name, local(at) if isinstance(at, datetime) else str(at)) for name, at in rows]

    return {"bulletins": items(bulletins), "checkpoints": items(checkpoints)}
