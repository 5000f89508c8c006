"""Open311 GeoReport v2 at /open311/v2 (docs/open311.md), and the admin's API keys at /api/v1/api-keys.

Thin: decode the request (query string, form-encoded body: api/open311_params.py), call `flows.open311.service`,
and write the answer as XML
(`text/xml; charset=utf-8`, no namespace, the standard's element names) or JSON (the Spark convention) as the
resource's extension asks. Every refusal leaves in the standard's error shape and status: 404 for a resource
that does not exist, 403 for a wrong or missing api_key, 400 for anything else.

Reads (GET requests, requests/{id}, tokens) need an api_key unless the admin has turned on public reads
(`PUT /api/v1/settings/open311 {"public_reads": true}`): then a read without a key sees the public fields of
the requests posted through Open311 (flows/open311/privacy.public_view). Posting always needs a key, and so does the
mySociety updates feed (an integrators' sync, not the standard's public reads).
"""

import json
import re
import xml.etree.ElementTree as ET
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from chuishao.api.deps import ActorDep, NowDep, admin, services
from chuishao.api.limits import GuardedRoute
from chuishao.api.open311_params import (
    REQUEST_FIELDS,
    UPDATE_FIELDS,
    extensions,
    form_params,
    new_request,
    new_update,
    query_params,
    request_query,
    update_query,
)
from chuishao.api.schemas import (
    GEO_QUERY,
    TEXT,
    ApiKeyIssued,
    ApiKeyView,
    CaseOpen311,
    GeoDiscovery,
    GeoRequest,
    GeoRequestCreated,
    GeoRequestForm,
    GeoService,
    GeoServiceDefinition,
    GeoToken,
    GeoUpdate,
    GeoUpdateCreated,
    GeoUpdateForm,
    Open311Settings,
    geo_form,
    geo_query,
)
from chuishao.flows.errors import DomainError
from chuishao.flows.open311.keys import ApiKeyIn, Open311SettingsIn
from chuishao.flows.open311.service import Open311Service
from chuishao.flows.open311.standard import FORMATS, Many

georeport = APIRouter(tags=["open311"])
keys = APIRouter(tags=["open311"], route_class=GuardedRoute)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_RESOURCE = re.compile(r"^(discovery|services|services/[^/]+|requests|requests/[^/]+|tokens/[^/]+|"
                       r"servicerequestupdates)\.(xml|json)$")


def answers(model) -> dict:
    """A GeoReport resource's answer for `responses`: `model` as JSON (.json), or the same elements as XML (.xml).
    Written by `render`, so described rather than validated."""
    return {200: {"model": model, "description": "the resource in the format its extension names",
                  "content": {"text/xml": TEXT}}}


def open311(request: Request) -> Open311Service:
    svc = getattr(request.app.state, "open311", None)
    if svc is None:
        svc = request.app.state.open311 = Open311Service(services(request).cases, services(request).clock)
    return svc


# ---- writing ------------------------------------------------------------------------------------------------
def _clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _to_xml(parent: ET.Element | None, tag: str, value) -> ET.Element:
    el = ET.Element(tag) if parent is None else ET.SubElement(parent, tag)
    if isinstance(value, Many):
        for item in value.items:
            _to_xml(el, value.tag, item)
    elif isinstance(value, dict):
        for k, v in value.items():
            _to_xml(el, k, v)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = _clean(str(value))
    return el


def _to_json(value):
    if isinstance(value, Many):
        return [_to_json(v) for v in value.items]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, str):
        return _clean(value)
    return value


def render(fmt: str, root: str, value, status: int = 200) -> Response:
    if fmt == "json":
        body = json.dumps(_to_json(value), ensure_ascii=False).encode()
        return Response(body, status_code=status, media_type="application/json; charset=utf-8")
    xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(_to_xml(None, root, value), encoding="unicode")
    return Response(xml.encode(), status_code=status, media_type="text/xml; charset=utf-8")


