"""Pages: the monthly bulletins (每月一通报) and weekly checkpoints (每周一检点) a user may read.

`/reports` lists both, newest first; one generated before its period ended is marked 预览. A bulletin opens as
its printed page (with a bar to go back and download) and downloads as PDF or XLSX with the session cookie.
Everything is scoped as the REST API scopes it (flows/publications.py): county staff read the county's stored
files and every checkpoint section; a township or a department reads its own version of the bulletin (the
county's figures, its own cases) and its own checkpoint section and totals. Grid workers get 403. A week or
month that does not exist is a 422.
"""

import html
import re
from datetime import timedelta

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, HTMLResponse

from chuishao.api.routes.reports import split_format
from chuishao.api.web.render import page
from chuishao.api.web.session import WebActor
from chuishao.flows import publications as pub
from chuishao.flows.access import COUNTY_ROLES
from chuishao.flows.checkpoint import STALLED_WORKING_DAYS
from chuishao.flows.errors import NotFound
from chuishao.flows.jobs import bulletin_dir
from chuishao.flows.periods import parse_month, parse_week, week_window

router = APIRouter(include_in_schema=False)


def month_label(month: str) -> str:
    """'2026-10' → '2026年10月'."""
    year, mon = month.split("-")
    return f"{year}年{int(mon)}月"


def week_label(week: str) -> tuple[str, str]:
    """'2026-W47' → ('2026年第47周', '11月16日—11月22日') in Asia/Shanghai."""
    start, end = week_window(week)
    last = end - timedelta(days=1)
    year, num = week.split("-W")
    return f"{year}年第{int(num)}周", f"{start.month}月{start.day}日—{last.month}月{last.day}日"


@router.get("/reports")
async def reports(request: Request, who: WebActor, all: int = 0):
    svc = request.app.state.services
    found = await pub.listing(svc.db, who, lambda month: bulletin_dir(svc.settings, month))
    limit = None if all else 12
    bulletins = [{"name": b.name, "label": month_label(b.name), "generated_at": b.generated_at,
                  "preview": b.preview, "missing": b.missing} for b in found["bulletins"]]
    checkpoints = [{"name": c.name, "label": week_label(c.name)[0], "range": week_label(c.name)[1],
                    "generated_at": c.generated_at, "preview": c.preview} for c in found["checkpoints"]]
    return page(request, "reports/index.html", bulletins=bulletins[:limit], checkpoints=checkpoints[:limit],
                more=not all and (len(bulletins) > 12 or len(checkpoints) > 12),
                counts=(len(bulletins), len(checkpoints)))


BAR = """<style>
.cs-bar{position:sticky;top:0;z-index:5;display:flex;flex-wrap:wrap;gap:8px;align-items:center;padding:8px 12px;
background:#b3261e;color:#fff;font:15px/1.4 -apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif}
.cs-bar a{color:#fff;display:inline-flex;align-items:center;min-height:44px;padding:0 10px;border-radius:6px;
text-decoration:none;border:1px solid rgba(255,255,255,.5)}
.cs-bar a:hover,.cs-bar a:focus-visible{background:rgba(255,255,255,.16);outline:3px solid #ffbf47}
.cs-bar .sp{flex:1}
@media print{.cs-bar{display:none}}
</style>
<nav class="cs-bar" aria-label="通报操作"><a href="/reports">← 返回通报列表</a><span class="sp"></span>
<a href="/reports/bulletins/{month}.pdf" download>下载 PDF</a>
<a href="/reports/bulletins/{month}.xlsx" download>下载 Excel</a></nav>
"""


ICON = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'


def _with_bar(document: str, month: str) -> str:
    """The stored bulletin page with our bar at the top of its body, so the reader can go back or download,
    and our icon in its head (the browser asks for one)."""
    bar = BAR.replace("{month}", html.escape(month))
    m = re.search(r"<body[^>]*>", document)
    document = document[:m.end()] + bar + document[m.end():] if m else bar + document
    return document.replace("</head>", ICON + "</head>", 1)


@router.get("/reports/bulletins/{name}")
async def bulletin(request: Request, who: WebActor, name: str = Path(max_length=20)):
    """`2026-10`: the bulletin as its own printed page; `2026-10.pdf` / `2026-10.xlsx`: the file to download."""
    svc = request.app.state.services
    pub.ensure_staff(who)
    month, fmt = split_format(name, "pdf|xlsx")
    month = parse_month(month)
    folder = bulletin_dir(svc.settings, month)
    if fmt:
        path, media, download = await pub.bulletin_file(svc.db, folder, month, fmt, who)
        return FileResponse(path, media_type=media, filename=download)
    try:
        path, _, _ = await pub.bulletin_file(svc.db, folder, month, "html", who)
        document = path.read_text(encoding="utf-8")
    except NotFound:
        if who.role not in COUNTY_ROLES:
            raise
        # the county's record without its files (another data directory, files cleaned up): the page from the
        # record, without chart images (drawing them takes seconds)
        from chuishao.flows.reports import render_html

        document = render_html(await pub.bulletin(svc.db, month, who), {})
    return HTMLResponse(_with_bar(document, month), headers={"Cache-Control": "private, no-cache"})


LISTS = [  # (key, heading, open when the page shows one section): the lists that need a push come first
    ("overdue", "逾期", True), ("warnings", "预警", True), ("stalled", "停滞", True),
    ("returns_pending", "退回待重派", True), ("disputes_pending", "争议待裁定", True),
    ("awaiting_verification", "待核查", True), ("new", "本周新增", False), ("accepted", "本周受理", False),
    ("closed", "本周结案", False),
]


SUMMARY = [("overdue", "逾期"), ("warnings", "预警"), ("stalled", "停滞"), ("awaiting_verification", "待核查"),
           ("disputes_pending", "争议"), ("new", "本周新增"), ("closed", "本周结案")]


@router.get("/reports/checkpoints/{name}")
async def checkpoint(request: Request, who: WebActor, name: str = Path(max_length=20)):
    svc = request.app.state.services
    pub.ensure_staff(who)
    week = parse_week(name)
    data = await pub.checkpoint(svc.db, week, who)
    sections = [("乡镇", s) for s in data["townships"]] + [("部门", s) for s in data["departments"]]
    label, span = week_label(week)
    return page(request, "reports/checkpoint.html", data=data, week=week, week_title=label, week_range=span,
                sections=sections, lists=LISTS, summary_cols=SUMMARY,
                stalled_rule=f"{STALLED_WORKING_DAYS} 个工作日无任何操作")
