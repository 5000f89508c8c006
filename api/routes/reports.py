"""每周一检点 and 每月一通报: JSON, and the pages and files a county office prints."""

import re
from pathlib import Path as FsPath

import jinja2
from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import Services, actor, services
from api.limits import GuardedRoute
from flows.access import COUNTY_ROLES, DEPARTMENT_ROLES, GRID_WORKER, TOWNSHIP_ROLES, Actor
from flows.errors import Forbidden, NotFound
from flows.jobs import bulletin_dir
from models.reports import BulletinRecord, CheckpointRecord

router = APIRouter(tags=["reports"], route_class=GuardedRoute)
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(FsPath(__file__).parent.parent / "templates"),
                               autoescape=True)
WEEK = r"(\d{4}-W(?:0[1-9]|[1-4]\d|5[0-3]))"
MONTH = r"(\d{4}-(?:0[1-9]|1[0-2]))"
BULLETIN_FILES = {"html": ("bulletin.html", "text/html; charset=utf-8"), "pdf": ("bulletin.pdf", "application/pdf"),
                  "xlsx": ("bulletin.xlsx",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}


def _scoped(data: dict, who: Actor) -> dict:
    """County staff see every section; a township or a department sees its own."""
    if who.role in COUNTY_ROLES:
        return data
    if who.role == GRID_WORKER:
        raise Forbidden("检点清单面向乡镇和部门", "checkpoints are for townships and departments")
    own = who.unit_code
    townships = [t for t in data["townships"] if who.role in TOWNSHIP_ROLES and t["code"] == own]
    departments = [d for d in data["departments"] if who.role in DEPARTMENT_ROLES and d["code"] == own]
    return {**data, "townships": townships, "departments": departments}


@router.get("/checkpoints/{name}", summary="每周一检点（JSON；加 .html 为网页）")
async def checkpoint(name: str = Path(max_length=20), who: Actor = Depends(actor), svc: Services = Depends(services)):
    m = re.fullmatch(WEEK + r"(\.html)?", name)
    if not m:
        raise NotFound("周次格式应为 2026-W47", "week must look like 2026-W47")
    async with svc.db.read() as s:
        row = await s.get(CheckpointRecord, m.group(1))
    if row is None:
        raise NotFound(f"{m.group(1)} 周检点尚未生成", f"no checkpoint for {m.group(1)} yet")
    data = _scoped(row.data, who)
    if m.group(2):
        html = TEMPLATES.get_template("checkpoint.html").render(
            sections={"townships": data["townships"], "departments": data["departments"]}, **data)
        return HTMLResponse(html)
    return data


@router.get("/bulletins/{name}", summary="每月一通报（JSON；加 .html / .pdf / .xlsx 取对应格式）")
async def bulletin(name: str = Path(max_length=20), who: Actor = Depends(actor), svc: Services = Depends(services)):
    m = re.fullmatch(MONTH + r"(?:\.(html|pdf|xlsx))?", name)
    if not m:
        raise NotFound("月份格式应为 2026-11", "month must look like 2026-11")
    month, fmt = m.group(1), m.group(2)
    if fmt:
        filename, media = BULLETIN_FILES[fmt]
        path = bulletin_dir(svc.settings, month) / filename
        if not path.exists():
            raise NotFound(f"{month} 通报尚未生成", f"no bulletin for {month} yet")
        download = f"chuishao-bulletin-{month}.{fmt}" if fmt != "html" else None
        return FileResponse(path, media_type=media, filename=download)
    async with svc.db.read() as s:
        row = await s.get(BulletinRecord, month)
    if row is None:
        raise NotFound(f"{month} 通报尚未生成", f"no bulletin for {month} yet")
    return row.data


@router.get("/bulletins/{month}/charts/{chart}", summary="通报图表（PNG）", dependencies=[Depends(actor)])
async def chart(month: str = Path(pattern=MONTH), chart: str = Path(pattern=r"^[a-z_]{1,40}\.png$"),
                svc: Services = Depends(services)):
    path = bulletin_dir(svc.settings, month) / "charts" / chart
    if not path.exists():
        raise NotFound("图表不存在", "chart not found")
    return FileResponse(path, media_type="image/png")