def error(fmt: str, status: int, description: str) -> Response:
    """"Multiple errors codes and descriptions can be returned in the body (the response is an array)."""
    return render(fmt if fmt in FORMATS else "xml", "errors",
                  Many("error", [{"code": status, "description": description}]), status)


def _status(err: DomainError) -> int:
    if err.status in (401, 403):
        return 403
    return 404 if err.status == 404 else 400


async def _answer(fmt: str, root: str, work) -> Response:
    if fmt not in FORMATS:
        return error("xml", 404, f"不支持的格式 .{fmt[:20]}，请使用 .xml 或 .json / format must be .xml or .json")
    try:
        return render(fmt, root, await work())
    except DomainError as err:
        return error(fmt, _status(err), err.message)


def _url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/open311/v2"


# ---- the resources ------------------------------------------------------------------------------------------
@georeport.get("/discovery.{fmt}", summary="Service discovery", responses=answers(GeoDiscovery))
async def discovery(fmt: str, request: Request, at: NowDep):
    return await _answer(fmt, "discovery", lambda: open311(request).discovery(_url(request), at))


@georeport.get("/services.{fmt}", summary="GET Service List", responses=answers(list[GeoService]),
               openapi_extra=geo_query("jurisdiction_id"))
async def service_list(fmt: str, request: Request):
    async def work():
        query_params(request)
        return Many("service", await open311(request).services())

    return await _answer(fmt, "services", work)


@georeport.get("/services/{code}.{fmt}", summary="GET Service Definition", responses=answers(GeoServiceDefinition),
               openapi_extra=geo_query("jurisdiction_id"))
async def service_definition(code: str, fmt: str, request: Request):
    async def work():
        query_params(request)
        return await open311(request).service_definition(code)

    return await _answer(fmt, "service_definition", work)


@georeport.post("/requests.{fmt}", summary="POST Service Request (api_key, form-encoded)",
                responses=answers(list[GeoRequestCreated]), openapi_extra=geo_form(GeoRequestForm))
async def post_request(fmt: str, request: Request, at: NowDep):
    async def work():
        svc = open311(request)
        form, key = await form_params(request, REQUEST_FIELDS, attributes=True)
        integrator = await svc.keys.integrator(key)
        return Many("request", await svc.create_request(integrator, new_request(form), at))

    return await _answer(fmt, "service_requests", work)


@georeport.get("/requests.{fmt}", summary="GET Service Requests", responses=answers(list[GeoRequest]),
               openapi_extra=geo_query(*GEO_QUERY))
async def get_requests(fmt: str, request: Request, at: NowDep):
    async def work():
        svc, q = open311(request), query_params(request)
        reader = await svc.keys.reader(q.text("api_key", 200))
        return Many("request", await svc.requests(reader, request_query(q, at)))

    return await _answer(fmt, "service_requests", work)


@georeport.get("/requests/{rid}.{fmt}", summary="GET Service Request", responses=answers(list[GeoRequest]),
               openapi_extra=geo_query("api_key", "jurisdiction_id", "extensions"))
async def get_request(rid: str, fmt: str, request: Request):
    async def work():
        svc, q = open311(request), query_params(request)
        reader = await svc.keys.reader(q.text("api_key", 200))
        return Many("request", await svc.request(reader, rid, extensions(q)))

    return await _answer(fmt, "service_requests", work)


@georeport.get("/tokens/{token}.{fmt}", summary="GET service_request_id from a token",
               responses=answers(list[GeoToken]), openapi_extra=geo_query("api_key", "jurisdiction_id"))
async def get_token(token: str, fmt: str, request: Request):
    async def work():
        svc, q = open311(request), query_params(request)
        reader = await svc.keys.reader(q.text("api_key", 200))
        return Many("request", await svc.token(reader, token))

    return await _answer(fmt, "service_requests", work)


