"""Cases: report, read, list, act, timeline, attachments. Thin: every rule lives in flows/."""

import re
from typing import Any

from fastapi import APIRouter, Body, Depends, File, Header, Path, Query, Response, UploadFile
from fastapi.responses import FileResponse

from api.deps import Services, actor, now, services, signed
from api.limits import GuardedRoute
from api.security import Token
from api.storage import ContentStore, safe_content_type, safe_filename
from flows.access import Actor
from flows.commands import CaseCreate
from flows.errors import Invalid, NotFound
from flows.lifecycle import BY_ACTION, FINAL_STATES
from flows.text import normalize

router = APIRouter(tags=["cases"], route_class=GuardedRoute)
CaseId = Path(ge=1, le=2**31 - 1, description="case id")


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    m = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', if_match)
    if not m:
        raise Invalid("If-Match 须为案件版本号", "If-Match must be the case version number", code="bad_if_match")
    return int(m.group(1))


def _store(svc: Services) -> ContentStore:
    return ContentStore(svc.settings.data_dir / "attachments")


@router.post("/cases", status_code=201, summary="事件上报",
             description="`Idempotency-Key` (optional, 1–64 of A-Z a-z 0-9 _ . : -): a report sent again with the "
                         "same key answers 200 with the case the first one made, instead of a second case.")
async def report(body: CaseCreate, response: Response,
                 idempotency_key: str | None = Header(None, max_length=64),
                 claims: Token = Depends(signed), svc: Services = Depends(services), at=Depends(now)):
    # the session is checked inside the report's own transaction (one read less per request)
    case = await svc.cases.report(claims.actor, body, at, client_key=idempotency_key, session_id=claims.session_id)
    if case.get("replayed"):
        response.status_code = 200
    return case


@router.get("/cases", summary="案件列表（按权限范围）")
async def list_cases(
    status: str | None = Query(None, max_length=200),
    township: str | None = Query(None, max_length=64),
    unit: str | None = Query(None, max_length=64),
    alert: str | None = Query(None, max_length=16),
    q: str | None = Query(None, max_length=100),
    page: int = Query(1, ge=1, le=100000),
    page_size: int = Query(20, ge=1, le=100),
    who: Actor = Depends(actor), svc: Services = Depends(services), at=Depends(now),
):
    q = normalize(q) if q else q  # titles are stored NFC: a decomposed search term finds them too
    return await svc.cases.list(who, at, status=status, township=township, unit=unit, alert=alert, q=q,
                                page=page, page_size=page_size)


@router.get("/cases/{case_id}", summary="案件详情（含当前可执行操作）")
async def get_case(case_id: int = CaseId, who: Actor = Depends(actor), svc: Services = Depends(services),
                   at=Depends(now)):
    return await svc.cases.get(case_id, who, at)


@router.get("/cases/{case_id}/timeline", summary="全过程记录")
async def timeline(case_id: int = CaseId, who: Actor = Depends(actor), svc: Services = Depends(services)):
    return await svc.cases.timeline(case_id, who)


@router.post("/cases/{case_id}/actions/{action}", summary="对案件执行操作",
             description="Body by action: see SPEC Appendix A. `If-Match: <version>` refuses a stale write (409). "
                         "An action that is not in the transition table answers 404 `unknown_action`, naming the "
                         "actions there are (also as `error.actions`).")
async def act(
    action: str = Path(max_length=200, description="one of the transition table's actions",
                       json_schema_extra={"enum": list(BY_ACTION)}),
    case_id: int = CaseId,
    body: dict[str, Any] | None = Body(None),
    if_match: str | None = Header(None, max_length=40),
    claims: Token = Depends(signed), svc: Services = Depends(services), at=Depends(now),
):
    # the session is checked inside the action's own transaction (one read less per request)
    return await svc.cases.act(case_id, action, claims.actor, body, at, if_match=_version(if_match),
                               session_id=claims.session_id)


@router.post("/cases/{case_id}/attachments", status_code=201, summary="上传附件（照片、证据）")
async def attach(case_id: int = CaseId, file: UploadFile = File(...), who: Actor = Depends(actor),
                 svc: Services = Depends(services), at=Depends(now)):
    name = safe_filename(file.filename)
    content_type = safe_content_type(file.content_type)
    case = await svc.cases.get(case_id, who, at)  # scope and state before we touch the disk
    if case["status"] in FINAL_STATES:
        raise Invalid("案件已办结，不能再添加附件", "attachments cannot be added to a finished case")
    sha, size = await _store(svc).save(file, svc.settings.max_upload_bytes)
    return await svc.cases.attach(case_id, who, sha256=sha, filename=name, content_type=content_type,
                                  size=size, now=at)


@router.get("/cases/{case_id}/attachments", summary="附件列表")
async def attachments(case_id: int = CaseId, who: Actor = Depends(actor), svc: Services = Depends(services)):
    rows = await svc.cases.attachments(case_id, who)
    return [{"id": a.id, "filename": a.filename, "sha256": a.sha256, "size": a.size,
             "content_type": a.content_type} for a in rows]


@router.get("/cases/{case_id}/attachments/{attachment_id}", summary="下载附件")
async def download(case_id: int = CaseId, attachment_id: int = Path(ge=1, le=2**31 - 1),
                   who: Actor = Depends(actor), svc: Services = Depends(services)):
    for a in await svc.cases.attachments(case_id, who):
        if a.id == attachment_id:
            return FileResponse(_store(svc).path(a.sha256), media_type=a.content_type, filename=a.filename)
    raise NotFound("附件不存在", "attachment not found")
