"""Stored checkpoints (每周一检点) and bulletins (每月一通报) as their readers see them: the REST API
(api/routes/reports.py) and the web pages (api/web/reports.py) both read through here, so both scope alike.

Scope (docs/access.md#scope: a grid worker never sees other people's cases in a bulletin or checkpoint;
township and department staff see their own lists):
- grid workers (and anyone who is neither township, department nor county staff): no checkpoint and no
  bulletin in any format (403) — their work is their own reports, and the live feed withholds both from them;
- township staff: the checkpoint's own township section and totals; the bulletin's figures (county-wide, they
  name units, not cases) with only the cases of their township in its case lists;
- department staff (a county department or a township team): the same for the cases whistled to their unit;
- legal reviewers (法制审核员): the bulletin's figures with only the major decisions of their scope in its case
  lists; the checkpoint's county totals with every section's case lists cut to those cases (the counts beside
  them stay the section's);
- county supervisor and admin: everything.
A case is in a reader's bulletin lists exactly when the reader may open it (`Actor.sees`, the rule of every
case read), judged when the bulletin is read.

The stored bulletin files are the county's. A scoped reader's HTML, PDF or XLSX is rendered on request from the
stored JSON and the stored charts (the charts hold figures only, so every reader shares them) and kept under
the month's `scoped/` folder by the digest of its content: readers whose lists come out the same share one
file, and a regenerated bulletin (new content, `render_all` empties the folder) never serves a stale one.
"""

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from chuishao.flows.access import (
    COUNTY_ROLES,
    DEPARTMENT_ROLES,
    GRID_WORKER,
    INTEGRATOR,
    LEGAL_REVIEWER,
    TOWNSHIP_ROLES,
    Actor,
)
from chuishao.flows.checkpoint import section_totals
from chuishao.flows.clock import local
from chuishao.flows.errors import Forbidden, NotFound
from chuishao.models.cases import Case, Whistle
from chuishao.models.db import Database
from chuishao.models.reports import BulletinRecord, CheckpointRecord

