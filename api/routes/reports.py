"""每周一检点 and 每月一通报: JSON, and the pages and files a county office prints.

Every answer is scoped by flows/publications.py: grid workers get 403; township and department staff their own
sections, totals and case lists; county staff everything. A week or month that does not exist is a 422.
"""

import re
from pathlib import Path as FsPath
from typing import Annotated

import jinja2
from fastapi import APIRouter, Path
from fastapi.responses import FileResponse, HTMLResponse

from chuishao.api.deps import ActorDep, ServicesDep
from chuishao.api.limits import GuardedRoute
from chuishao.api.schemas import BINARY, TEXT, Bulletin, Checkpoint
from chuishao.flows import publications as pub
from chuishao.flows.jobs import bulletin_dir
from chuishao.flows.periods import parse_month, parse_week

router = APIRouter(tags=["reports"], route_class=GuardedRoute)
Name = Annotated[str, Path(max_length=20)]
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(FsPath(__file__).parent.parent / "templates"),
                               autoescape=True)


def split_format(name: str, formats: str) -> tuple[str, str | None]:
    """'2026-11.pdf' → ('2026-11', 'pdf') for a suffix in `formats` ("html|pdf|xlsx"); no suffix → (name, None)."""
    m = re.fullmatch(rf"(.*?)(?:\.({formats}))?", name)
    return m.group(1), m.group(2)


@router.get("/checkpoints/{name}", summary="每周一检点（JSON；加 .html 为网页）",
            responses={200: {"model": Checkpoint, "description": "2026-W47: JSON; 2026-W47.html: the page",
                             "content": {"text/html": TEXT}}})
async def checkpoint(name: Name, who: ActorDep, svc: ServicesDep):
    week, fmt = split_format(name, "html")
    data = await pub.checkpoint(svc.db, parse_week(week), who)
    if fmt:
        html = TEMPLATES.get_template("checkpoint.html").render(
            sections={"townships": data["townships"], "departments": data["departments"]}, **data)
        return HTMLResponse(html)
    return data


@router.get("/bulletins/{name}", summary="每月一通报（JSON；加 .html / .pdf / .xlsx 取对应格式）",
            responses={200: {"model": Bulletin, "description": "2026-11: JSON; 2026-11.html, .pdf, .xlsx: the files",
                             "content": {"text/html": TEXT, **{media: BINARY for _, media in pub.BULLETIN_FILES.values()
                                                               if not media.startswith("text/")}}}})
async def bulletin(name: Name, who: ActorDep, svc: ServicesDep):
    month, fmt = split_format(name, "html|pdf|xlsx")
    month = parse_month(month)
    if fmt:
        path, media, download = await pub.bulletin_file(svc.db, bulletin_dir(svc.settings, month), month, fmt, who)
        return FileResponse(path, media_type=media, filename=download)
    return await pub.bulletin(svc.db, month, who)


@router.get("/bulletins/{month}/charts/{chart}", summary="通报图表（PNG）", response_class=FileResponse,
            responses={200: {"description": "the chart", "content": {"image/png": BINARY}}})
async def chart(month: Name, chart: Annotated[str, Path(pattern=r"^[a-z_]{1,40}\.png$")], who: ActorDep,
                svc: ServicesDep):
    month = parse_month(month)
    return FileResponse(pub.chart_file(bulletin_dir(svc.settings, month), chart, who), media_type="image/png")
