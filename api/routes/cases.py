"""Cases: report, read, list, act, timeline, attachments. Thin: every rule lives in flows/."""

import re
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, File, Header, Path, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError

from chuishao.api.deps import ActorDep, ClaimsDep, NowDep, Services, ServicesDep, claims_of, oauth2
from chuishao.api.lean import Lean, answer
from chuishao.api.limits import GuardedRoute
from chuishao.api.metrics import action_observed
from chuishao.api.schemas import (
    BINARY,
    AttachmentItem,
    AttachmentRecord,
    CasePage,
    CaseView,
    ReportedCase,
    TimelineEntry,
    action_bodies,
    body_examples,
    body_schema,
)
from chuishao.api.security import Token
from chuishao.api.storage import ContentStore, safe_content_type, safe_filename
from chuishao.flows.commands import CaseCreate
from chuishao.flows.errors import Invalid, NotFound
from chuishao.flows.lifecycle import BY_ACTION
from chuishao.flows.text import normalize

router = APIRouter(tags=["cases"], route_class=GuardedRoute)
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1, description="case id")]


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    m = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', if_match)
    if not m:
        raise Invalid("If-Match 须为案件版本号", "If-Match must be the case version number", code="bad_if_match")
    return int(m.group(1))


def _store(svc: Services) -> ContentStore:
    return ContentStore(svc.settings.data_dir / "attachments")


@router.post("/cases", status_code=201, summary="事件上报", response_model=ReportedCase,
             response_model_exclude_unset=True, responses={200: {"model": ReportedCase, "description": "a replay"}},
             description="`Idempotency-Key` (optional, 1–64 of A-Z a-z 0-9 _ . : -): a report sent again with the "
                         "same key answers 200 with the case the first one made, instead of a second case.")
async def report(body: CaseCreate, response: Response, claims: ClaimsDep, svc: ServicesDep, at: NowDep,
                 idempotency_key: str | None = Header(None, max_length=64)):
    # the session is checked inside the report's own transaction (one read less per request)
    case = await svc.cases.report(claims.actor, body, at, client_key=idempotency_key, session_id=claims.session_id)
    if case.get("replayed"):
        response.status_code = 200
    return case


async def _lean_report(route: APIRoute, request: Request, raw: Any, params: dict[str, str]) -> Response | None:
    """`report` for a regular request (api/lean.py): a body CaseCreate takes, an Idempotency-Key FastAPI takes."""
    key = request.headers.get("idempotency-key")
    if not isinstance(raw, dict) or (key is not None and len(key) > 64):
        return None
    try:
        body = CaseCreate.model_validate(raw)  # as FastAPI validates the body (its 422 stays its own)
    except ValidationError:
        return None
    svc: Services = request.app.state.services
    claims = claims_of(svc, await oauth2(request))
    case = await svc.cases.report(claims.actor, body, svc.clock(), client_key=key, session_id=claims.session_id)
    return answer(route, case, 200 if case.get("replayed") else 201)


@router.get("/cases", summary="案件列表（按权限范围）", response_model=CasePage)
async def list_cases(
    who: ActorDep, svc: ServicesDep, at: NowDep,
    status: str | None = Query(None, max_length=200),
    township: str | None = Query(None, max_length=64),
    unit: str | None = Query(None, max_length=64),
    alert: str | None = Query(None, max_length=16),
    q: str | None = Query(None, max_length=100),
    page: int = Query(1, ge=1, le=100000),
    page_size: int = Query(20, ge=1, le=100),
):
    q = normalize(q) if q else q  # titles are stored NFC: a decomposed search term finds them too
    return await svc.cases.list(who, at, status=status, township=township, unit=unit, alert=alert, q=q,
                                page=page, page_size=page_size)


@router.get("/cases/{case_id}", summary="案件详情（含当前可执行操作）", response_model=CaseView)
async def get_case(case_id: CaseId, who: ActorDep, svc: ServicesDep, at: NowDep):
    return await svc.cases.get(case_id, who, at)


@router.get("/cases/{case_id}/timeline", summary="全过程记录", response_model=list[TimelineEntry])
async def timeline(case_id: CaseId, who: ActorDep, svc: ServicesDep):
    return await svc.cases.timeline(case_id, who)


