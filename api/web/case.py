"""The case page (every role): summary, deadline, whistles, evidence, the full timeline, and the caller's
allowed actions as forms generated from the action bodies (api/web/forms.py).

Forms post to `/cases/{id}/actions/{action}`, which calls the same `CaseService.act` as the REST API with the
version the page showed as If-Match: a stale form gets a clear 409, never an action on a changed case.
"""

import re
from functools import partial

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.datastructures import UploadFile

from chuishao.api.metrics import action_observed
from chuishao.api.storage import ContentStore, TooLarge, safe_content_type, safe_filename
from chuishao.api.web import forms
from chuishao.api.web.render import page
from chuishao.api.web.session import WebActor
from chuishao.flows import case_hints
from chuishao.flows import lifecycle as lc
from chuishao.flows.access import Actor
from chuishao.flows.cases import may_attach
from chuishao.flows.errors import Conflict, Invalid, NotAllowed, NotFound
from chuishao.models import vocabulary as vocab

router = APIRouter(include_in_schema=False)
CaseId = Path(ge=1, le=2**31 - 1)
AttachmentId = Path(ge=1, le=2**31 - 1)
ActionName = Path(max_length=32)

STALE = "案件已被他人更新，请刷新后重试"
# shown in the page, never as a download: raster images (an SVG or HTML file could run script on our origin)
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _store(request: Request) -> ContentStore:
    return ContentStore(request.app.state.services.settings.data_dir / "attachments")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} 字节"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


# ---- the timeline in words ------------------------------------------------------------------
PAYLOAD_LABELS = {  # in the order the lines are shown
    "title": "标题", "description": "描述", "category": "事项类别", "urgency": "紧急程度", "source": "来源",
    "township": "乡镇", "grid": "网格", "address": "地址", "lead_unit": "主办单位", "assist_units": "协办单位",
    "whistle_role": "报到身份", "working_days": "延期", "outcome": "办理结果", "result": "办理情况",
    "officers": "执法人员", "major": "重大执法决定", "passed": "核查结论", "satisfaction": "群众满意度",
    "rating": "部门评价", "into": "合并到", "reason": "理由", "note": "备注", "filename": "文件",
}
# shown inside another line, or not for people
HIDDEN_KEYS = frozenset({"lat", "lon", "sha256", "size", "proposed_outcome"})
FIELD_LABELLED = frozenset({"note", "reason"})  # free text the action's form named for itself


def describe(entry: dict, hints: case_hints.CaseHints) -> list[tuple[str, str, str | None]]:
    """The payload of a timeline entry as (label, text, link) lines a person reads, not JSON."""
    p, action = entry.get("payload") or {}, entry["action"]
    units = hints.unit_names
    lines: list[tuple[str, str, str | None]] = []
    order = {k: i for i, k in enumerate(PAYLOAD_LABELS)}
    for key, value in sorted(p.items(), key=lambda kv: order.get(kv[0], len(order))):
        if key in HIDDEN_KEYS or value in (None, "", []):
            continue
        label, link = PAYLOAD_LABELS.get(key, key), None
        if key in FIELD_LABELLED and action in lc.BY_ACTION and key in lc.BY_ACTION[action].form.fields:
            label = lc.BY_ACTION[action].form.fields[key][0]  # as the action's form called it: 催办内容, 核查意见…
        if key == "category":
            text = f"{hints.item_names.get(value, value)}（{value}）" if value in hints.item_names else str(value)
        elif key == "urgency":
            text = vocab.URGENCY_LABELS.get(value, value)
        elif key == "source":
            text = vocab.SOURCE_LABELS.get(value, value)
        elif key in ("township", "grid", "lead_unit"):
            text = units.get(value, value)
        elif key == "assist_units":
            text = "、".join(units.get(u, u) for u in value) if isinstance(value, list) else str(value)
        elif key == "officers":
            text = "、".join(map(str, value)) if isinstance(value, list) else str(value)
        elif key == "outcome":
            text = vocab.OUTCOME_LABELS.get(value, value)
            if action == "verify" and p.get("proposed_outcome"):  # the verifier corrected the department
                proposed = vocab.OUTCOME_LABELS.get(p["proposed_outcome"], p["proposed_outcome"])
                label, text = "办理结果更正", f"部门反馈「{proposed}」→ 核查认定「{text}」"
        elif key == "satisfaction":
            text = vocab.SATISFACTION_LABELS.get(value, value)
        elif key == "passed":
            text = "通过" if value else "不通过（返工）"
        elif key == "major":  # the department marked the decision major at feedback: legal review first
            text = "是，先送法制审核" if value else "否"
        elif key == "rating":
            text = f"{value} 分（满分 5 分）"
        elif key == "working_days":
            text = f"{value} 个工作日"
        elif key == "whistle_role":
            text = f"{vocab.WHISTLE_ROLE_LABELS.get(value, value)}单位"
        elif key == "into":
            text, link = hints.case_codes.get(value, f"案件 {value}"), f"/cases/{value}"
        elif key == "filename":
            text = str(value) + (f"（{_size(p['size'])}）" if isinstance(p.get("size"), int) else "")
        else:
            text = value if isinstance(value, str) else str(value)
        lines.append((label, text, link))
    if action == "report" and isinstance(p.get("lat"), int | float) and isinstance(p.get("lon"), int | float):
        lines.append(("位置", f"北纬 {p['lat']:.5f}，东经 {p['lon']:.5f}", None))
    return lines


