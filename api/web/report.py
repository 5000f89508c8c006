"""Pages: 上报 (`/report`, phone first, FixMyStreet's order: position, item, words and photos, urgency), its
confirmation (`/report/done/{id}`) and 我的上报 (`/mine`).

The form works without JavaScript (a plain multipart POST answered with 303 or 422). With `report.js` the
same POST is sent by `fetch` from a draft kept in IndexedDB (`Accept: application/json`): the answer is JSON
and a draft sent twice with the same `client_key` makes one case (CaseService.report's idempotency key),
and a photo sent twice is attached once (CaseService.attach)."""

import math
import uuid
from functools import partial

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import UploadFile

from chuishao.api.limits import check_text
from chuishao.api.storage import ContentStore, safe_filename
from chuishao.api.web.render import page, when
from chuishao.api.web.session import LoginRequired, WebActor, session_actor
from chuishao.flows import reporting_hints as hints
from chuishao.flows.access import COUNTY_ROLES, GRID_WORKER, Actor
from chuishao.flows.cases import REPORTER_ROLES, takes_attachments
from chuishao.flows.errors import DomainError, Forbidden, Invalid
from chuishao.flows.lifecycle import FEEDBACK

router = APIRouter(include_in_schema=False)

MAX_PHOTOS = 9
LIMITS = {"title": 200, "description": 5000, "address": 300}
TEXT_FIELDS = ("title", "description", "category_q", "category", "address", "lat", "lon", "urgency", "grid",
               "township", "client_key")
CaseId = Path(ge=1, le=2**31 - 1)


def _sniff(head: bytes) -> tuple[str, str] | None:
    """The image type the bytes really are (media type, extension), whatever the phone declared; None when
    they are no image a phone or browser takes (JPEG, PNG, GIF, WebP, HEIC/HEIF/AVIF, BMP)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", ".png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", ".gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"):
        return "image/heic", ".heic"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif", ".avif"
    if head[:2] == b"BM":
        return "image/bmp", ".bmp"
    return None


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _new_key() -> str:
    return str(uuid.uuid4())


def _number(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


async def _context(request: Request, who: Actor) -> dict:
    """What the form needs besides the values: where the reporter is, grids they may name, catalog items."""
    svc = request.app.state.services
    units = svc.cases.units
    place = await hints.place_of(svc.db, units, who.unit_id)
    if who.role == GRID_WORKER:
        grids = []  # a grid worker reports in their own grid, or where their GPS puts them
    elif who.role in COUNTY_ROLES:
        grids = await hints.grid_choices(svc.db, units)
    else:
        grids = await hints.grid_choices(svc.db, units, who.township_id)
    townships = []
    if who.role in COUNTY_ROLES:
        seen = {}
        for g in await hints.grid_choices(svc.db, units):
            seen.setdefault(g["township"], g["township_name"])
        townships = sorted(seen.items())
    return {"place": place, "grids": grids, "townships": townships,
            "items": await hints.catalog_choices(svc.db), "max_photos": MAX_PHOTOS,
            "max_mb": svc.settings.max_upload_bytes // (1024 * 1024)}


def _may_report(who: Actor) -> None:
    if who.role not in REPORTER_ROLES:
        raise Forbidden("当前角色不能上报事件，请由网格员或乡镇工作人员上报",
                        f"role '{who.role}' may not report events")


@router.get("/report")
async def report_form(request: Request, who: WebActor):
    _may_report(who)
    return page(request, "report/form.html", errors={}, values={"urgency": "normal"}, client_key=_new_key(),
                **await _context(request, who))


@router.get("/report/locate")
async def locate(request: Request, who: WebActor, lat: str = Query("", max_length=40),
                 lon: str = Query("", max_length=40)):
    """JSON for the page: the grid and township a GPS point falls in, or null."""
    try:
        la, lo = _number(lat), _number(lon)
    except ValueError:
        la = lo = None
    if la is None or lo is None or not (-90 <= la <= 90 and -180 <= lo <= 180):
        return JSONResponse({"error": {"code": "invalid", "message": "坐标无效 / invalid coordinates"}},
                            status_code=422)
    svc = request.app.state.services
    return JSONResponse(await hints.locate(svc.db, svc.cases.units, la, lo))


FIELD_OF_VALUE = {"category_q": "category", "lat": "location", "lon": "location", "client_key": "_"}


def _check_text(values: dict, errors: dict) -> None:
    for name, value in values.items():
        try:
            check_text(value)
        except Invalid:
            errors[FIELD_OF_VALUE.get(name, name)] = "含有无法保存的字符（如 \\u0000），请删除后重试"
    title = values.get("title", "").strip()
    if not title and "title" not in errors:
        errors["title"] = "请填写标题，用一句话说明发生了什么"
    for name, limit in LIMITS.items():
        n = len(values.get(name, "").strip() if name != "description" else values.get(name, ""))
        if n > limit and name not in errors:
            errors[name] = f"不能超过 {limit} 字（现在 {n} 字），请精简"


def _body(values: dict, items: list, errors: dict) -> dict:
    """The CaseCreate body from the form's text values (errors go into `errors`, keyed by field)."""
    body = {"title": values.get("title", "").strip(), "description": values.get("description", ""),
            "urgency": values.get("urgency") or "normal"}
    if body["urgency"] not in ("normal", "urgent"):
        errors["urgency"] = "请选择“一般”或“紧急”"
    address = values.get("address", "").strip()
    if address:
        body["address"] = address
    lat, lon = values.get("lat", "").strip(), values.get("lon", "").strip()
    if lat or lon:
        try:
            la, lo = _number(lat), _number(lon)
        except ValueError:
            la = lo = None
        if la is None or lo is None or not (-90 <= la <= 90 and -180 <= lo <= 180):
            errors["location"] = "定位坐标无效，请重新点“使用当前位置”，或清除位置后填写地址"
        else:
            body["lat"], body["lon"] = la, lo
    code, text = values.get("category", "").strip(), values.get("category_q", "").strip()
    picked = next((i for i in items if i.code == code), None) if code else None
    if picked is None or (text and text not in (picked.label, picked.name, picked.code)):
        picked = hints.resolve_item(items, text) if text else None
        if text and picked is None:
            errors["category"] = "清单中没有这一项：请从下拉列表中选择，或清空此栏（由乡镇受理时确定）"
    if picked is not None:
        body["category"] = picked.code
    for name in ("grid", "township"):
        if values.get(name, "").strip():
            body[name] = values[name].strip()
    return body