@router.post("/cases/{case_id}/actions/{action}", summary="对案件执行操作", response_model=CaseView,
             openapi_extra={"x-action-bodies": action_bodies()},
             description="The body depends on the action: `x-action-bodies` names each action's schema, and the "
                         "examples show each action's fields (unknown fields are refused, 422). "
                         "`If-Match: <version>` refuses a stale write (409). An action that is not in the "
                         "transition table answers 404 `unknown_action`, naming the actions there are (also as "
                         "`error.actions`). The answer is the case as it now stands, with what the caller may do "
                         "next (`allowed_actions`).")
async def act(
    case_id: CaseId,
    claims: ClaimsDep, svc: ServicesDep, at: NowDep,
    action: str = Path(max_length=200, description="one of the transition table's actions",
                       json_schema_extra={"enum": list(BY_ACTION)}),
    # parsed by the action's own model in the service (flows/commands.parse_body, Chinese-first refusals); the
    # schema and examples only document it
    body: dict[str, Any] | None = Body(None, json_schema_extra=body_schema(), openapi_examples=body_examples()),
    if_match: str | None = Header(None, max_length=40),
):
    return await _act(svc, case_id, action, claims, body, at, if_match)


async def _act(svc: Services, case_id: int, action: str, claims: Token, body: dict | None, at: datetime,
               if_match: str | None) -> dict:
    # the session is checked inside the action's own transaction (one read less per request)
    with action_observed(action):  # /metrics: counted by action and result, timed
        return await svc.cases.act(case_id, action, claims.actor, body, at, if_match=_version(if_match),
                                   session_id=claims.session_id)


_CASE_ID = re.compile(r"[1-9][0-9]{0,9}")  # what `CaseId` takes, written the one way (more goes to FastAPI)


async def _lean_act(route: APIRoute, request: Request, raw: Any, params: dict[str, str]) -> Response | None:
    """`act` for a regular request (api/lean.py): a case id `CaseId` takes, an action name and If-Match within
    their lengths, a JSON object or no body."""
    case_id, action, if_match = params["case_id"], params["action"], request.headers.get("if-match")
    if (not _CASE_ID.fullmatch(case_id) or int(case_id) > 2**31 - 1 or len(action) > 200
            or (if_match is not None and len(if_match) > 40) or not (raw is None or isinstance(raw, dict))):
        return None
    svc: Services = request.app.state.services
    claims = claims_of(svc, await oauth2(request))
    return answer(route, await _act(svc, int(case_id), action, claims, raw, svc.clock(), if_match))


@router.post("/cases/{case_id}/attachments", status_code=201, summary="上传附件（照片、证据）",
             response_model=AttachmentRecord, response_model_exclude_unset=True)
async def attach(case_id: CaseId, who: ActorDep, svc: ServicesDep, at: NowDep, file: UploadFile = File(...)):
    name = safe_filename(file.filename)
    content_type = safe_content_type(file.content_type)
    # the service checks scope and state before it lets the file onto the disk
    return await svc.cases.attach(case_id, who, store=partial(_store(svc).save, file, svc.settings.max_upload_bytes),
                                  filename=name, content_type=content_type, now=at)


@router.get("/cases/{case_id}/attachments", summary="附件列表", response_model=list[AttachmentItem])
async def attachments(case_id: CaseId, who: ActorDep, svc: ServicesDep):
    rows = await svc.cases.attachments(case_id, who)
    return [{"id": a.id, "filename": a.filename, "sha256": a.sha256, "size": a.size,
             "content_type": a.content_type} for a in rows]


@router.get("/cases/{case_id}/attachments/{attachment_id}", summary="下载附件", response_class=FileResponse,
            responses={200: {"description": "the file, with its recorded content type and name",
                             "content": {"application/octet-stream": BINARY}}})
async def download(case_id: CaseId, who: ActorDep, svc: ServicesDep,
                   attachment_id: Annotated[int, Path(ge=1, le=2**31 - 1)]):
    for a in await svc.cases.attachments(case_id, who):
        if a.id == attachment_id:
            return FileResponse(_store(svc).path(a.sha256), media_type=a.content_type, filename=a.filename)
    raise NotFound("附件不存在", "attachment not found")


def install_lean(app: FastAPI, prefix: str) -> None:
    """The lean ways in (api/lean.py) for `act` and `report`, first among `app`'s routes; their APIRoutes stay
    where they are, for /openapi.json and for every request the lean ones hand on."""
    by_endpoint = {r.endpoint: r for r in router.routes if isinstance(r, APIRoute)}
    for endpoint, lean in ((act, _lean_act), (report, _lean_report)):
        route = by_endpoint[endpoint]
        app.router.routes.insert(0, Lean(prefix + route.path, route, partial(lean, route)))
