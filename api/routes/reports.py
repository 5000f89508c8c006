"""每周一检点 and 每月一通报: JSON, and the pages and files a county office prints."""

import re
from pathlib import Path as FsPath

import jinja2
from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import Services, actor, services
from api.limits import GuardedRoute
from flows import publications as pub
from flows.access import Actor
from flows.errors import NotFound
from flows.jobs import bulletin_dir
from flows.publications import MONTH, WEEK

router = APIRouter(tags=["reports"], route_class=GuardedRoute)
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(FsPath(__file__).parent.parent / "templates"),
                               autoescape=True)


@router.get("/checkpoints/{name}", summary="每周一检点（JSON；加 .html 为网页）")
async def checkpoint(name: str = Path(max_length=20), who: Actor = Depends(actor), svc: Services = Depends(services)):
    m = re.fullmatch(WEEK + r"(\.html)?", name)
    if not m:
        raise NotFound("周次格式应为 2026-W47", "week must look like 2026-W47")
    data = await pub.checkpoint(svc.db, m.group(1), who)
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
        path, media, download = pub.bulletin_file(bulletin_dir(svc.settings, month), month, fmt)
        return FileResponse(path, media_type=media, filename=download)
    return await pub.bulletin(svc.db, month)


@router.get("/bulletins/{month}/charts/{chart}", summary="通报图表（PNG）", dependencies=[Depends(actor)])
async def chart(month: str = Path(pattern=MONTH), chart: str = Path(pattern=r"^[a-z_]{1,40}\.png$"),
                svc: Services = Depends(services)):
    path = bulletin_dir(svc.settings, month) / "charts" / chart
    if not path.exists():
        raise NotFound("图表不存在", "chart not found")
    return FileResponse(path, media_type="image/png")