BULLETIN_FILES = {"html": ("bulletin.html", "text/html; charset=utf-8"), "pdf": ("bulletin.pdf", "application/pdf"),
                  "xlsx": ("bulletin.xlsx",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
CASE_LISTS = ("overdue_cases", "supervised_cases", "typical_cases",  # the bulletin's lists of cases
              "case_review_cases")  # 案卷评查's failed cases (flows/case_review.py)
STAFF = COUNTY_ROLES | TOWNSHIP_ROLES | DEPARTMENT_ROLES | {LEGAL_REVIEWER}
REFUSALS = {  # role → (Chinese, English) refusal, each naming what that role reads instead
    GRID_WORKER: ("通报和检点面向乡镇、部门、法制审核和县级人员，网格员请查看“我的上报”",
                  "bulletins and checkpoints are not for grid workers: see your own reports"),
    INTEGRATOR: ("接口密钥只能上报和查询所报案件，不能读取通报和检点",
                 "an API key reports and follows its own requests; it reads no bulletin or checkpoint"),
}


def ensure_staff(who: Actor) -> None:
    """Bulletins and checkpoints are for township, department, legal-review and county staff: Forbidden (403)
    otherwise, with a message for the caller's role."""
    if who.role not in STAFF:
        zh, en = REFUSALS.get(who.role, ("通报和检点面向乡镇、部门、法制审核和县级人员，当前角色不能查看",
                                         "bulletins and checkpoints are for township, department, legal-review "
                                         "and county staff"))
        raise Forbidden(zh, en)


def _own(who: Actor, sections: list[dict], roles: frozenset) -> list[dict]:
    return [s for s in sections if who.role in roles and s["code"] == who.unit_code]


def scoped(data: dict, who: Actor) -> dict:
    """A checkpoint's data as `who` may see it: county staff every section and the county's totals; a township or
    a department its own section (`townships` / `departments` keep only the caller's unit), `totals` counted
    over that section alone, and `scope` {"unit": its name}. Raises Forbidden (403) for anyone else."""
    ensure_staff(who)
    if who.role in COUNTY_ROLES:
        return data
    townships = _own(who, data["townships"], TOWNSHIP_ROLES)
    departments = _own(who, data["departments"], DEPARTMENT_ROLES)
    if not townships + departments:  # a unit the week's record does not know (created since)
        return {**data, "townships": [], "departments": [], "scope": {"unit": who.unit_code},
                "totals": {"cases": None, "new": 0, "closed": 0, "open": 0}}
    own = (townships + departments)[0]  # unit codes are unique: one section at most
    totals = own.get("totals") or section_totals(own)  # records made before issue 10 have no section totals
    return {**data, "townships": townships, "departments": departments, "totals": totals,
            "scope": {"unit": own["name"]}}


async def checkpoint(db: Database, week: str, who: Actor) -> dict:
    """The stored checkpoint of `week` (parsed), scoped for `who`; "preview": true when generated before the week
    ended. Raises Forbidden (403) for a grid worker, NotFound (404) when it has not been generated."""
    ensure_staff(who)
    async with db.read() as s:
        row = await s.get(CheckpointRecord, week)
    if row is None:
        raise NotFound(f"{week} 周检点尚未生成", f"no checkpoint for {week} yet")
    data = {**row.data, "preview": row.preview}
    if who.role == LEGAL_REVIEWER:  # the county's totals; each section's lists cut to the reviewer's cases
        sections = data["townships"] + data["departments"]
        ids = {c["id"] for s in sections for v in s.values() if _is_list(v) for c in v["cases"]
               if isinstance(c.get("id"), int)}
        visible = await _visible(db, who, ids)
        return {**data, "townships": [_cut(s, visible) for s in data["townships"]],
                "departments": [_cut(s, visible) for s in data["departments"]]}
    return scoped(data, who)


def _is_list(v) -> bool:
    """Whether a checkpoint section's value is one of its case lists ({"count", "cases"})."""
    return isinstance(v, dict) and isinstance(v.get("cases"), list)


def _cut(section: dict, visible: set[int]) -> dict:
    """A checkpoint section with each case list keeping only the `visible` case ids (its count stays). Pure."""
    return {k: {**v, "cases": [c for c in v["cases"] if c.get("id") in visible]} if _is_list(v) else v
            for k, v in section.items()}


async def _visible(db: Database, who: Actor, ids: set[int]) -> set[int]:
    """Those of the case `ids` that `who` may open (Actor.sees: the township's cases, or those whistled to the
    unit)."""
    if not ids:
        return set()
    async with db.read() as s:
        cases = (await s.execute(select(Case.id, Case.township_id, Case.reporter_id, Case.major)
                                 .where(Case.id.in_(ids)))).all()
        whistles: dict[int, list] = {}
        for w in (await s.execute(select(Whistle.case_id, Whistle.unit_id).where(Whistle.case_id.in_(ids)))).all():
            whistles.setdefault(w.case_id, []).append(w)
    return {c.id for c in cases if who.sees(c, whistles.get(c.id, []))}


def _unit_name(data: dict, who: Actor) -> str:
    key = "by_township" if who.role in TOWNSHIP_ROLES else "scorecard"
    return next((r["name"] for r in data.get(key) or () if r.get("code") == who.unit_code), who.unit_code)


def limit_cases(data: dict, visible: set[int], unit: str) -> dict:
    """The bulletin with its case lists cut to the `visible` case ids and `scope` saying so; the figures stay the
    county's (they name units, never cases). Pure."""
    cut = {key: [r for r in data.get(key) or () if r.get("id") in visible] for key in CASE_LISTS}
    note = f"本版为{unit}版：案件清单只列出{unit}可查看的案件，各项统计数字为全县口径。"
    return {**data, **cut, "scope": {"unit": unit, "note": note}}


async def bulletin(db: Database, month: str, who: Actor) -> dict:
    """The stored bulletin of `month` (parsed; flows/reports/SCHEMA.md) as `who` may read it (see the module's
    scope). Raises Forbidden (403) for a grid worker, NotFound (404) when it has not been generated."""
    ensure_staff(who)
    async with db.read() as s:
        row = await s.get(BulletinRecord, month)
    if row is None:
        raise NotFound(f"{month} 通报尚未生成", f"no bulletin for {month} yet")
    data = {**row.data, "preview": row.preview}
    if who.role in COUNTY_ROLES:
        return data
    ids = {r["id"] for key in CASE_LISTS for r in data.get(key) or () if isinstance(r.get("id"), int)}
    return limit_cases(data, await _visible(db, who, ids), _unit_name(data, who))


def missing_files(folder: Path) -> list[str]:
    """The formats (html, pdf, xlsx, in that order) whose county file is not under `folder`: [] when all are."""
    return [fmt for fmt, (name, _) in BULLETIN_FILES.items() if not (folder / name).is_file()]


def files_missing(month: str, fmts: list[str]) -> NotFound:
    """The answer for a recorded bulletin whose files are gone (deleted by hand, another data directory): 404,
    code report_files_missing, naming the formats and how to make them again."""
    names = "、".join(f.upper() for f in fmts)
    return NotFound(f"{month} 通报已登记，但其文件（{names}）已缺失，请重新生成：chuishao bulletin --month {month}",
                    f"the {month} bulletin is recorded but its {', '.join(fmts)} file is missing; regenerate it "
                    f"with `chuishao bulletin --month {month}`", code="report_files_missing",
                    extra={"missing": fmts})


async def _recorded(db: Database, month: str) -> None:
    """NotFound (404) unless the bulletin of `month` is recorded: files without a record (a run that failed
    before recording) are never served."""
    async with db.read() as s:
        if (await s.execute(select(BulletinRecord.month).where(BulletinRecord.month == month))).first() is None:
            raise NotFound(f"{month} 通报尚未生成", f"no bulletin for {month} yet")


async def bulletin_file(db: Database, folder: Path, month: str, fmt: str, who: Actor) -> tuple[Path, str, str | None]:
    """The bulletin of `month` (parsed) in `fmt` (html, pdf, xlsx) as `who` may read it: (path, media type,
    download file name or None for html). County staff get the stored file under `folder`
    (flows.jobs.bulletin_dir); township and department staff their own version, rendered on first request
    (seconds for a PDF, in a worker thread) and kept by content. Raises Forbidden (403) for a grid worker,
    NotFound (404) when the bulletin is not recorded, and NotFound with code report_files_missing when it is but
    the county's file of `fmt` is not under `folder` (every reader alike: a unit's version is drawn from the
    county's charts)."""
    from chuishao.flows.reports import SCOPED_DIR, render_format, write_file

    media = BULLETIN_FILES[fmt][1]
    download = f"chuishao-bulletin-{month}.{fmt}" if fmt != "html" else None
    if who.role in COUNTY_ROLES:
        await _recorded(db, month)
        data = None
    else:
        data = await bulletin(db, month, who)
    stored = folder / BULLETIN_FILES[fmt][0]
    if not stored.is_file():
        raise files_missing(month, [fmt])
    if data is None:
        return stored, media, download
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()
    path = folder / SCOPED_DIR / f"{digest[:32]}.{fmt}"
    if not path.exists():
        content = await asyncio.to_thread(render_format, data, fmt, folder)
        await asyncio.to_thread(write_file, path, content)
    return path, media, download


def chart_file(folder: Path, chart: str, who: Actor) -> Path:
    """A stored chart (`<name>.png`; figures only, the same for every reader) of the bulletin under `folder`.
    Raises Forbidden (403) for a grid worker, NotFound (404) when it is not there."""
    ensure_staff(who)
    path = folder / "charts" / chart
    if not path.is_file():
        raise NotFound("图表不存在", "chart not found")
    return path


@dataclass(frozen=True)
class Published:
    name: str  # 2026-11 or 2026-W47
    generated_at: str  # ISO 8601, Asia/Shanghai
    preview: bool = False  # generated before the period ended: not published yet
    missing: tuple[str, ...] = ()  # a bulletin's formats whose files are gone (html, pdf, xlsx); a checkpoint has none


async def listing(db: Database, who: Actor, folder: Callable[[str], Path] | None = None) -> dict:
    """Every stored bulletin and checkpoint, newest first: {"bulletins": [Published], "checkpoints": [Published]};
    a preview says so. Reads only the names, times and flags (not the stored data); with `folder` (a month →
    its bulletin folder, flows.jobs.bulletin_dir), each bulletin also names the formats whose files are missing.
    Raises Forbidden (403) for a grid worker, and for any caller that is neither township, department nor
    county staff."""
    ensure_staff(who)
    async with db.read() as s:
        bulletins = (await s.execute(select(BulletinRecord.month, BulletinRecord.generated_at, BulletinRecord.preview)
                                     .order_by(BulletinRecord.month.desc()))).all()
        checkpoints = (await s.execute(select(CheckpointRecord.week, CheckpointRecord.generated_at,
                                              CheckpointRecord.preview)
                                       .order_by(CheckpointRecord.week.desc()))).all()

    def items(rows, files=None) -> list[Published]:
        return [Published(name, local(at) if isinstance(at, datetime) else str(at), bool(preview),
                          tuple(missing_files(files(name))) if files else ())
                for name, at, preview in rows]

    return {"bulletins": items(bulletins, folder), "checkpoints": items(checkpoints)}