def _entries(timeline: list[dict], hints: case_hints.CaseHints) -> list[dict]:
    return [{**e, "unit_name": hints.unit_names.get(e["unit"], e["unit"]), "lines": describe(e, hints)}
            for e in timeline]


# ---- the page -------------------------------------------------------------------------------
SIDE_ACTIONS = frozenset({"suspend", "urge", "supervise"})

async def _render(request: Request, who: Actor, case_id: int, *, status: int = 200,
                  states: dict[str, dict] | None = None, refusal: str | None = None, done: str | None = None,
                  open_action: str | None = None, upload_error: str | None = None, upload_for: str | None = None):
    """The case page. `states`: per action, what to re-show in its form (values, errors, error);
    `refusal`: a message for the top of the page when the refused action's form is no longer offered."""
    svc = request.app.state.services
    now = svc.clock()
    case = await svc.cases.get(case_id, who, now)  # Forbidden / NotFound outside the caller's scope
    timeline = await svc.cases.timeline(case_id, who)
    attachments = await svc.cases.attachments(case_id, who)
    # the step's own action first; pausing and the records that move nothing (催办、督办) after it
    allowed = sorted(case["allowed_actions"], key=lambda a: a in SIDE_ACTIONS)
    hints = await case_hints.load(svc.cases, case, allowed, now, timeline)
    states = states or {}
    action_forms = [forms.build(a, case, hints, is_open=(a == open_action), **states.get(a, {})) for a in allowed]
    shown = {f.action for f in action_forms}
    for action, state in states.items():  # refused, and its form is gone (the case moved on meanwhile)
        if action not in shown and state.get("error") and not refusal:
            refusal = state["error"]
    files = [{"id": a.id, "filename": a.filename, "size": _size(a.size), "at": a.at,
              "image": _media_type(a.content_type) in INLINE_TYPES,
              "url": f"/cases/{case_id}/attachments/{a.id}"} for a in attachments]
    entries = _entries(timeline, hints)
    feedbacks = [e for e in entries if e["action"] == "feedback"]
    reworks = [e for e in entries if e["action"] == "verify" and e["payload"].get("passed") is False]
    response = page(
        request, "case/case.html", status_code=status, case=case, hints=hints, forms=action_forms,
        timeline=entries, last_feedback=feedbacks[-1] if feedbacks else None,
        last_rework=reworks[-1] if reworks and case["status"] == lc.HANDLING else None,
        files=files, photos=[f for f in files if f["image"]], documents=[f for f in files if not f["image"]],
        finished=case["status"] in lc.FINAL_STATES, done=forms.done_label(done), refusal=refusal,
        upload_error=upload_error, upload_for=upload_for, may_attach=may_attach(who),
        max_upload_mb=max(1, svc.settings.max_upload_bytes // (1024 * 1024)),
    )
    if status != 200:
        response.headers["HX-Push-Url"] = f"/cases/{case_id}"  # the address stays the case page's
    return response


@router.get("/cases/{case_id}")
async def case_page(request: Request, who: WebActor, case_id: int = CaseId, done: str | None = None,
                    open: str | None = None):
    """The case page; `done=<action>` shows the one-line confirmation, `open=<action>` opens that form."""
    return await _render(request, who, case_id, done=done,
                         open_action=open if open in lc.BY_ACTION else None)


@router.get("/cases/{case_id}/actions/{action}")
async def action_page(case_id: int = CaseId, action: str = ActionName):
    """Reloading the address a refused form left in the bar: back to the case page, that form open."""
    suffix = f"?open={action}" if action in lc.BY_ACTION else ""
    return RedirectResponse(f"/cases/{case_id}{suffix}", status_code=303)


def _version(values: list) -> int | None:
    v = values[-1] if values else None
    return int(v) if isinstance(v, str) and re.fullmatch(r"\d{1,9}", v.strip()) else None


@router.post("/cases/{case_id}/actions/{action}")
async def act(request: Request, who: WebActor, case_id: int = CaseId, action: str = ActionName):
    """One action from its form. Bad input → 422 with the messages beside the fields; a refusal by the rules
    → 422 at the top of the form; a stale version → 409; success → 303 to the case page with a confirmation."""
    if action not in lc.BY_ACTION:
        raise NotFound(f"未知操作 {action}", f"unknown action '{action}'")
    svc = request.app.state.services
    posted = forms.grouped(await request.form())
    try:
        body = forms.parse(action, posted)
    except forms.FormErrors as exc:
        return await _render(request, who, case_id, status=422, states={action: {"values": posted,
                                                                                 "errors": exc.errors}})
    version = _version(posted.get("version", []))
    if version is None:
        return await _render(request, who, case_id, status=422, states={action: {
            "values": posted, "error": "表单已过期（缺少案件版本），请刷新页面后重试"}})
    try:
        with action_observed(action):  # /metrics, as the API's action route
            await svc.cases.act(case_id, action, who, body, svc.clock(), if_match=version)
    except Conflict:
        return await _render(request, who, case_id, status=409, refusal=STALE,
                             states={action: {"values": posted, "error": STALE}})
    except (Invalid, NotAllowed) as exc:
        field = exc.extra.get("field")  # a rule about one field: its message goes beside that field
        state = {"values": posted, "errors": {field: exc.zh}} if field else {"values": posted, "error": exc.zh}
        return await _render(request, who, case_id, status=exc.status, states={action: state})
    return RedirectResponse(f"/cases/{case_id}?done={action}", status_code=303)


# ---- evidence -------------------------------------------------------------------------------
@router.post("/cases/{case_id}/attachments")
async def upload(request: Request, who: WebActor, case_id: int = CaseId):
    """Photos and evidence from the case page (fields `file` and/or `files`, several allowed): the same checks
    and storage as the REST API. Errors show beside the upload field; success → 303 to the case page."""
    svc = request.app.state.services
    form = await request.form()
    back = form.get("back")
    back = back if isinstance(back, str) and back in lc.BY_ACTION else None
    uploads = [f for f in [*form.getlist("file"), *form.getlist("files")]
               if isinstance(f, UploadFile) and (f.filename or f.size)]

    async def refuse(message: str, status: int = 422):
        return await _render(request, who, case_id, status=status, upload_error=message, upload_for=back,
                             open_action=back)

    try:
        await svc.cases.ensure_attachable(case_id, who)  # a finished case: said before anything else
    except Invalid as exc:
        return await refuse(exc.zh)
    if not uploads:
        return await refuse("请选择要上传的照片或文件")
    try:
        checked = [(f, safe_filename(f.filename), safe_content_type(f.content_type)) for f in uploads]
    except Invalid as exc:
        return await refuse(exc.zh)
    for saved, (f, name, content_type) in enumerate(checked):
        try:
            await svc.cases.attach(case_id, who, store=partial(_store(request).save, f, svc.settings.max_upload_bytes),
                                   filename=name, content_type=content_type, now=svc.clock())
        except (Invalid, TooLarge) as exc:
            done = f"已上传 {saved} 个文件；" if saved else ""
            return await refuse(f"{done}{name}：{exc.zh}", exc.status)
    suffix = f"&open={back}" if back else ""
    return RedirectResponse(f"/cases/{case_id}?done=attach{suffix}", status_code=303)


@router.get("/cases/{case_id}/attachments/{attachment_id}")
async def download(request: Request, who: WebActor, case_id: int = CaseId, attachment_id: int = AttachmentId):
    """One attachment, for a caller who may see the case. Raster images show in the page; anything else is a
    download, sandboxed and never sniffed, so an uploaded HTML or SVG file cannot run script here."""
    svc = request.app.state.services
    for a in await svc.cases.attachments(case_id, who):
        if a.id == attachment_id:
            path = _store(request).path(a.sha256)
            if not path.is_file():
                raise NotFound("附件文件已丢失，请联系管理员", "the attachment's file is missing")
            media = _media_type(a.content_type)
            inline = media in INLINE_TYPES
            return FileResponse(path, media_type=media if inline else "application/octet-stream",
                                filename=a.filename, content_disposition_type="inline" if inline else "attachment",
                                headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": FILE_CSP,
                                         "Cache-Control": "private, max-age=3600"})
    raise NotFound("附件不存在", "attachment not found")