async def _photos(form, max_bytes: int, errors: dict) -> list[tuple[UploadFile, str, str, int]]:
    """The chosen photos that really are images within the size limit: (upload, file name, media type, size)."""
    out = []
    uploads = [u for u in form.getlist("photos") if isinstance(u, UploadFile)]
    uploads = [u for u in uploads if u.filename or (u.size or 0) > 0]  # no file chosen: an empty part
    if len(uploads) > MAX_PHOTOS:
        errors["photos"] = f"最多上传 {MAX_PHOTOS} 张照片（现在 {len(uploads)} 张）"
        return []
    for n, upload in enumerate(uploads, 1):
        head = await upload.read(16)
        await upload.seek(0)
        size = upload.size
        if size is None:
            upload.file.seek(0, 2)
            size = upload.file.tell()
            await upload.seek(0)
        kind = _sniff(head)
        shown = (upload.filename or f"第 {n} 张")[:60]
        if size == 0:
            errors["photos"] = f"“{shown}”是空文件，请重新拍摄或选择"
        elif kind is None:
            errors["photos"] = f"“{shown}”不是图片（支持 JPG、PNG、HEIC、WebP 等），请重新选择"
        elif size > max_bytes:
            errors["photos"] = f"“{shown}”超过 {max_bytes // (1024 * 1024)} MB，请换一张或降低相机分辨率"
        if "photos" in errors:
            return []
        try:
            name = safe_filename(upload.filename)
        except Invalid:
            name = f"photo-{n}{kind[1]}"  # a name with paths or control characters: ours instead
        out.append((upload, name, kind[0], size))
    return out


def _field_of(exc: DomainError) -> str:
    """Which form field a refusal from CaseService.report belongs beside."""
    if exc.code == "unknown_unit" or "网格" in exc.zh and "不属于" in exc.zh:
        return "grid"
    if isinstance(exc, Forbidden) or "坐标" in exc.zh:
        return "location"
    if "事项" in exc.zh or "清单" in exc.zh:
        return "category"
    return "_"