@georeport.get("/servicerequestupdates.{fmt}", summary="GET Service Request Updates (mySociety)",
               responses=answers(list[GeoUpdate]),
               openapi_extra=geo_query("api_key", "jurisdiction_id", "start_date", "end_date", "page", "page_size"))
async def get_updates(fmt: str, request: Request, at: NowDep):
    async def work():
        svc, q = open311(request), query_params(request)
        integrator = await svc.keys.integrator(q.text("api_key", 200))
        return Many("request_update", await svc.updates(integrator, update_query(q, at)))

    return await _answer(fmt, "service_request_updates", work)


@georeport.post("/servicerequestupdates.{fmt}", summary="POST Service Request Update (mySociety)",
                responses=answers(list[GeoUpdateCreated]), openapi_extra=geo_form(GeoUpdateForm))
async def post_update(fmt: str, request: Request, at: NowDep):
    async def work():
        svc = open311(request)
        form, key = await form_params(request, UPDATE_FIELDS, attributes=False)
        integrator = await svc.keys.integrator(key)
        return Many("request_update", await svc.inbound_update(integrator, new_update(form), at))

    return await _answer(fmt, "service_request_updates", work)


@georeport.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                     include_in_schema=False)
async def elsewhere(rest: str, request: Request, at: NowDep):
    """Anything else under /open311/v2: the discovery document at the root, otherwise the standard's errors."""
    fmt = "json" if rest.endswith(".json") else "xml"
    if rest.strip("/") == "" and request.method == "GET":
        return await _answer("xml", "discovery", lambda: open311(request).discovery(_url(request), at))
    if _RESOURCE.match(rest):
        return error(fmt, 400, f"{request.method} 不适用于此资源 / {request.method} is not supported on this resource")
    return error(fmt, 404, "资源不存在（请求的地址无效）/ no such resource: the URL request is invalid")


# ---- the admin's keys, and what our staff see of an Open311 case ---------------------------------------------
@keys.post("/api-keys", status_code=201, summary="签发 Open311 接入密钥（只显示一次）", dependencies=[Depends(admin)],
           response_model=ApiKeyIssued)
async def create_key(body: ApiKeyIn, request: Request, at: NowDep):
    return await open311(request).keys.create_key(body, at)


@keys.get("/api-keys", summary="Open311 接入密钥列表（不含密钥本身）", dependencies=[Depends(admin)],
          response_model=list[ApiKeyView])
async def list_keys(request: Request):
    return await open311(request).keys.list_keys()


@keys.delete("/api-keys/{name}", summary="停用 Open311 接入密钥", dependencies=[Depends(admin)],
             response_model=ApiKeyView)
async def revoke_key(request: Request, name: Annotated[str, Path(min_length=1, max_length=48, pattern=r"^[\w.\-]+$")]):
    return await open311(request).keys.revoke_key(name)


@keys.get("/settings/open311", summary="Open311 设置：查询是否无需密钥（公开查询）", dependencies=[Depends(admin)],
          response_model=Open311Settings)
async def get_settings(request: Request):
    return await open311(request).keys.settings()


@keys.put("/settings/open311", summary="Open311 设置：开启或关闭公开查询（只返回公开字段）",
          dependencies=[Depends(admin)], response_model=Open311Settings)
async def set_settings(body: Open311SettingsIn, request: Request):
    return await open311(request).keys.set_settings(body.model_dump())


@keys.get("/cases/{case_id}/open311", summary="Open311 来源：接入方、诉求人联系方式与热线补充",
          response_model=CaseOpen311)
async def case_open311(request: Request, case_id: Annotated[int, Path(ge=1, le=2**31 - 1)], who: ActorDep,
                       at: NowDep):
    return await open311(request).case_open311(case_id, who, at)


router = APIRouter()
router.include_router(georeport, prefix="/open311/v2")
router.include_router(keys, prefix="/api/v1")