def _refused(request: Request, values: dict, errors: dict, ctx: dict, had_photos: bool = False):
    """422: the same form with the errors beside the fields (or, for report.js, the JSON error shape with
    `fields`). Nothing was written."""
    if _wants_json(request):
        first = next(iter(errors.values()))
        return JSONResponse({"error": {"code": "invalid", "message": f"{first} / the report was not accepted"},
                             "fields": errors}, status_code=422)
    return page(request, "report/form.html", status_code=422, errors=errors, values=values,
                client_key=values.get("client_key") or _new_key(), had_photos=had_photos, **ctx)


@router.post("/report")
async def report(request: Request):
    who = await session_actor(request)
    if who is None:
        if _wants_json(request):  # report.js keeps the draft and asks to sign in again
            return JSONResponse({"error": {"code": "unauthorized", "message": "请先登录 / sign in first"}},
                                status_code=401)
        raise LoginRequired("/report")
    request.state.actor = who
    _may_report(who)
    svc = request.app.state.services
    now = svc.clock()
    ctx = await _context(request, who)
    async with request.form(max_files=MAX_PHOTOS * 2, max_fields=50) as form:
        values = {k: v for k in TEXT_FIELDS if isinstance(v := form.get(k, ""), str)}
        errors: dict[str, str] = {}
        _check_text(values, errors)
        body = _body(values, ctx["items"], errors)
        photos = await _photos(form, svc.settings.max_upload_bytes, errors)
        if errors:
            chosen = any(isinstance(u, UploadFile) and u.filename for u in form.getlist("photos"))
            return _refused(request, values, errors, ctx, had_photos=chosen)
        try:
            case = await svc.cases.report(who, body, now, client_key=values.get("client_key") or None)
        except (Invalid, Forbidden) as exc:
            message = exc.zh
            if isinstance(exc, Forbidden):  # the role may report (checked above): the place is another township's
                message = f"{exc.zh}：该位置不在本乡镇，请确认位置，或点“清除位置”后填写地址"
            return _refused(request, values, {_field_of(exc): message}, ctx, had_photos=bool(photos))
        save = ContentStore(svc.settings.data_dir / "attachments").save
        if takes_attachments(case["status"]):  # a replayed draft whose case has since been closed: no photos
            for upload, name, media, _ in photos:
                await svc.cases.attach(case["id"], who, store=partial(save, upload, svc.settings.max_upload_bytes),
                                       filename=name, content_type=media, now=now)
    url = f"/report/done/{case['id']}"
    if _wants_json(request):
        return JSONResponse({"id": case["id"], "code": case["code"], "url": url},
                            status_code=200 if case.get("replayed") else 201)
    return RedirectResponse(url, status_code=303)


@router.get("/report/done/{case_id}")
async def done(request: Request, who: WebActor, case_id: int = CaseId):
    svc = request.app.state.services
    now = svc.clock()
    case = await svc.cases.get(case_id, who, now)
    photos = await svc.cases.attachments(case_id, who)
    where = await hints.place_named(svc.db, svc.cases.units, grid=case["grid"], township=case["township"])
    item = next((i for i in await hints.catalog_choices(svc.db) if i.code == case["category"]), None)
    return page(request, "report/done.html", case=case, photos=photos, where=where,
                item_label=item.label if item else None, deadline_text=when(case["deadline"], now),
                mine_url="/mine" if who.role == GRID_WORKER else "/cases")


@router.get("/mine")
async def mine(request: Request, who: WebActor, page_no: int = Query(1, alias="page", ge=1, le=100000)):
    if who.role != GRID_WORKER:  # everyone else's list of cases in their scope
        return RedirectResponse("/cases", status_code=303)
    svc = request.app.state.services
    now = svc.clock()
    result = await svc.cases.list(who, now, page=page_no, page_size=20)
    to_verify = []
    if page_no == 1:
        waiting = await svc.cases.list(who, now, status=FEEDBACK, page=1, page_size=50)
        to_verify = [c for c in waiting["items"] if "verify" in c["allowed_actions"]]
    return page(request, "report/mine.html", result=result, to_verify=to_verify,
                page_url=lambda n: f"/mine?page={n}")
